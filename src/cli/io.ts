/** The streams a command writes to; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: NodeJS.ReadableStream;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  isTty: boolean;
}

export const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stdin: process.stdin,
  isTty: Boolean(process.stderr.isTTY),
};

/** A one-line progress indicator on a TTY; silent otherwise. */
export function progress(io: CliIo, label: string): { update(text: string): void; done(): void } {
  let last = 0;
  return {
    update(text) {
      if (!io.isTty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      io.stderr(`\r\x1b[2K${label} ${text}`);
    },
    done() {
      if (io.isTty) io.stderr('\r\x1b[2K');
    },
  };
}
