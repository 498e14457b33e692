import { expect, numberOf, openScreen, test } from './fixtures.js';

test.use({ headlessOptions: { join: false } });

test('joining the practice market: a job completes and earnings rise on the Dashboard', async ({ app: page }) => {
  // Starting the in-process practice market (its embedded store) takes tens of seconds on a busy 2-core machine.
  test.setTimeout(180_000);
  // Not joined yet: the app starts on Join and the Dashboard counts nothing.
  await expect(page.getByRole('heading', { level: 1, name: 'Join', exact: true })).toBeVisible();
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^Not joined/);
  await openScreen(page, 'Dashboard');
  await expect(page.getByTestId('jobs-done')).toHaveText(/^\d+$/);
  const jobsBefore = await numberOf(page, 'jobs-done');
  const earningsBefore = await numberOf(page, 'earnings-today');
  expect(jobsBefore).toBe(0);
  expect(earningsBefore).toBe(0);

  await openScreen(page, 'Join');
  await page.getByRole('button', { name: 'Join practice market' }).click();
  await expect(page.getByRole('button', { name: 'Leave market' })).toBeVisible({ timeout: 90_000 });

  await openScreen(page, 'Dashboard');
  // Live updates (events), no reload: the counters move on their own.
  await expect
    .poll(() => numberOf(page, 'jobs-done'), { timeout: 60_000, message: 'jobs-done rises after joining' })
    .toBeGreaterThan(jobsBefore);
  await expect
    .poll(() => numberOf(page, 'earnings-today'), { timeout: 60_000, message: 'earnings-today rises after joining' })
    .toBeGreaterThan(earningsBefore);
  await expect(page.getByTestId('earnings-today')).toHaveText(/\d+\.\d{6}/);
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Earning|Connected)/);
});
