import { expect, openScreen, test } from './fixtures.js';

test.use({ headlessOptions: { join: false } });

test('switching settlement to Real asks first: Cancel keeps Dry run, confirming makes it Real', async ({
  app: page,
  cli,
  node,
}) => {
  await openScreen(page, 'Settlement');
  const mode = page.getByTestId('settlement-mode');
  await expect(mode).toHaveText('Dry run');
  await expect(page.getByRole('table', { name: 'Balances' })).toBeVisible();

  const open = page.getByRole('button', { name: 'Switch to Real' });
  await open.click();
  let dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAttribute('aria-modal', 'true');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(mode).toHaveText('Dry run');

  // Escape also cancels.
  await open.click();
  dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(mode).toHaveText('Dry run');
  // The node's ledger agrees: still dry-run after two refusals.
  const before = await cli.run(['settlement', 'status', '--json', '--data-dir', node.dataDir]);
  expect(before.code, before.stderr).toBe(0);
  expect(JSON.stringify(JSON.parse(before.stdout).mode)).toMatch(/dry/i);

  await open.click();
  dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Switch to real settlement' }).click();
  await expect(dialog).toBeHidden();
  await expect(mode).toHaveText('Real');
  const after = await cli.run(['settlement', 'status', '--json', '--data-dir', node.dataDir]);
  expect(after.code, after.stderr).toBe(0);
  expect(JSON.stringify(JSON.parse(after.stdout).mode)).toMatch(/real/i);
});
