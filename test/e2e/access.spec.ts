import WebSocket from 'ws';
import { contractClient, expect, test, type HeadlessNode } from './fixtures.js';

test.use({ headlessOptions: { join: false } });

/** Opens a WebSocket to /api; resolves 'open' or the HTTP status the upgrade was refused with. */
function tryUpgrade(url: string, headers: Record<string, string>): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

function wrongToken(node: HeadlessNode): string {
  // Same length, one hex digit changed: a near miss, not an empty value.
  const last = node.token.at(-1) === '0' ? '1' : '0';
  return node.token.slice(0, -1) + last;
}

test('the page without a token, or with a wrong one, is refused with 401 and no UI', async ({ page, node }) => {
  for (const url of [`${node.origin}/`, `${node.origin}/?token=${wrongToken(node)}`, `${node.origin}/index.html`]) {
    const res = await page.goto(url);
    expect(res?.status(), url).toBe(401);
    await expect(page.locator('body')).toContainText('tessera headless');
    await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);
  }
  // The right token: a session cookie (HttpOnly, SameSite=Strict, Path=/).
  const exchange = await fetch(node.url, { redirect: 'manual' });
  expect(exchange.status).toBe(303);
  const setCookie = exchange.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/^tessera_session=/);
  expect(setCookie).toMatch(/;\s*HttpOnly/i);
  expect(setCookie).toMatch(/;\s*SameSite=Strict/i);
  expect(setCookie).toMatch(/;\s*Path=\//i);
  const cookie = setCookie.split(';')[0] as string;

  // Static assets are behind the same check: refused without the cookie, served with it.
  const html = await (await fetch(`${node.origin}/`, { headers: { cookie } })).text();
  const asset = /(?:src|href)="\.?(\/assets\/[^"]+)"/.exec(html)?.[1];
  expect(asset, 'the app page links a built asset').toBeTruthy();
  expect((await fetch(`${node.origin}${asset}`)).status).toBe(401);
  expect((await fetch(`${node.origin}${asset}`, { headers: { cookie: 'tessera_session=0000' } })).status).toBe(401);
  expect((await fetch(`${node.origin}${asset}`, { headers: { cookie } })).status).toBe(200);

  // In the browser: the token URL opens the app and the token leaves the address bar.
  const res = await page.goto(node.url);
  expect(res?.status()).toBe(200);
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  expect(page.url()).not.toContain('token=');
});

test('the /api WebSocket refuses a missing or wrong token and a foreign Origin', async ({ node }) => {
  const ws = `${node.origin.replace(/^http/, 'ws')}/api`;
  const origin = { Origin: node.origin };
  expect(await tryUpgrade(ws, origin)).toBe(401);
  expect(await tryUpgrade(`${ws}?token=${wrongToken(node)}`, origin)).toBe(401);
  expect(await tryUpgrade(`${ws}?token=${node.token}`, { Origin: 'http://evil.example' })).not.toBe('open');
  expect(
    await tryUpgrade(`${ws}?token=${node.token}`, { Origin: node.origin.replace('127.0.0.1', 'localhost') }),
  ).not.toBe('open');
  expect(await tryUpgrade(`${ws}?token=${node.token}`, {})).not.toBe('open');

  // The right token and Origin: the socket opens and a contract call answers.
  expect(await tryUpgrade(`${ws}?token=${node.token}`, origin)).toBe('open');
  const api = await contractClient(node);
  try {
    const status = await api.call('node:status');
    expect(status.joined).toBe(false);
  } finally {
    api.close();
  }
});
