import { contractClient, expect, freePort, openScreen, test } from './fixtures.js';

test.use({ headlessOptions: { join: false } });

test('Diagnostics with the market stopped: the market line turns red with its fix', async ({
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
  await page.getByRole('textbox', { name: 'Market URL' }).fill(url);
  await page.getByRole('button', { name: 'Join market' }).click();
  await expect(page.getByRole('button', { name: 'Leave market' })).toBeVisible();
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Connected|Earning)/, {
    timeout: 30_000,
  });

  // With the market up, the connection line is green.
  await openScreen(page, 'Diagnostics');
  const line = page.locator('[data-testid="check-market_reachable"], [data-testid="check-connected"]').first();
  await expect(line).toHaveAttribute('data-ok', 'true');

  const { code } = await market.stop();
  expect(code).toBe(0);

  // Diagnostics is a fresh report each time it opens: leave and come back until the node has noticed.
  await expect
    .poll(
      async () => {
        await openScreen(page, 'Dashboard');
        await openScreen(page, 'Diagnostics');
        return page.locator('[data-testid="check-connected"]').getAttribute('data-ok');
      },
      {
        timeout: 45_000,
        intervals: [1000, 2000, 3000],
        message: 'the connected line turns red once the market is gone',
      },
    )
    .toBe('false');
  // The red line shows the node's own fix text for it.
  const api = await contractClient(node);
  try {
    const report = await api.call('diagnostics:report');
    const connected = report.checks.find((c) => c.id === 'connected');
    expect(connected?.ok).toBe(false);
    expect(connected?.fix).toBeTruthy();
    await expect(page.locator('[data-testid="check-connected"]')).toContainText(connected?.fix as string);
  } finally {
    api.close();
  }
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Offline|Connecting|Error)/);
  await test.info().attach('diagnostics-market-stopped', {
    body: await page.screenshot({ fullPage: true }),
    contentType: 'image/png',
  });
});
