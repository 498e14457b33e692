/** The streams a command writes to; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: NodeJS.ReadableStream;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  isTty: boolean;
}

/** The process's streams, plus what went wrong writing to stdout (if anything). */
export interface ProcessIo extends CliIo {
  /** Set when stdout failed for a reason other than its reader going away (a full disk, say). */
  readonly stdoutError: () => Error | undefined;
}

/** True for the errors a write gets once the reading end of a pipe has closed (`tessera … | head -1`). */
export function isClosedPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END';
}

/**
 * Wraps process.stdout and process.stderr. A reader that goes away early is a normal end, as
 * it is for `cat`: the command finishes, further output is dropped, and the exit status is the
 * command's own. Any other write error is remembered (and reported once, on stderr).
 */
export function createProcessIo(proc: Pick<NodeJS.Process, 'stdout' | 'stderr' | 'stdin'> = process): ProcessIo {
  let stdoutOpen = true;
  let stderrOpen = true;
  let stdoutError: Error | undefined;
  proc.stdout.on('error', (err: Error) => {
    stdoutOpen = false;
    if (isClosedPipe(err) || stdoutError) return;
    stdoutError = err;
    if (stderrOpen) proc.stderr.write(`tessera: cannot write to standard output: ${err.message}\n`);
  });
  proc.stderr.on('error', () => {
    stderrOpen = false;
  });
  return {
    stdout: (t) => {
      if (stdoutOpen && !proc.stdout.destroyed) proc.stdout.write(t);
    },
    stderr: (t) => {
      if (stderrOpen && !proc.stderr.destroyed) proc.stderr.write(t);
    },
    stdin: proc.stdin,
    isTty: Boolean(proc.stderr.isTTY),
    stdoutError: () => stdoutError,
  };
}

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

/** Resolves at the first SIGINT or SIGTERM (Ctrl-C), removing its listeners, so a long-running command can shut down cleanly. */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
