import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/main/db/sql.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { faultReceipts } from '../fixtures/fault-receipts.js';
import { buildLedgerChild, runLedgerChild } from '../fixtures/fault-run.js';
import { tempDir } from '../support/temp-dir.js';
import { receipt } from './ledger-fixtures.js';

let child = '';
beforeAll(async () => {
  child = await buildLedgerChild('ledger-child-settle-faults');
});

/** What a settlement must look like after any crash: every receipt's state agrees with its postings and counters. */
function checkConsistent(ctx: Ledger): void {
  expect(ctx.db.integrityCheck()).toEqual(['ok']);
  const rows = ctx.db.all<{ key: string; status: string }>(sql`SELECT idempotency_key AS key, status FROM receipts`);
  for (const r of rows) {
    const postings = ctx.db.get<{ n: bigint }>(
      sql`SELECT count(*) AS n FROM postings WHERE event_id = ${`receipt:${r.key}`}`,
    )?.n;
    // No credit without its receipt marked applied, no receipt applied without its credit, nothing twice.
    expect(postings, `receipt ${r.key} (${r.status})`).toBe(r.status === 'applied' ? 2n : 0n);
    const movement = ctx.db.get<{ status: string }>(
      sql`SELECT status FROM pending_movements WHERE ref = ${r.key}`,
    )?.status;
    if (r.status === 'recorded') expect(movement, `recorded receipt ${r.key} has a pending movement`).toBe('pending');
  }
  const applied = BigInt(rows.filter((r) => r.status === 'applied').length);
  expect(
    ctx.db.get<{ value: bigint }>(sql`SELECT value FROM counters WHERE name = 'settle_applied_total'`)?.value ?? 0n,
  ).toBe(applied);
  expect(ctx.settlement.checkLedger().ok).toBe(true);
}

describe('settlement: a crash at every transaction boundary (fault injection, SIGKILL)', () => {
  it(
    'leaves no receipt applied without its credit, none credited twice, and the retry completes',
    { timeout: 240_000 },
    async () => {
      const template = join(tempDir(), 'template');
      const setup = await openLedger({ dataDir: template });
      setup.settlement.fund('buyer', 25n);
      setup.settlement.setMode('real');
      expect(setup.settlement.apply(receipt('fault-0', 5n)).outcome).toBe('applied');
      setup.close();

      // Reference: the same batch without a crash.
      const refDir = join(tempDir(), 'ref');
      cpSync(template, refDir, { recursive: true });
      const recorded = await runLedgerChild(child, ['settle-faults', refDir, '0']);
      expect(recorded.done).toBe(true);
      const ref = await openLedger({ dataDir: refDir });
      const expected = { status: ref.settlement.status(), results: ['applied', 'duplicate', 'failed', 'recorded'] };
      expect(expected.status).toMatchObject({
        mode: 'dry_run',
        receipts: { applied: 2, archived: 1, recorded: 1 },
        movements: { pending: 1 },
      });
      ref.close();

      const boundaries = recorded.points;
      console.log(`settlement batch crosses ${boundaries.length} boundaries: ${[...new Set(boundaries)].join(', ')}`);
      // Every statement the batch writes, in order: each receipt row (stored in its final state),
      // the revert to dry-run after fault-2, then the batch's balances, postings, pending movement
      // and counters, then the commit.
      expect(boundaries).toEqual([
        'settle.batch.begun',
        'settle.mode-read',
        'settle.receipt-stored', // fault-1, applied
        'settle.receipt-stored', // fault-0, duplicate
        'settle.receipt-stored', // fault-2, archived (insufficient funds)
        'settle.reverted',
        'settle.receipt-stored', // fault-3, recorded
        'ledger.balance-updated',
        'ledger.posted',
        'movement.recorded',
        'settle.counted',
        'settle.batch.committing',
        'settle.batch.committed',
      ]);
      for (let k = 1; k <= boundaries.length; k++) {
        const dir = join(tempDir(), `k${k}`);
        cpSync(template, dir, { recursive: true });
        const run = await runLedgerChild(child, ['settle-faults', dir, String(k)]);
        expect(run.killed, `crash at boundary ${k}`).toBe(true);
        expect(run.points).toEqual(boundaries.slice(0, k)); // the crash landed exactly at boundary k
        let ctx = await openLedger({ dataDir: dir });
        checkConsistent(ctx);
        // Committed means all of the batch, or none of it.
        const before = ctx.settlement.status().receipts;
        expect(before.applied === 1 || before.applied === 2, `boundary ${k}: ${JSON.stringify(before)}`).toBe(true);
        if (k < boundaries.length) expect(before).toEqual({ applied: 1, recorded: 0, archived: 0 });
        // The retry completes: the same batch again reaches the reference state.
        ctx.settlement.applyBatch(faultReceipts(ctx.blake3));
        checkConsistent(ctx);
        ctx.close();
        ctx = await openLedger({ dataDir: dir });
        expect(ctx.settlement.status()).toEqual(expected.status);
        ctx.close();
      }
    },
  );
});
