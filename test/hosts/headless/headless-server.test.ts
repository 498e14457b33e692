import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import {
  startHeadless,
  type HeadlessOptions,
  type HeadlessServer,
} from '../../../src/hosts/headless/headless-server.js';
import { ConfSettingsStore } from '../../../src/hosts/headless/conf-settings-store.js';
import { HEADLESS_CSP } from '../../../src/hosts/headless/static-files.js';
import type { JobRow } from '../../../src/shared/contract.js';
import { WsContractClient } from '../../../src/shared/ws-contract-client.js';
import { startMarket } from '../../support/market.js';
import { tempDir } from '../../support/temp-dir.js';

/** A renderer build in a temp dir: index.html, a script, a nested dir, a symlink pointing out of it, and a secret beside it. */
function fakeRenderer(base: string): string {
  const dir = join(base, 'renderer');
  mkdirSync(join(dir, 'assets', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tessera</title><div id="root"></div>\n');
  writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log("app");\n');
  writeFileSync(join(dir, 'assets', 'style.css'), 'body{}\n');
  writeFileSync(join(base, 'secret.txt'), 'do not serve\n');
  symlinkSync(join(base, 'secret.txt'), join(dir, 'assets', 'link.txt'));
  return dir;
}

async function start(o: Partial<HeadlessOptions> & { base: string }): Promise<HeadlessServer> {
  const server = await startHeadless({
    port: 0,
    dataDir: join(o.base, 'data'),
    join: false,
    gpu: false,
    metricsPort: 0,
    rendererDir: o.rendererDir ?? fakeRenderer(o.base),
    practiceMarket: { inMemoryStore: true, customer: { intervalMs: 300 }, validator: { batchMs: 0 } },
    ...o,
  });
  onTestFinished(() => server.close());
  return server;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw GET (node:http sends the path exactly as given: no URL normalisation). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Opens the socket; resolves with the socket or the HTTP status of a refused upgrade. */
function openSocket(url: string, headers: Record<string, string>): Promise<{ ws?: WebSocket; refused?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', () => resolve({ refused: -1 }));
  });
}

async function sessionCookie(s: HeadlessServer): Promise<string> {
  const r = await get(s.port, `/?token=${s.token}`);
  const set = r.headers['set-cookie']?.[0] ?? '';
  return set.split(';')[0] as string;
}

describe('headless server: access', () => {
  it('answers 401 without a token on /, on a static file and on the socket upgrade', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    const root = await get(s.port, '/', { accept: 'text/html' });
    expect(root.status).toBe(401);
    expect(root.body).toMatch(/open the URL printed by/i);
    expect(root.body).not.toContain('Tessera</title><div id="root">');
    const asset = await get(s.port, '/assets/index-abc.js');
    expect(asset.status).toBe(401);
    expect(asset.body).not.toContain('console.log');
    expect(JSON.parse(asset.body)).toEqual({ error: expect.stringContaining('tessera headless') });
    const sock = await openSocket(`ws://127.0.0.1:${s.port}/api`, { origin: s.origin });
    expect(sock.refused).toBe(401);
  });

  it('answers 401 to a wrong token or a wrong cookie, on pages and on the socket', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    const wrong = s.token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
    expect((await get(s.port, `/?token=${wrong}`)).status).toBe(401);
    expect((await get(s.port, `/?token=${s.token.slice(0, 63)}`)).status).toBe(401);
    expect((await get(s.port, '/', { cookie: 'tessera_session=0000' })).status).toBe(401);
    expect((await openSocket(`ws://127.0.0.1:${s.port}/api?token=${wrong}`, { origin: s.origin })).refused).toBe(401);
    expect(
      (await openSocket(`ws://127.0.0.1:${s.port}/api`, { origin: s.origin, cookie: 'tessera_session=0000' })).refused,
    ).toBe(401);
  });

  it('exchanges the token for a cookie with exactly HttpOnly, SameSite=Strict, Path=/ and a 303 to /', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const r = await get(s.port, `/?token=${s.token}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const cookies = r.headers['set-cookie'] ?? [];
    expect(cookies).toHaveLength(1);
    const [pair, ...attrs] = (cookies[0] as string).split('; ');
    expect(pair).toMatch(/^tessera_session=[0-9a-f]{64}$/);
    // The cookie is derived from the token, not the token itself (it is never echoed back).
    expect(pair).not.toContain(s.token);
    expect(attrs).toEqual(['HttpOnly', 'SameSite=Strict', 'Path=/']);
  });

  it('serves the renderer with the cookie: content types, the CSP header, no directory listing', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    const cookie = await sessionCookie(s);
    const index = await get(s.port, '/', { cookie });
    expect(index.status).toBe(200);
    expect(index.body).toContain('<div id="root">');
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['content-security-policy']).toBe(HEADLESS_CSP);
    expect(HEADLESS_CSP).toContain("script-src 'self'");
    expect(HEADLESS_CSP).toContain("frame-ancestors 'none'");
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const js = await get(s.port, '/assets/index-abc.js', { cookie });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await get(s.port, '/assets/style.css', { cookie })).headers['content-type']).toBe(
      'text/css; charset=utf-8',
    );
    expect((await get(s.port, '/assets/', { cookie })).status).toBe(404);
    expect((await get(s.port, '/assets', { cookie })).status).toBe(404);
    expect((await get(s.port, '/assets/sub', { cookie })).status).toBe(404);
    expect((await get(s.port, '/nope.js', { cookie })).status).toBe(404);
    // The 401 page and every other answer carry the CSP too.
    expect((await get(s.port, '/')).headers['content-security-policy']).toBe(HEADLESS_CSP);
  });

  it('refuses path traversal, encoded or not, and symlinks out of the build', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    const cookie = await sessionCookie(s);
    for (const path of [
      '/../package.json',
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/%00index.html',
      '/assets/link.txt',
      '/%E0%A4%A',
    ]) {
      const r = await get(s.port, path, { cookie });
      expect([400, 404], path).toContain(r.status);
      expect(r.body, path).not.toContain('do not serve');
    }
  });

  it('refuses the socket with a bad or missing Origin even with the cookie; the own origin opens it', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    const cookie = await sessionCookie(s);
    const url = `ws://127.0.0.1:${s.port}/api`;
    expect((await openSocket(url, { cookie, origin: 'http://evil.example' })).refused).toBe(401);
    expect((await openSocket(url, { cookie, origin: `http://127.0.0.1:${s.port + 1}` })).refused).toBe(401);
    expect((await openSocket(url, { cookie })).refused).toBe(401);
    const ok = await openSocket(url, { cookie, origin: s.origin });
    expect(ok.ws).toBeDefined();
    const client = new WsContractClient(ok.ws as unknown as ConstructorParameters<typeof WsContractClient>[0]);
    expect((await client.call('node:status')).joined).toBe(false);
    client.close();
  });

  it('refuses a Host header that is not this loopback server (DNS rebinding)', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    const r = await get(s.port, `/?token=${s.token}`, { host: `attacker.example:${s.port}` });
    expect(r.status).toBe(400);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('keeps the token in DATA_DIR/headless-token with mode 0600 and reuses it across restarts', async () => {
    const base = tempDir('tessera-hl-');
    const renderer = fakeRenderer(base);
    const first = await start({ base, rendererDir: renderer });
    const file = join(base, 'data', 'headless-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.token);
    await first.close();
    chmodSync(file, 0o644);
    const second = await start({ base, rendererDir: renderer });
    expect(second.token).toBe(first.token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('fails at start with one line when the renderer is not built', async () => {
    const base = tempDir('tessera-hl-');
    await expect(start({ base, rendererDir: join(base, 'missing') })).rejects.toThrow(
      /^the app's web UI is not built \(no .*index\.html\): run npm run build first$/,
    );
  });
});

describe('headless server: the contract over the socket', () => {
  it('joins the practice market and a job finishes (job:finished) within seconds', async () => {
    const s = await start({ base: tempDir('tessera-hl-') });
    const cookie = await sessionCookie(s);
    const { ws } = await openSocket(`ws://127.0.0.1:${s.port}/api`, { cookie, origin: s.origin });
    const client = new WsContractClient(ws as unknown as ConstructorParameters<typeof WsContractClient>[0]);
    onTestFinished(() => client.close());
    const progress: { job_id: string; done: number; total: number }[] = [];
    client.on('job:progress', (p) => progress.push(p));
    const finished = new Promise<JobRow>((resolve) => client.on('job:finished', (row) => resolve(row)));
    const t0 = Date.now();
    const status = await client.call('node:join', { kind: 'practice' });
    expect(status.joined).toBe(true);
    expect(status.market).toEqual({ kind: 'practice' });
    const row = await Promise.race([
      finished,
      new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('no job:finished within 30 s')), 30_000)),
    ]);
    console.log(`join practice → first job:finished: ${Date.now() - t0} ms`);
    expect(row.status).toBe('accepted');
    // job:progress went out for that job: none done at the start, all of it when the result was ready (total: its input bytes, at least 1).
    const mine = progress.filter((p) => p.job_id === row.job_id);
    const total = mine[0]?.total ?? -1;
    expect(total).toBeGreaterThanOrEqual(1);
    expect(mine).toEqual([
      { job_id: row.job_id, done: 0, total },
      { job_id: row.job_id, done: total, total },
    ]);
    expect((await client.call('node:info')).headless).toBe(true);
    expect(await client.call('jobs:workloads')).toContain(row.workload);
    expect((await client.call('jobs:list', { limit: 10 })).rows.some((r) => r.job_id === row.job_id)).toBe(true);
    const left = await client.call('node:leave');
    expect(left.joined).toBe(false);
  });
});

describe('headless server: a market given as several instances', () => {
  it('joins --market A,B (A down) through B, says which instance it is on, and does the same from a market_url list', async () => {
    const m = await startMarket(join(tempDir('tessera-hl-instances-'), 'm'), {});
    onTestFinished(() => m.close());
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const down = 'http://127.0.0.1:1';

    const s = await start({ base: tempDir('tessera-hl-'), market: [`${down},${m.base}`], join: true });
    await s.joined;
    await waitFor(s.node, () => s.node.status().state === 'connected');
    expect(s.node.status()).toMatchObject({ market: { kind: 'url', url: [down, m.base] }, endpoint: m.base });
    expect(s.node.marketUrls()).toEqual([down, m.base]);
    await s.close();

    // No --market: the market_url setting's list, in its order.
    const base = tempDir('tessera-hl-');
    mkdirSync(join(base, 'data'), { recursive: true });
    new ConfSettingsStore(join(base, 'data')).set({ market_url: [down, m.base] });
    const t = await start({ base, join: true });
    await t.joined;
    await waitFor(t.node, () => t.node.status().state === 'connected');
    expect(t.node.status()).toMatchObject({ market: { kind: 'url', url: [down, m.base] }, endpoint: m.base });
  }, 60_000);

  it('a bad URL among them is one BAD_MARKET_URL line naming it, before the data dir is made', async () => {
    const base = tempDir('tessera-hl-');
    await expect(start({ base, market: ['http://127.0.0.1:1', 'http://a.example,mailto:x@y'] })).rejects.toMatchObject({
      code: 'BAD_MARKET_URL',
      message: '--market "mailto:x@y" must be an http://, https://, ws:// or wss:// URL, e.g. http://127.0.0.1:8080',
    });
    expect(existsSync(join(base, 'data'))).toBe(false);
  });
});

describe('headless server: pause by schedule', () => {
  it('pauses outside schedule_hours ("outside your schedule") and resumes when the hour is allowed', async () => {
    const base = tempDir('tessera-hl-');
    mkdirSync(join(base, 'data'), { recursive: true });
    writeFileSync(join(base, 'data', 'settings.json'), JSON.stringify({ schedule_hours: [3, 4] }));
    let hour = 10;
    const s = await start({ base, localHour: () => hour, scheduleCheckMs: 20 });
    expect(s.node.status()).toMatchObject({ paused: true, pause_reason: 'outside your schedule' });
    hour = 3;
    await waitFor(s.node, () => !s.node.status().paused);
    expect(s.node.status().pause_reason).toBeNull();
    // A change of the setting over the contract applies at the next check.
    s.node.settings.set({ schedule_hours: [5] });
    await waitFor(s.node, () => s.node.status().paused);
    expect(s.node.status().pause_reason).toBe('outside your schedule');
    s.node.settings.set({ schedule_hours: [] });
    await waitFor(s.node, () => !s.node.status().paused);
  });
});

/** Resolves once `pred` holds: now, or at the node:status event the node emits when it pauses or resumes. */
function waitFor(
  node: { events: { onDidEmit(l: (event: string) => void): () => void } },
  pred: () => boolean,
  ms = 30_000,
): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no node:status event within ${ms} ms made the condition hold`));
    }, ms);
    const off = node.events.onDidEmit((event) => {
      if (event !== 'node:status' || !pred()) return;
      off();
      clearTimeout(timer);
      resolve();
    });
  });
}
