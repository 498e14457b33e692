import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/index.js';
import type { CliIo } from '../../src/cli/io.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** tsx's loader by absolute URL, so the CLI also runs with a working directory outside the repository. */
export const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

/** Runs the `tessera` CLI from source in a child process. */
export function tessera(
  args: string[],
  opts: { input?: string | Uint8Array; cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const r = spawnSync(process.execPath, ['--import', tsxLoader, `${root}/src/cli/bin.ts`, ...args], {
    cwd: opts.cwd ?? root,
    input: opts.input,
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A CliIo for a command run in this process: no stdin, not a terminal; `out()` and `err()` give what it wrote. */
export function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    stdin: new PassThrough(),
    isTty: false,
  };
  return { io, out: () => out.join(''), err: () => err.join('') };
}

/** Runs the CLI's `main` in this process with a captured CliIo. */
export async function runMain(args: string[]) {
  const o = captureIo();
  const code = await main(args, o.io);
  return { code, stdout: o.out(), stderr: o.err() };
}
