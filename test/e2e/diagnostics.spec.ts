import { contractClient, expect, freePort, openScreen, test } from './fixtures.js';

test.use({ headlessOptions: { join: false } });

test('Diagnostics with the market stopped: the connection line turns red with its fix and the way to it', async ({
  app: page,
  cli,
  node,
  makeTempDir,
}) => {
  // Two processes each start an embedded store: slow on a busy 2-core machine.
  test.setTimeout(240_000);
  const port = await freePort();
  const market = cli.spawn(['market', '--port', String(port), '--data-dir', makeTempDir('tessera-e2e-market-')]);
  const url = (await market.waitForStdout(/market listening on (http:\/\/\S+)/, 120_000))[1] as string;

  await openScreen(page, 'Join');
  await page.getByRole('textbox', { name: 'Market address' }).fill(url);
  await page.getByRole('button', { name: 'Join market' }).click();
  await expect(page.getByRole('button', { name: 'Leave market' })).toBeVisible();
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Connected|Earning)/, {
    timeout: 30_000,
  });

  // With the market up, the connection line is ok.
  await openScreen(page, 'Diagnostics');
  await expect(page.locator('[data-testid="check-connected"]')).toHaveAttribute('data-severity', 'ok');

  const { code } = await market.stop();
  expect(code).toBe(0);

  // Diagnostics is a fresh report each time it opens: leave and come back until the node has noticed.
  await expect
    .poll(
      async () => {
        await openScreen(page, 'Dashboard');
        await openScreen(page, 'Diagnostics');
        return page.locator('[data-testid="check-connected"]').getAttribute('data-severity');
      },
      {
        timeout: 45_000,
        intervals: [1000, 2000, 3000],
        message: 'the connected line turns red once the market is gone',
      },
    )
    .toBe('problem');
  // The red line shows the node's own text for it, and the only red line is this one.
  const api = await contractClient(node);
  try {
    const report = await api.call('diagnostics:report');
    const connected = report.checks.find((c) => c.id === 'connected');
    expect(connected?.severity).toBe('problem');
    expect(report.checks.filter((c) => c.severity === 'problem').map((c) => c.id)).toEqual(['connected']);
    await expect(page.locator('[data-testid="check-connected"]')).toContainText(connected?.detail as string);
  } finally {
    api.close();
  }
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Offline|Connecting|Error)/);
  // Its button goes where the market is changed.
  await page.locator('[data-testid="check-connected"]').getByRole('link', { name: 'Change the market' }).click();
  await expect(page).toHaveURL(/#\/join$/);
  await expect(page.getByRole('button', { name: 'Leave market' })).toBeVisible();
  await openScreen(page, 'Diagnostics');
  await test.info().attach('diagnostics-market-stopped', {
    body: await page.screenshot({ fullPage: true }),
    contentType: 'image/png',
  });
});

test.describe('a healthy practice node', () => {
  test.use({ headlessOptions: { join: true } });

  test('earning on the practice market with no GPU, in dry-run, headless: no red line, the normal states as notes', async ({
    app: page,
  }) => {
    test.setTimeout(180_000);
    await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^Earning/, { timeout: 120_000 });
    await openScreen(page, 'Diagnostics');
    await expect(page.getByTestId('diagnostics-summary')).toContainText('Nothing needs your attention');
    await expect(page.locator('[data-severity="problem"]')).toHaveCount(0);
    for (const id of ['settlement', 'key_storage'])
      await expect(page.getByTestId(`check-${id}`)).toHaveAttribute('data-severity', 'info');
    await expect(page.getByTestId('check-providing')).toHaveAttribute('data-severity', 'ok');
    // A new key on the market is on probation: a note, never a problem, in practice credits.
    const probation = page.getByTestId('check-probation');
    await expect(probation).toHaveAttribute('data-severity', 'info');
    await expect(probation).toContainText(/New provider: the market checks all your jobs for the first \d+ jobs/);
    await expect(probation).toContainText('practice credits');
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [width, height] of [
        [1280, 800],
        [390, 844],
      ] as const) {
        await page.setViewportSize({ width, height });
        // Nothing wider than the screen at either width.
        expect(await page.locator('html').evaluate((el) => el.scrollWidth)).toBeLessThanOrEqual(width);
        await page.screenshot({
          path: test.info().outputPath(`diagnostics-healthy-${width}-${scheme}.png`),
          fullPage: true,
        });
      }
    }
  });
});
