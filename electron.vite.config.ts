import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve('src/main/electron/main.ts'),
          // Worker threads load this file by path, so it is its own entry next to index.js.
          'hash-worker': resolve('src/main/services/hash-worker.ts'),
          // The headless GPU host (Dawn) runs in a worker thread loaded by path, like the hash worker.
          'dawn-worker': resolve('src/main/gpu/dawn-worker.ts'),
          // Job digests (plain + keyed BLAKE3, Synthetic matrices) for the provider service.
          'digest-worker': resolve('src/node/digest/digest-worker.ts'),
          // The practice market runs in its own thread (its embedded store never blocks the node's).
          'local-market-worker': resolve('src/market/local-market-worker.ts'),
        },
        // Chunks stay beside the entries: worker threads are found relative to the module that starts them.
        output: { entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      // A sandboxed preload can require only 'electron': bundle everything else.
      externalizeDeps: false,
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts'), compute: resolve('src/preload/compute.ts') },
        // Sandboxed preload scripts must be CommonJS.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'src/renderer',
    plugins: [react()],
    build: {
      outDir: 'out/renderer',
      // electron-vite leaves the renderer unminified; the page is served over HTTP in headless mode too.
      minify: true,
      rollupOptions: {
        input: { index: resolve('src/renderer/index.html'), compute: resolve('src/renderer/compute/index.html') },
      },
    },
  },
});
