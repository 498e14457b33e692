import { expect, numberOf, test } from './fixtures.js';

/**
 * In the page, from its first script: every text the status pill and the startup banner showed,
 * so a state shown for a moment between two of Playwright's checks is not missed.
 */
const RECORD_TEXTS = `(() => {
  window.__shown = { pill: [], banner: [] };
  const note = (list, text) => { if (text && list[list.length - 1] !== text) list.push(text); };
  new MutationObserver(() => {
    note(window.__shown.pill, document.querySelector('[aria-label="Node status"]')?.textContent?.trim());
    note(window.__shown.banner, document.querySelector('[aria-label="Getting ready to earn"]')?.textContent?.trim());
  }).observe(document, { subtree: true, childList: true, characterData: true });
})()`;

interface Shown {
  pill: string[];
  banner: string[];
}

test.describe('launched with the practice market', () => {
  test('never says "Not joined" while the practice market starts, and opens the Dashboard by itself with the first earning', async ({
    page,
    node,
  }) => {
    test.setTimeout(180_000);
    await page.addInitScript(RECORD_TEXTS);
    await page.goto(node.url);
    // No click: the app goes from Join (opened at start, not joined yet) to the Dashboard once joined.
    await expect(page.getByRole('heading', { level: 1, name: 'Dashboard', exact: true })).toBeVisible({
      timeout: 150_000,
    });
    await expect(page).toHaveURL(/#\/dashboard$/);
    await expect
      .poll(() => numberOf(page, 'earnings-today'), { timeout: 60_000, message: 'the first earning shows' })
      .toBeGreaterThan(0);
    await expect(page.getByRole('status', { name: 'Getting ready to earn' })).toHaveCount(0);
    const shown = (await page.evaluate(() => (globalThis as unknown as { __shown: Shown }).__shown)) as Shown;
    expect(shown.pill.filter((t) => t.startsWith('Not joined'))).toEqual([]);
  });
});

test.describe('joining the practice market from the Join screen', () => {
  test.use({ headlessOptions: { join: false } });

  test('shows "Starting the practice market…" with its progress, then the Dashboard', async ({ app: page, node }) => {
    test.setTimeout(180_000);
    await page.addInitScript(RECORD_TEXTS);
    // Opened again from the printed URL (no screen in it), as a person would, now with the recorder in place.
    await page.goto(node.url);
    await expect(page.getByRole('heading', { level: 1, name: 'Join', exact: true })).toBeVisible();
    await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^Not joined/);
    await page.getByRole('button', { name: 'Join practice market' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Dashboard', exact: true })).toBeVisible({
      timeout: 150_000,
    });
    const shown = (await page.evaluate(() => (globalThis as unknown as { __shown: Shown }).__shown)) as Shown;
    // The banner said what was happening, step by step, while the market started.
    expect(shown.banner.some((t) => t.startsWith('Starting the practice market…'))).toBe(true);
    expect(shown.banner.some((t) => /store|tables/.test(t))).toBe(true);
    // The status pill said it too, not "Not joined".
    const starting = shown.pill.findIndex((t) => t.startsWith('Connecting · starting the practice market'));
    expect(starting, `status pill texts: ${shown.pill.join(' | ')}`).toBeGreaterThan(0);
    expect(shown.pill[starting - 1]).toMatch(/^Not joined/);
    expect(shown.pill.slice(starting).filter((t) => t.startsWith('Not joined'))).toEqual([]);
  });

  test('stays on a screen the person chose while the node joins', async ({ app: page }) => {
    test.setTimeout(180_000);
    await page.getByRole('button', { name: 'Join practice market' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Settings', exact: true })).toBeVisible();
    await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Earning|Connected)/, {
      timeout: 150_000,
    });
    await expect(page).toHaveURL(/#\/settings$/);
  });
});

test.describe('a screen named while the node status is on its way', () => {
  test.use({ headlessOptions: { join: false } });

  test('is kept when the start screen is chosen before the browser delivers the address change', async ({
    page,
    node,
  }) => {
    // The node's answers are held until the screen has been named, so the status (which picks
    // the start screen) arrives after the address changed; the page's hashchange handlers run
    // late, as on a busy machine, so the start screen is chosen before they see the change.
    const held: (() => void)[] = [];
    let holding = true;
    await page.routeWebSocket(/\/api/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((m) => (holding ? held.push(() => ws.send(m)) : ws.send(m)));
      ws.onMessage((m) => server.send(m));
    });
    await page.addInitScript(`(() => {
      let release;
      const gate = new Promise((r) => (release = r));
      window.__releaseHashChange = release;
      const add = window.addEventListener.bind(window);
      window.addEventListener = (type, fn, opts) =>
        type === 'hashchange' ? add(type, (e) => gate.then(() => fn(e)), opts) : add(type, fn, opts);
    })()`);
    await page.goto(node.url);
    await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
    await page.evaluate(() => ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/jobs'));
    // Deliver what was held, then wait for a screen to be shown before the late handlers run.
    holding = false;
    for (const send of held.splice(0)) send();
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await page.evaluate(() => (globalThis as unknown as { __releaseHashChange(): void }).__releaseHashChange());
    await expect(page.getByRole('heading', { level: 1, name: 'Jobs', exact: true })).toBeVisible();
    await expect(page).toHaveURL(/#\/jobs$/);
  });
});
