import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { build } from 'vite';

const root = resolve(import.meta.dirname, '../../../src/renderer/compute');

/** Bundles the compute page (src/renderer/compute/index.html) into `outDir`, as the app build does. */
export async function buildComputePage(outDir: string): Promise<void> {
  await build({
    root,
    base: './',
    configFile: false,
    logLevel: 'silent',
    build: { outDir, emptyOutDir: true, rollupOptions: { input: join(root, 'index.html') } },
  });
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Serves `dir` on http://127.0.0.1 (a random port); resolves with the server and its base URL. */
export async function serveDir(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const file = resolve(dir, `.${new URL(req.url ?? '/', 'http://127.0.0.1').pathname}`);
      const target = file === dir ? join(dir, 'index.html') : file;
      try {
        if (!target.startsWith(dir + sep) || !(await stat(target)).isFile()) throw new Error('not found');
        res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream' });
        createReadStream(target).pipe(res);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
