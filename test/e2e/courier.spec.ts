import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pseudoRandomBytes } from '../support/data.js';
import { expect, numberOf, openScreen, test } from './fixtures.js';

test('receipts stored with `tessera courier send` are flushed from the UI: pending reaches 0 and the reward is in the ledger', async ({
  cli,
  dataDir,
  makeTempDir,
  launchHeadless,
  page,
}) => {
  test.setTimeout(180_000);
  const seed = Number(process.env.TESSERA_E2E_SEED ?? Date.now() % 2 ** 31);
  console.log(`courier spec seed ${seed} (TESSERA_E2E_SEED=${seed} replays it)`);
  const bundles = makeTempDir('tessera-e2e-bundles-');
  for (let i = 0; i < 2; i++) {
    const file = join(bundles, `bundle-${i}.bin`);
    writeFileSync(file, Buffer.from(pseudoRandomBytes(4096 + i * 1000, seed + i)));
    const r = await cli.run([
      'courier',
      'send',
      file,
      `e2e-sender-${i}`,
      '--data-dir',
      dataDir,
      '--fresh-ledger',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
  }
  const before = await cli.run(['settlement', 'status', '--json', '--data-dir', dataDir]);
  expect(before.code, before.stderr).toBe(0);

  const node = await launchHeadless({ join: true });
  await page.goto(node.url);
  // The flush goes to the joined market (here the in-process practice market): wait until it is up.
  await expect(page.getByRole('status', { name: 'Node status' })).toHaveText(/^(Connected|Earning)/, {
    timeout: 100_000,
  });
  await openScreen(page, 'Courier');
  await expect(page.getByTestId('courier-pending-count')).toHaveText('2');

  await page.getByRole('button', { name: 'Flush courier receipts' }).click();
  const result = page.getByRole('status', { name: 'Flush result' });
  await expect(result).toBeVisible({ timeout: 45_000 });
  await expect(result).toContainText(/sent/i);
  await expect(result).toContainText(/credited/i);
  await expect(result).toContainText(/still pending/i);
  await expect(result).toContainText(/failed/i);
  await expect.poll(() => numberOf(page, 'courier-pending-count'), { timeout: 30_000 }).toBe(0);

  // The ledger shows the reward: the node's receipts are acknowledged and credit movements were added.
  const list = await cli.run(['courier', 'list', '--json', '--data-dir', dataDir]);
  expect(list.code, list.stderr).toBe(0);
  const rows = list.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status: string; reward: string | null });
  expect(rows).toHaveLength(2);
  for (const row of rows) {
    expect(row.status).not.toBe('pending');
    expect(BigInt(row.reward ?? '0')).toBeGreaterThan(0n);
  }
  const after = await cli.run(['settlement', 'status', '--json', '--data-dir', dataDir]);
  expect(after.code, after.stderr).toBe(0);
  // Dry run (the default): the rewards wait as pending credit movements, applied when settlement turns real.
  const pending = (out: string) => (JSON.parse(out) as { movements: { pending: number } }).movements.pending;
  expect(pending(after.stdout)).toBeGreaterThanOrEqual(pending(before.stdout) + 2);
});

test('a bundle is sent from the Courier screen by picking a file: its bytes are uploaded and stored, no path crosses the contract', async ({
  cli,
  dataDir,
  app: page,
}) => {
  const bytes = Buffer.from(pseudoRandomBytes(3000, 0xc0c0));
  await openScreen(page, 'Courier');
  await page
    .getByLabel('Bundle file')
    .setInputFiles({ name: 'picked.bundle', mimeType: 'application/octet-stream', buffer: bytes });
  await page.getByLabel('Sender').fill('e2e-picker');
  await page.getByRole('button', { name: 'Send bundle' }).click();
  await expect(page.getByText(/^Queued .* from e2e-picker as receipt/)).toBeVisible();
  await expect(page.getByTestId('courier-pending-count')).toHaveText('1');
  const list = await cli.run(['courier', 'list', '--json', '--data-dir', dataDir]);
  expect(list.code, list.stderr).toBe(0);
  const rows = list.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { bytes: number; sender: string; status: string });
  expect(rows).toEqual([expect.objectContaining({ bytes: 3000, sender: 'e2e-picker', status: 'pending' })]);
});
