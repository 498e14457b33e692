import { expect, openScreen, test } from './fixtures.js';

test('when the node stops, the page says so in words, marks its data stale and turns its actions off', async ({
  app: page,
  node,
}, testInfo) => {
  await openScreen(page, 'Dashboard');
  const pause = page.getByRole('button', { name: /Pause providing|Resume providing/ });
  // The practice market starts behind the page: the button appears once the node has joined.
  await expect(pause).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByTestId('stale-note')).toHaveCount(0);

  // The headless process stops (SIGTERM: the fixture's own stop then finds it already exited with 0).
  const { code } = await node.stop();
  expect(code).toBe(0);

  const alert = page.getByRole('alert').filter({ hasText: /not responding/ });
  await expect(alert).toBeVisible();
  // Human words in the banner; the code only in the collapsed support details.
  const banner = page.locator('.banner');
  await expect(banner).not.toContainText('TRANSPORT_CLOSED', { useInnerText: true });
  await expect(alert).not.toContainText(/[A-Z]+_[A-Z]+/);
  await banner.getByText('Details for support').click();
  await expect(banner.locator('.support-code code')).toHaveText('TRANSPORT_CLOSED');

  // The data is marked stale, with when it was last updated; the actions are off.
  await expect(page.getByTestId('stale-note')).toHaveText(/^Last updated \d\d:\d\d — the node is not responding/);
  await expect(page.locator('main')).toHaveClass(/stale/);
  await expect(pause).toBeDisabled();
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Offline|Connecting)/);

  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    const file = testInfo.outputPath(`node-lost-${width}.png`);
    await page.screenshot({ path: file });
    await testInfo.attach(`node-lost-${width}`, { path: file, contentType: 'image/png' });
  }
});
