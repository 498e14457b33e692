// Bundles the `tessera` CLI and its hash worker into out/cli (dependencies stay external).
import { build } from 'esbuild';

await build({
  entryPoints: { tessera: 'src/cli/bin.ts', 'hash-worker': 'src/main/services/hash-worker.ts' },
  outdir: 'out/cli',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
console.log('built out/cli/tessera.js');
