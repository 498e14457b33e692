import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.js';
import { layoutProblems, unreachableColumns, X_SCROLLERS } from './layout-audit.js';

const WIDTHS = [390, 800, 1280] as const;
const SCREENS = [
  ['dashboard', 'Dashboard'],
  ['join', 'Join'],
  ['jobs', 'Jobs'],
  ['diagnostics', 'Diagnostics'],
  ['settings', 'Settings'],
  ['logs', 'Logs'],
  ['courier', 'Courier'],
  ['settlement', 'Settlement'],
] as const;

async function visit(page: Page, route: string, heading: string): Promise<void> {
  await page.evaluate(
    (r) => ((globalThis as unknown as { location: { hash: string } }).location.hash = `#/${r}`),
    route,
  );
  await expect(page.getByRole('heading', { level: 1, name: heading, exact: true })).toBeVisible();
  // Let loading states settle before measuring.
  await expect(page.locator('.loading, [aria-busy="true"]'))
    .toHaveCount(0, { timeout: 10_000 })
    .catch(() => undefined);
}

for (const width of WIDTHS) {
  test(`at ${width} px every screen fits its width and every table column can be reached, light and dark`, async ({
    app: page,
  }, testInfo) => {
    test.setTimeout(240_000);
    await page.setViewportSize({ width, height: 800 });
    // Some work first, so the tables have rows and the logs have lines.
    await visit(page, 'jobs', 'Jobs');
    await expect
      .poll(() => page.locator('[role="table"] [role="row"]').count(), { timeout: 120_000 })
      .toBeGreaterThan(1);

    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [route, heading] of SCREENS) {
        await visit(page, route, heading);
        const file = testInfo.outputPath(`${width}-${scheme}-${route}.png`);
        await page.screenshot({ path: file });
        await testInfo.attach(`${width}-${scheme}-${route}`, { path: file, contentType: 'image/png' });
        if (scheme === 'dark') continue; // the layout is the same in both themes; the pictures are for looking
        for (const p of await page.evaluate(layoutProblems, X_SCROLLERS)) problems.push(`${heading}: ${p}`);
        for (const p of await page.evaluate(unreachableColumns, X_SCROLLERS)) problems.push(`${heading}: ${p}`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
}
