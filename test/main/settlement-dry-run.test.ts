import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { penalizeSla } from '../../src/core/pricing/sla.js';
import { sql } from '../../src/main/db/sql.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { bondAccount, SqliteBondLedger } from '../../src/main/services/bond-ledger.js';
import { COURIER_REWARD_SOURCE } from '../../src/main/services/courier-service.js';
import { CourierMarket } from '../fixtures/courier-market.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';
import { receipt } from './ledger-fixtures.js';

// The rule (CreditMovements): in dry-run every credit movement is recorded as pending and moves
// no balance; turning real applies the pending ones in order, each once, with its marking.

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function node(dataDir: string, clock?: { now: number }): Promise<Ledger> {
  const ctx = await openLedger({
    dataDir,
    ...(clock ? { clock: { now: () => clock.now } } : {}),
    courier: { backoffBaseMs: 1, backoffCapMs: 5, batchSize: 4 },
  });
  open.push(ctx);
  return ctx;
}

function balances(ctx: Ledger): Record<string, string> {
  return Object.fromEntries(ctx.settlement.status().balances.map((b) => [b.account, b.balance]));
}

function postingsPerEvent(ctx: Ledger, prefix: string): bigint[] {
  return ctx.db
    .all<{ n: bigint }>(
      sql`SELECT count(*) AS n FROM postings WHERE event_id LIKE ${`${prefix}%`} GROUP BY event_id ORDER BY event_id`,
    )
    .map((r) => r.n);
}

describe('dry-run moves no credits; turning real applies each pending movement once', () => {
  it('receipt settlement: recorded as pending, applied at `mode real`, not again after a restart', async () => {
    const dd = join(tempDir(), 'node');
    let ctx = await node(dd);
    ctx.settlement.fund('buyer', 100n);
    const rs = [receipt('a', 10n), receipt('b', 20n), receipt('c', 30n)];
    expect(ctx.settlement.applyBatch(rs).map((r) => r.outcome)).toEqual(['recorded', 'recorded', 'recorded']);
    expect(balances(ctx)).toEqual({ buyer: '100' });
    expect(ctx.settlement.status().movements).toEqual({ pending: 3, applied: 0, failed: 0 });

    const { pending } = ctx.settlement.changeMode('real');
    expect(pending).toEqual({ applied: 3, failed: [], reverted: false });
    expect(balances(ctx)).toEqual({ buyer: '40', provider: '60' });
    expect(ctx.settlement.status()).toMatchObject({
      movements: { pending: 0, applied: 3, failed: 0 },
      receipts: { applied: 3, recorded: 0 },
    });
    // Submitting them again changes nothing: they were applied at the switch.
    expect(ctx.settlement.applyBatch(rs).map((r) => r.outcome)).toEqual(['duplicate', 'duplicate', 'duplicate']);

    ctx.close();
    ctx = await node(dd);
    ctx.settlement.setMode('real'); // switching to real again must not apply anything twice
    expect(balances(ctx)).toEqual({ buyer: '40', provider: '60' });
    expect(postingsPerEvent(ctx, 'receipt:')).toEqual([2n, 2n, 2n]);
    expect(ctx.settlement.checkLedger().ok).toBe(true);
  });

  it('an armed mode whose time passes applies the pending movements at the first look', async () => {
    const dd = join(tempDir(), 'node');
    const clock = { now: 1_000 };
    let ctx = await node(dd, clock);
    ctx.settlement.fund('buyer', 50n);
    ctx.settlement.arm(5);
    expect(ctx.settlement.apply(receipt('x', 5n)).outcome).toBe('recorded');
    ctx.close();
    clock.now = 6_000;
    ctx = await node(dd, clock);
    expect(ctx.settlement.status()).toMatchObject({ mode: 'real', movements: { pending: 0, applied: 1 } });
    expect(balances(ctx)).toEqual({ buyer: '45', provider: '5' });
  });

  it('a pending receipt the ledger refuses is archived, settlement reverts, and the movements after it wait', async () => {
    const dd = join(tempDir(), 'node');
    const ctx = await node(dd);
    ctx.settlement.fund('buyer', 15n);
    ctx.settlement.applyBatch([receipt('a', 10n), receipt('b', 10n), receipt('c', 1n)]);
    const first = ctx.settlement.changeMode('real');
    expect(first.mode.kind).toBe('dry_run');
    expect(first.pending).toMatchObject({
      applied: 1,
      reverted: true,
      failed: [{ source: 'receipt', reason: 'insufficient_funds: buyer buyer has 5, needs 10' }],
    });
    expect(ctx.settlement.status()).toMatchObject({
      mode: 'dry_run',
      movements: { pending: 1, applied: 1, failed: 1 },
      receipts: { applied: 1, archived: 1, recorded: 1 },
    });
    ctx.settlement.fund('buyer', 1n);
    expect(ctx.settlement.changeMode('real').pending).toEqual({ applied: 1, failed: [], reverted: false });
    expect(balances(ctx)).toEqual({ buyer: '5', provider: '11' });
  });

  it('courier reward: the acknowledgement is recorded, the credit waits for real mode, then lands once', async () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    let ctx = await node(dd);
    mkdirSync(join(dir, 'in'));
    for (let i = 0; i < 6; i++) {
      writeFileSync(join(dir, 'in', `b${i}`), pseudoRandomBytes(50 + i, i + 1));
      ctx.courier.send(join(dir, 'in', `b${i}`), 'carrier');
    }
    const m = await new CourierMarket({ reward: 4n }).start();
    open.push(m);
    const s = await ctx.courier.flush(m.url);
    expect(s).toMatchObject({ accepted: 6, reward: 24n, reward_pending: 24n, pending_after: 0 });
    expect(balances(ctx)).toEqual({});
    expect(ctx.settlement.status().movements).toEqual({ pending: 6, applied: 0, failed: 0 });

    ctx.settlement.setMode('real');
    const nodeId = ctx.identity.nodeId;
    expect(balances(ctx)).toEqual({ [COURIER_REWARD_SOURCE]: '-24', [nodeId]: '24' });
    ctx.close();
    ctx = await node(dd);
    ctx.settlement.setMode('real');
    expect(await ctx.courier.flush(m.url)).toMatchObject({ pending_before: 0, reward: 0n });
    expect(balances(ctx)).toEqual({ [COURIER_REWARD_SOURCE]: '-24', [nodeId]: '24' });
    expect(postingsPerEvent(ctx, 'courier:')).toEqual(Array(6).fill(2n));
    // In real mode a reward is credited at once, not recorded as pending.
    writeFileSync(join(dir, 'in', 'late'), 'late bundle');
    ctx.courier.send(join(dir, 'in', 'late'), 'carrier');
    expect(await ctx.courier.flush(m.url)).toMatchObject({ accepted: 1, reward: 4n, reward_pending: 0n });
    expect(balances(ctx)[nodeId]).toBe('28');
    expect(ctx.settlement.status().movements).toEqual({ pending: 0, applied: 6, failed: 0 });
  });

  it('SLA slash: recorded as pending in dry-run (the bond keeps its credits), burned once when real', async () => {
    const dd = join(tempDir(), 'node');
    let ctx = await node(dd);
    ctx.settlement.fund('prov', 500n);
    let bonds = new SqliteBondLedger({ db: ctx.db, credits: ctx.settlement.credits });
    bonds.deposit('prov', 200n, 'dep-1'); // exempt: the provider's own credits into escrow
    expect(penalizeSla(bonds, { jobId: 'job-1', provider: 'prov', bond: 75n })).toMatchObject({ amount: 75n });
    expect(penalizeSla(bonds, { jobId: 'job-1', provider: 'prov', bond: 75n })).toBeUndefined();
    expect(balances(ctx)).toEqual({ prov: '300', [bondAccount('prov')]: '200' });
    expect(ctx.settlement.status().movements.pending).toBe(1);

    ctx.settlement.setMode('real');
    expect(balances(ctx)).toEqual({ prov: '300', [bondAccount('prov')]: '125' });
    expect(ctx.settlement.checkLedger()).toMatchObject({ ok: true, burned: 75n });
    ctx.close();
    ctx = await node(dd);
    // A ledger built on its own (no shared CreditMovements) reads the same stored mode and history.
    bonds = new SqliteBondLedger({ db: ctx.db });
    expect(penalizeSla(bonds, { jobId: 'job-1', provider: 'prov', bond: 75n })).toBeUndefined();
    expect(penalizeSla(bonds, { jobId: 'job-2', provider: 'prov', bond: 25n })).toMatchObject({ amount: 25n });
    expect(balances(ctx)[bondAccount('prov')]).toBe('100'); // real now: burned at once
    expect(ctx.settlement.checkLedger()).toMatchObject({ ok: true, burned: 100n });
  });
});
