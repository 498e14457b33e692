// Bundles the `tessera` CLI and its hash worker into out/cli (dependencies stay external).
// `--outdir DIR` builds elsewhere (the CLI tests build a private copy).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = values.outdir ?? 'out/cli';
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: {
    tessera: 'src/cli/bin.ts',
    'hash-worker': 'src/main/services/hash-worker.ts',
    'dawn-worker': 'src/main/gpu/dawn-worker.ts',
    'digest-worker': 'src/node/digest/digest-worker.ts',
    'local-market-worker': 'src/market/local-market-worker.ts',
  },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  // Chunks stay beside the entry: the worker pool finds hash-worker.js relative to its own file.
  chunkNames: 'chunk-[hash]',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  // `tessera --version` (src/cli/version.ts) reads this instead of package.json at run time.
  define: { __TESSERA_VERSION__: JSON.stringify(version) },
});
console.log(`built ${outdir}/tessera.js`);
