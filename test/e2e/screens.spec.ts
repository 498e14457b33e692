import AxeBuilder from '@axe-core/playwright';
import { expect, numberOf, openScreen, test } from './fixtures.js';

const SCREENS = ['Dashboard', 'Join', 'Jobs', 'Courier', 'Settlement', 'Diagnostics', 'Settings', 'Logs'] as const;
const NODE_STATES = /^(Earning|Connected|Connecting|Paused|Offline|Not joined|Error)/;

// One node for both themes: starting it and its practice market is the slow part.
test('every screen in light and dark: a screenshot, one h1, the node status, and no serious or critical axe violations', async ({
  app: page,
}, testInfo) => {
  test.setTimeout(420_000);
  // Some work done first, so the screens show data rather than only their empty states.
  await openScreen(page, 'Dashboard');
  await expect.poll(() => numberOf(page, 'jobs-done'), { timeout: 120_000 }).toBeGreaterThan(0);

  const problems: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const name of SCREENS) {
      await openScreen(page, name);
      await expect(page.locator('h1')).toHaveCount(1);
      await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(NODE_STATES);
      // Let loading states settle (no busy regions) before the picture and the audit.
      await expect(page.locator('[aria-busy="true"]'))
        .toHaveCount(0, { timeout: 10_000 })
        .catch(() => undefined);
      const file = testInfo.outputPath(`${scheme}-${name.toLowerCase()}.png`);
      await page.screenshot({ path: file, fullPage: true });
      await testInfo.attach(`${scheme}-${name.toLowerCase()}`, { path: file, contentType: 'image/png' });

      const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
      for (const v of results.violations) {
        if (v.impact !== 'serious' && v.impact !== 'critical') continue;
        const where = v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join('; ');
        problems.push(`${scheme} ${name}: [${v.impact}] ${v.id} — ${v.help} (${v.nodes.length}×: ${where})`);
      }
    }
  }
  expect(problems, problems.join('\n')).toEqual([]);
});
