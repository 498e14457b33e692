import { describe, expect, it } from 'vitest';
import { sql } from '../../src/main/db/sql.js';
import { metricValue } from '../../src/main/metrics.js';
import { tempDir } from '../support/temp-dir.js';
import { openSettlement, receipt } from './ledger-fixtures.js';

describe('SettlementService', () => {
  it('DryRun (the default) records receipts and moves no balance', async () => {
    const clock = { now: 1000 };
    const s = openSettlement(tempDir(), clock);
    s.service.fund('buyer', 100n);
    expect(s.service.status().mode).toBe('dry_run');
    expect(s.service.apply(receipt('j1', 40n)).outcome).toBe('recorded');
    expect(s.service.apply(receipt('j1', 40n)).outcome).toBe('duplicate');
    expect(s.service.status().balances).toEqual([{ account: 'buyer', balance: '100' }]);
    expect(await metricValue(s.registry, 'matches_total', { dry_run: 'true' })).toBe(1);
    expect(await metricValue(s.registry, 'settle_applied_total')).toBe(0);
    s.close();
  });

  it('Real debits the buyer and credits the provider exactly once, with both postings under the receipt event', async () => {
    const clock = { now: 1000 };
    const s = openSettlement(tempDir(), clock);
    s.service.fund('buyer', 100n);
    s.service.setMode('real');
    const r = receipt('j1', 40n);
    expect(s.service.apply(r).outcome).toBe('applied');
    expect(s.service.apply(r).outcome).toBe('duplicate');
    expect(s.service.status().balances).toEqual([
      { account: 'buyer', balance: '60' },
      { account: 'provider', balance: '40' },
    ]);
    const postings = s.db.all<{ account: string; amount: bigint }>(
      sql`SELECT account, amount FROM postings WHERE event_id = ${`receipt:${r.idempotency_key}`} ORDER BY amount`,
    );
    expect(postings).toEqual([
      { account: 'buyer', amount: -40n },
      { account: 'provider', amount: 40n },
    ]);
    expect(await metricValue(s.registry, 'settle_applied_total')).toBe(1);
    expect(await metricValue(s.registry, 'matches_total', { dry_run: 'false' })).toBe(1);
    expect(s.service.checkLedger()).toMatchObject({ ok: true, total: 100n, minted: 100n, burned: 0n });
    s.close();
  });

  it('a receipt recorded in DryRun is applied when Real is switched on, and only then', () => {
    const clock = { now: 1000 };
    const s = openSettlement(tempDir(), clock);
    s.service.fund('buyer', 10n);
    const r = receipt('j1', 10n);
    expect(s.service.apply(r).outcome).toBe('recorded');
    expect(s.service.status().balances).toEqual([{ account: 'buyer', balance: '10' }]);
    s.service.setMode('real');
    expect(s.service.status().balances).toEqual([
      { account: 'buyer', balance: '0' },
      { account: 'provider', balance: '10' },
    ]);
    expect(s.service.apply(r).outcome).toBe('duplicate');
    s.close();
  });

  it('the same key with a different payload is a conflict, not an overwrite', () => {
    const s = openSettlement(tempDir(), { now: 1 });
    const r = receipt('j1', 10n);
    s.service.apply(r);
    expect(s.service.apply({ ...r, issued_at: r.issued_at + 1 })).toMatchObject({
      outcome: 'conflict',
      reason: expect.stringMatching(/already stored with different contents/),
    });
    expect(s.service.status().receipts.recorded).toBe(1);
    s.close();
  });

  it('insufficient funds archives the receipt with its reason and reverts to DryRun', async () => {
    const s = openSettlement(tempDir(), { now: 1 });
    s.service.fund('buyer', 5n);
    s.service.setMode('real');
    const res = s.service.apply(receipt('j1', 10n));
    expect(res).toMatchObject({ outcome: 'failed', reason: 'insufficient_funds' });
    expect(s.service.status().mode).toBe('dry_run');
    expect(s.service.status().receipts.archived).toBe(1);
    const row = s.db.get<{ reason: string }>(sql`SELECT reason FROM receipts WHERE status = 'archived'`);
    expect(row?.reason).toMatch(/insufficient_funds: buyer buyer has 5, needs 10/);
    expect(s.service.status().balances).toEqual([{ account: 'buyer', balance: '5' }]);
    expect(await metricValue(s.registry, 'settle_failed_total', { reason: 'insufficient_funds' })).toBe(1);
    expect(await metricValue(s.registry, 'settle_mode_change_total', { to: 'dry_run' })).toBe(1);
    s.close();
  });

  it('Armed becomes Real after its delay, and the armed state survives a restart', async () => {
    const dir = tempDir();
    const clock = { now: 10_000 };
    let s = openSettlement(dir, clock);
    s.service.fund('buyer', 50n);
    s.service.arm(30);
    expect(s.service.status()).toMatchObject({ mode: 'armed', activate_at: 40_000, mode_label: 'armed (real in 30s)' });
    s.close();
    clock.now = 39_999;
    s = openSettlement(dir, clock);
    expect(s.service.apply(receipt('early', 5n)).outcome).toBe('recorded');
    clock.now = 40_000;
    expect(s.service.apply(receipt('late', 5n)).outcome).toBe('applied');
    expect(s.service.status().mode).toBe('real');
    expect(await metricValue(s.registry, 'settle_mode_change_total', { to: 'real' })).toBe(1);
    s.close();
  });

  it('start-up re-check counts damaged receipts and skips them without stopping', async () => {
    const dir = tempDir();
    let s = openSettlement(dir, { now: 1 });
    s.service.apply(receipt('a', 1n));
    s.service.apply(receipt('b', 2n));
    s.service.apply(receipt('c', 3n));
    s.db.run(
      sql`UPDATE receipts SET payload = replace(payload, '"quote_price":"2"', '"quote_price":"7"') WHERE payload LIKE '%"job_id":"b"%'`,
    );
    s.db.run(sql`UPDATE receipts SET payload = '{not json' WHERE payload LIKE '%"job_id":"c"%'`);
    s.close();
    s = openSettlement(dir, { now: 1 });
    expect(s.service.verifyStoredReceipts()).toEqual({ checked: 3, corrupt: 2 });
    expect(await metricValue(s.registry, 'receipt_corrupt_total')).toBe(2);
    expect(s.service.apply(receipt('d', 4n)).outcome).toBe('recorded');
    // Skipped, not repaired or deleted: the damaged rows are still there as they were.
    expect(s.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM receipts WHERE payload = '{not json'`)?.n).toBe(1n);
    expect(s.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM receipts`)?.n).toBe(4n);
    s.close();
  });

  it('conservation check catches a balance that drifted from its postings', () => {
    const s = openSettlement(tempDir(), { now: 1 });
    s.service.fund('buyer', 10n);
    expect(s.service.checkLedger().ok).toBe(true);
    s.db.run(sql`UPDATE accounts SET balance = balance + 1 WHERE id = 'buyer'`);
    const report = s.service.checkLedger();
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/account buyer balance 11 differs from its postings 10/);
    s.close();
  });

  it('a provider balance that would overflow the ledger archives the receipt and reverts to DryRun', () => {
    const s = openSettlement(tempDir(), { now: 1 });
    const max = (1n << 63n) - 1n;
    s.service.fund('buyer', 10n);
    s.service.fund('provider', max - 5n);
    s.service.setMode('real');
    expect(s.service.apply(receipt('big', 10n))).toMatchObject({ outcome: 'failed', reason: 'overflow' });
    expect(s.service.status().mode).toBe('dry_run');
    expect(() => s.service.fund('provider', 10n)).toThrow(/would leave the range the ledger can hold/);
    expect(s.service.checkLedger()).toMatchObject({ ok: true, total: max + 5n });
    s.close();
  });

  it('a conflicting receipt in a batch is reported and the rest still settle', () => {
    const s = openSettlement(tempDir(), { now: 1 });
    const r = receipt('j1', 1n);
    s.service.apply(r);
    const results = s.service.applyBatch([receipt('j0', 1n), { ...r, issued_at: 99 }, receipt('j2', 1n)]);
    expect(results.map((x) => x.outcome)).toEqual(['recorded', 'conflict', 'recorded']);
    s.close();
  });

  it('refuses an arm delay beyond ten years, and an unreadable stored mode can be reset', () => {
    const s = openSettlement(tempDir(), { now: 1 });
    expect(() => s.service.arm(1e22)).toThrow(/arm delay must be from 0 to 315360000 seconds/);
    expect(s.service.status().mode).toBe('dry_run');
    s.db.run(
      sql`INSERT INTO settings (key, value) VALUES ('settlement_mode', 'armed:1e+25') ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    );
    expect(() => s.service.status()).toThrow(
      /stored settlement mode "armed:1e\+25" is not valid; reset it with `tessera settlement mode dry-run`/,
    );
    s.service.setMode('dry_run');
    expect(s.service.status().mode).toBe('dry_run');
    s.close();
  });
});
