// Bundles the `tessera` CLI and its hash worker into out/cli (dependencies stay external).
import { build } from 'esbuild';

await build({
  entryPoints: { tessera: 'src/cli/bin.ts', 'hash-worker': 'src/main/services/hash-worker.ts', 'dawn-worker': 'src/main/gpu/dawn-worker.ts' },
  outdir: 'out/cli',
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
});
console.log('built out/cli/tessera.js');
