import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pseudoRandomBytes } from '../support/data.js';
import { _electron as electron, type ElectronApplication, type Page } from '@playwright/test';
import { expect, root, test } from './fixtures.js';

/**
 * The desktop app driven through Playwright's Electron support: the hardened window, a
 * contract call over IPC, and the tray's courier flush run by the main process. It needs the
 * Electron binary (the `electron` package downloads it at install) and the build in out/
 * (`npm run build`, which the test command runs first).
 */

/** The Electron binary's path, or why there is none. */
function electronBinary(): { path: string } | { missing: string } {
  let path: unknown;
  try {
    path = createRequire(import.meta.url)('electron');
  } catch (err) {
    return {
      missing: `no Electron binary installed (require('electron') failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    };
  }
  if (typeof path !== 'string' || !existsSync(path))
    return {
      missing: `no Electron binary installed (require('electron') returned ${String(path)}, which does not exist)`,
    };
  return { path };
}

const binary = electronBinary();
const skipReason =
  'missing' in binary
    ? binary.missing
    : !existsSync(join(root, 'out/main/index.js'))
      ? 'the desktop app is not built (out/main/index.js): run npm run build first'
      : undefined;

/** What the main process exposes to this spec when TESSERA_E2E=1 (src/main/electron/main.ts). */
interface E2EHooks {
  webPreferences(): Record<string, unknown>;
  trayMenu():
    { status: string; statusLine: string; items: { id: string; label: string; enabled: boolean }[] } | undefined;
  trayFlush(): Promise<{ title: string; body: string }> | undefined;
}
type WithHooks = typeof globalThis & { __tesseraE2E: E2EHooks };
/** The few page globals these checks touch (this file compiles without the DOM library). */
interface PageGlobals {
  open(url: string): unknown;
  location: { href: string };
  document: { createElement(tag: 'script'): { textContent: string }; head: { appendChild(node: unknown): unknown } };
}
type Envelope = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };
type WithApi = typeof globalThis & {
  tessera: {
    call(channel: string, args: unknown[]): Promise<Envelope>;
    on(event: string, l: (p: unknown) => void): () => void;
  };
};

/** A contract call from the page over the preload's bridge: the main process's envelope, as the renderer's client receives it. */
function ipcEnvelope(page: Page, channel: string, ...args: unknown[]): Promise<Envelope> {
  return page.evaluate(([c, a]) => (globalThis as WithApi).tessera.call(c as string, a as unknown[]), [
    channel,
    args,
  ] as const);
}

/** The result of a call that must succeed. */
async function ipcCall(page: Page, channel: string, ...args: unknown[]): Promise<unknown> {
  const env = await ipcEnvelope(page, channel, ...args);
  if (!env.ok) throw new Error(`${channel}: ${env.error.code}: ${env.error.message}`);
  return env.result;
}

async function launch(dataDir: string): Promise<{ app: ElectronApplication; page: Page }> {
  const app = await electron.launch({
    executablePath: (binary as { path: string }).path,
    // The repository is the app (package.json "main" is out/main/index.js). Chromium refuses
    // to start as root without --no-sandbox (containers); the renderer's sandbox option stays on.
    args: [root, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
    env: { ...process.env, TESSERA_DATA_DIR: dataDir, TESSERA_E2E: '1' },
  });
  const page = await app.firstWindow();
  await expect.poll(() => page.title(), { timeout: 30_000 }).toBe('Tessera');
  return { app, page };
}

test.describe('desktop app (Electron)', () => {
  test.skip(skipReason !== undefined, skipReason ?? '');

  test('opens the window with the hardened web preferences; the page has the two contract verbs and nothing else', async ({
    dataDir,
  }, testInfo) => {
    test.setTimeout(120_000);
    const { app, page } = await launch(dataDir);
    try {
      const prefs = await app.evaluate(() => (globalThis as WithHooks).__tesseraE2E.webPreferences());
      expect(prefs).toMatchObject({
        sandbox: true,
        contextIsolation: true,
        nodeIntegration: false,
        webSecurity: true,
        webviewTag: false,
      });
      expect(await page.evaluate(() => Object.keys((globalThis as WithApi).tessera).sort())).toEqual(['call', 'on']);
      expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
      expect(await page.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
      // No pop-ups, no inline scripts (the CSP), no navigation away.
      expect(
        await page.evaluate(() => (globalThis as unknown as PageGlobals).open('https://example.com') === null),
      ).toBe(true);
      expect(
        await page.evaluate(() => {
          const { document } = globalThis as unknown as PageGlobals;
          const s = document.createElement('script');
          s.textContent = '(globalThis).__inlineRan = true';
          document.head.appendChild(s);
          return (globalThis as { __inlineRan?: boolean }).__inlineRan === true;
        }),
      ).toBe(false);
      const before = page.url();
      await page.evaluate(() => {
        (globalThis as unknown as PageGlobals).location.href = 'https://example.com/';
      });
      await page.waitForTimeout(500);
      expect(page.url()).toBe(before);
      await page.screenshot({ path: testInfo.outputPath('electron-window.png') });
    } finally {
      await app.close();
    }
  });

  test('a contract call from the page works over IPC, and a bad one answers with its stable code', async ({
    dataDir,
  }) => {
    test.setTimeout(120_000);
    const { app, page } = await launch(dataDir);
    try {
      const info = (await ipcCall(page, 'app:info')) as { name: string; version: string };
      expect(info.name).toBe('Tessera');
      expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
      const status = (await ipcCall(page, 'node:status')) as { joined: boolean };
      expect(status.joined).toBe(false);
      const badEnv = await ipcEnvelope(page, 'settings:set', { threads: -1 });
      const bad = badEnv.ok ? 'no error' : badEnv.error.code;
      expect(bad).toBe('BAD_ARGUMENTS');
      const diag = (await ipcCall(page, 'diagnostics:report')) as { checks: { id: string }[] };
      expect(diag.checks.map((c) => c.id)).toContain('key_storage');
    } finally {
      await app.close();
    }
  });

  test('the tray\'s "Flush courier receipts" runs the flush in the main process and reports sent / credited / still pending / failed', async ({
    cli,
    dataDir,
    makeTempDir,
  }) => {
    test.setTimeout(240_000);
    const seed = Number(process.env.TESSERA_E2E_SEED ?? Date.now() % 2 ** 31);
    console.log(`electron tray flush seed ${seed} (TESSERA_E2E_SEED=${seed} replays it)`);
    const bundles = makeTempDir('tessera-e2e-bundles-');
    for (let i = 0; i < 2; i++) {
      const file = join(bundles, `bundle-${i}.bin`);
      writeFileSync(file, Buffer.from(pseudoRandomBytes(4096 + i * 1000, seed + i)));
      const r = await cli.run([
        'courier',
        'send',
        file,
        `e2e-sender-${i}`,
        '--data-dir',
        dataDir,
        '--fresh-ledger',
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
    }
    const { app, page } = await launch(dataDir);
    try {
      await ipcCall(page, 'node:join', { kind: 'practice' });
      await expect
        .poll(async () => ((await ipcCall(page, 'node:status')) as { state: string }).state, { timeout: 120_000 })
        .toBe('connected');
      await expect
        .poll(async () => (await app.evaluate(() => (globalThis as WithHooks).__tesseraE2E.trayMenu()))?.items[0], {
          timeout: 15_000,
        })
        .toEqual({ id: 'flush', label: 'Flush courier receipts (2 pending)', enabled: true });

      const note = await app.evaluate(() => (globalThis as WithHooks).__tesseraE2E.trayFlush());
      expect(note?.title).toBe('Courier receipts flushed');
      expect(note?.body).toMatch(/^Sent 2, credited [\d.]+ CPC, .*0 still pending, 0 failed\.$/);
      const pending = (await ipcCall(page, 'courier:list', { pending_only: true })) as { rows: unknown[] };
      expect(pending.rows).toHaveLength(0);
      expect((await app.evaluate(() => (globalThis as WithHooks).__tesseraE2E.trayMenu()))?.items[0]).toMatchObject({
        id: 'flush',
        enabled: false,
      });
    } finally {
      await app.close();
    }
  });
});
