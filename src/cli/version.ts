import { readFileSync } from 'node:fs';

/** Set by scripts/build-cli.mjs (esbuild `define`) in the bundled CLI; absent when run from source. */
declare const __TESSERA_VERSION__: string | undefined;

/** The package version: baked into the bundle at build time, read from package.json when run from source. */
export function cliVersion(): string {
  if (typeof __TESSERA_VERSION__ === 'string') return __TESSERA_VERSION__;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
