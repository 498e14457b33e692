import { request } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createMetricsRegistry } from '../../src/main/metrics.js';
import { MetricsServer } from '../../src/main/services/metrics-server.js';

/** GET with an explicit Host header (what a rebinding page's browser sends). */
function get(url: string, host: string | undefined): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'GET',
        setHost: host === undefined ? false : true,
        headers: host === undefined ? {} : { host },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('/metrics Host check (DNS rebinding)', () => {
  it('answers Host 127.0.0.1:port and localhost:port; refuses another name or another port with 421', async () => {
    const registry = createMetricsRegistry();
    const server = await MetricsServer.start(registry, 0);
    onTestFinished(() => server.close());
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      const res = await get(server.url, host);
      expect([host, res.status]).toEqual([host, 200]);
    }
    for (const host of [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1:${Number(port) + 1}`,
      '127.0.0.1',
      `localhost.evil.example:${port}`,
    ]) {
      const res = await get(server.url, host);
      expect([host, res.status]).toEqual([host, 421]);
      expect(res.body).not.toContain('# HELP');
    }
    // No Host at all: Node's HTTP/1.1 server refuses it before the handler (400).
    const bare = await get(server.url, undefined);
    expect(bare.status).toBe(400);
  });
});
