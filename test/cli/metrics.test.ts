import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runMain } from './run.js';

/** A real HTTP server on 127.0.0.1 answering every request with `handle`; closed when the test ends. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

function metrics(args: string[]) {
  return runMain(['metrics', ...args]);
}

const TEXT = '# TYPE settle_applied_total counter\nsettle_applied_total 3\n';

describe('tessera metrics --url against a misbehaving endpoint: one line, exit 1, nothing printed', () => {
  it('prints a good answer exactly', async () => {
    const url = await serve((_, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(TEXT));
    expect(await metrics(['--url', url])).toEqual({ code: 0, stdout: TEXT, stderr: '' });
  });

  it('a body that never finishes times out', async () => {
    const url = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('# HELP partial\n'); // and then nothing
    });
    const started = performance.now();
    const r = await metrics(['--url', url, '--timeout', '0.5']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${url}: no complete answer within 0.5 s (see --timeout)\n`,
    });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('a connection dropped mid-body', async () => {
    const url = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10000' });
      res.write('settle_applied_total 3\n', () => res.socket?.destroy());
    });
    const r = await metrics(['--url', url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(`^tessera: ${url}: the connection dropped while the answer was being read \\([^\\n]+\\)\\n$`),
    );
  });

  it('a body over 16 MiB, declared or streamed', async () => {
    const declared = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(64 << 20) });
      res.write('a');
    });
    expect(await metrics(['--url', declared])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${declared}: the answer is ${64 << 20} bytes, over the 16 MiB limit\n`,
    });
    const chunk = Buffer.alloc(1 << 20, 'x');
    let sent = 0;
    const streamed = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // chunked: no length to check up front
      const pump = () => {
        while (sent < 40 && !res.destroyed) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    expect(await metrics(['--url', streamed])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${streamed}: the answer is over the 16 MiB limit\n`,
    });
    expect(sent).toBeLessThan(40); // it stopped reading rather than taking all 40 MiB
  });

  it('an answer that is not text: by content type, by invalid UTF-8, by control bytes', async () => {
    const binary = await serve((_, res) =>
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from([0, 1, 2, 255])),
    );
    expect(await metrics(['--url', binary])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${binary}: answered application/octet-stream, not text; is this a metrics endpoint?\n`,
    });
    const latin1 = await serve((_, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.from([0x61, 0xe9, 0x0a])),
    );
    expect(await metrics(['--url', latin1])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${latin1}: the answer is not UTF-8 text; is this a metrics endpoint?\n`,
    });
    const nul = await serve((_, res) => res.end(Buffer.from('settle_applied_total 3\n\0\x1b[2J')));
    expect(await metrics(['--url', nul])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${nul}: the answer holds binary (control) bytes, not metrics text\n`,
    });
  });

  it('an HTTP error status, an unreachable port, and bad flags', async () => {
    const missing = await serve((_, res) => res.writeHead(404).end('no'));
    expect(await metrics(['--url', missing])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${missing}: answered HTTP 404 Not Found\n`,
    });
    // A port that was just free: nothing listens on it.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const freePort = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const down = `http://127.0.0.1:${freePort}/metrics`;
    expect(await metrics(['--url', down])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tessera: ${down}: cannot reach it (ECONNREFUSED)\n`,
    });
    expect((await metrics(['--url', 'ftp://127.0.0.1/metrics'])).stderr).toBe(
      'tessera: --url must be an http:// or https:// URL, got "ftp://127.0.0.1/metrics"\n',
    );
    expect((await metrics(['--url', down, '--timeout', '-1'])).stderr).toBe(
      'tessera: --timeout must be a number of seconds above 0 and at most 3600, got "-1"\n',
    );
    expect((await metrics(['--timeout', '5'])).stderr).toBe('tessera: --timeout applies only with --url\n');
  });
});
