import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
