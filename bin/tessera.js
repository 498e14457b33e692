#!/usr/bin/env node
// The `tessera` command: runs the bundled CLI built by `npm run build` (or `npm run build:cli`).
import { existsSync } from 'node:fs';

const bundle = new URL('../out/cli/tessera.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('tessera: the CLI is not built yet; run `npm run build:cli` (or `npm run build`) first\n');
  process.exit(2);
}
await import(bundle.href);
