import AxeBuilder from '@axe-core/playwright';
import type { Page, TestInfo } from '@playwright/test';
import { contractClient, expect, openScreen, test } from './fixtures.js';

test.use({ headlessOptions: { join: false } });

/** Nothing listens on these (port 1 and 2 on loopback): joining them leaves the node connecting. */
const A = 'http://127.0.0.1:1';
const B = 'http://127.0.0.1:2';

/** Serious or critical axe findings on the page as it is now. */
async function axeProblems(page: Page, where: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${where}: [${v.impact}] ${v.id} — ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

/** The screen as it is now, light and dark, at 1280 px and at 390 px wide. */
async function pictures(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const file = testInfo.outputPath(`${name}-${width}-${scheme}.png`);
      await page.screenshot({ path: file, fullPage: true });
      await testInfo.attach(`${name}-${width}-${scheme}`, { path: file, contentType: 'image/png' });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });
}

test('market address: several instances in Settings and on Join, each checked with an inline error naming the bad one', async ({
  app: page,
  node,
}, testInfo) => {
  test.setTimeout(120_000);
  const problems: string[] = [];

  // Settings: a bad instance among good ones is an error on the field naming it; nothing is saved.
  await openScreen(page, 'Settings');
  const field = page.getByRole('textbox', { name: 'Market address' });
  await expect(field).toHaveAccessibleDescription(/One or more instances of the same market, tried in order/);
  await field.fill(`${A}\nftp://files.example`);
  await page.getByRole('button', { name: 'Save settings' }).click();
  const error = `Market address "ftp://files.example" must be an http://, https://, ws:// or wss:// URL, e.g. http://127.0.0.1:8080.`;
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field).toHaveAccessibleDescription(error);
  await expect(field).toBeFocused();
  await expect(page.getByTestId('unsaved')).toContainText('Unsaved changes');
  problems.push(...(await axeProblems(page, 'Settings with an error')));
  await pictures(page, testInfo, 'settings-market-error');

  // Two good instances: saved as a list, and shown back one per line after a reload.
  await field.fill(`${A}\n\n${B}, ${A}\n`);
  await expect(field).toHaveAttribute('aria-invalid', 'false');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status', { name: 'Save result' })).toHaveText('Saved.');
  await expect(field).toHaveValue(`${A}\n${B}`);
  const api = await contractClient(node);
  try {
    expect((await api.call('settings:get')).market_url).toEqual([A, B]);
  } finally {
    api.close();
  }
  await page.reload();
  await openScreen(page, 'Settings');
  await expect(page.getByRole('textbox', { name: 'Market address' })).toHaveValue(`${A}\n${B}`);
  problems.push(...(await axeProblems(page, 'Settings saved')));
  await pictures(page, testInfo, 'settings-market-list');

  // Join: the same field, filled from the setting; a bad instance is named inline, and nothing is joined.
  await openScreen(page, 'Join');
  const join = page.getByRole('textbox', { name: 'Market address' });
  await expect(join).toHaveValue(`${A}\n${B}`);
  await join.fill(`${A}\nmarket dot example`);
  await page.getByRole('button', { name: 'Join market' }).click();
  await expect(join).toHaveAttribute('aria-invalid', 'true');
  await expect(join).toHaveAccessibleDescription(
    new RegExp(`^Market address "market dot example" is not a URL; give the market's address`),
  );
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^Not joined/);
  problems.push(...(await axeProblems(page, 'Join with an error')));
  await pictures(page, testInfo, 'join-market-error');

  // Two instances: joined, the node tries them in order and says so.
  await join.fill(`${A}\n${B}`);
  await page.getByRole('button', { name: 'Join market' }).click();
  await expect(page.getByRole('button', { name: 'Leave market' })).toBeVisible();
  await expect(page.locator('.joined-line')).toContainText(
    /Providing to (http:\/\/127\.0\.0\.1:1 and 1 more instance|http:\/\/127\.0\.0\.1:[12], one of 2 instances)/,
  );
  await pictures(page, testInfo, 'join-market-joined');
  await page.getByRole('button', { name: 'Leave market' }).click();
  await expect(page.getByRole('button', { name: 'Join market' })).toBeVisible();

  expect(problems, problems.join('\n')).toEqual([]);
});
