import { expect, numberOf, openScreen, test } from './fixtures.js';

/** Micro-CPC of a figure the Dashboard shows ("1.025000" → 1025000). */
async function micro(page: import('@playwright/test').Page, testId: string): Promise<bigint> {
  const text = (await page.getByTestId(testId).first().innerText()).trim();
  const [whole = '0', frac = ''] = text.replace(/,/g, '').split('.');
  return BigInt(whole) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
}

test('the Dashboard earns on the practice market: one headline, a breakdown that adds up to it, labelled practice credits', async ({
  app: page,
}, testInfo) => {
  test.setTimeout(180_000);
  await openScreen(page, 'Dashboard');
  await expect
    .poll(() => numberOf(page, 'jobs-done'), { timeout: 120_000, message: 'a paid job shows on the Dashboard' })
    .toBeGreaterThan(0);
  // One reading of the page: the breakdown adds up to the headline, today ⊂ 7 days ⊂ all time.
  const earned = page.getByRole('region', { name: 'Earned' });
  await expect(earned.getByText('Practice credits · not money')).toBeVisible();
  await expect(earned.getByText(/Days end at midnight UTC/)).toBeVisible();
  const [total, settled, awaiting, today, week, all] = await Promise.all(
    ['earned-total', 'earned-settled', 'earned-awaiting', 'earnings-today', 'earnings-7d', 'earnings-all'].map((id) =>
      micro(page, id),
    ),
  );
  expect((settled as bigint) + (awaiting as bigint)).toBe(total);
  expect(today).toBeLessThanOrEqual(week as bigint);
  expect(week).toBeLessThanOrEqual(all as bigint);
  expect(all).toBe(total);
  await expect(page.getByRole('region', { name: 'Checked with the market' })).toBeVisible();
  await expect(
    page.getByRole('region', { name: 'What this machine could earn' }).getByText(/How this is computed/),
  ).toBeVisible();
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    // Nothing in the earnings cards is wider than its card.
    const overflow = await page
      .locator('#earned, #reconciliation, #estimate')
      .evaluateAll(
        (els: { scrollWidth: number; clientWidth: number }[]) =>
          els.filter((el) => el.scrollWidth > el.clientWidth + 1).length,
      );
    expect(overflow).toBe(0);
    await page.screenshot({ path: testInfo.outputPath(`dashboard-${width}.png`), fullPage: true });
    if (process.env.TESSERA_SHOTS)
      await page.screenshot({ path: `${process.env.TESSERA_SHOTS}/dashboard-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await openScreen(page, 'Join');
  await expect(page.getByRole('region', { name: 'What this machine could earn' })).toBeVisible();
  if (process.env.TESSERA_SHOTS)
    await page.screenshot({ path: `${process.env.TESSERA_SHOTS}/join-1280.png`, fullPage: true });
  // The Jobs screen says what the Dashboard says: paid jobs are "paid", never a ✓ with 0 credits.
  await openScreen(page, 'Jobs');
  await expect(page.getByTitle('paid · awaiting settlement').first()).toHaveText('✓ paid');
  await expect(page.getByText(/✓ verified$/)).toHaveCount(0);
  if (process.env.TESSERA_SHOTS)
    await page.screenshot({ path: `${process.env.TESSERA_SHOTS}/jobs-1280.png`, fullPage: false });
});
