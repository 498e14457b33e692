import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** The Host names a loopback server answers to, with its port (as the headless UI's access check). */
const METRICS_HOSTS = ['127.0.0.1', 'localhost'];

function hostAllowed(host: string | undefined, port: number): boolean {
  return host !== undefined && METRICS_HOSTS.some((name) => host.toLowerCase() === `${name}:${port}`);
}

/** Serves `GET /metrics` on 127.0.0.1 only, while a node runs, to requests whose Host is 127.0.0.1 or localhost with its port. */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(registry: Registry, port = 0): Promise<MetricsServer> {
    let bound = 0;
    const server = createServer((req, res) => {
      // DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends its own Host; only ours is served.
      if (!hostAllowed(req.headers.host, bound)) {
        res
          .writeHead(421, { 'content-type': 'text/plain' })
          .end('misdirected request: metrics answer only to Host 127.0.0.1 or localhost on this port\n');
        return;
      }
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    bound = (server.address() as AddressInfo).port;
    return new MetricsServer(server, `http://127.0.0.1:${bound}/metrics`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
