import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/main/db/sql.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { COURIER_REWARD_SOURCE } from '../../src/main/services/courier-service.js';
import { CourierMarket } from '../fixtures/courier-market.js';
import { buildLedgerChild, runLedgerChild } from '../fixtures/fault-run.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

let child = '';
beforeAll(async () => {
  child = await buildLedgerChild('ledger-child-courier-faults');
});

const REWARD = 3n;

/** After any crash: an acknowledgement and its credit exist together or not at all, each once. */
function checkConsistent(ctx: Ledger): number {
  expect(ctx.db.integrityCheck()).toEqual(['ok']);
  const rows = ctx.db.all<{ id: string; acknowledged: bigint }>(sql`SELECT id, acknowledged FROM courier_receipts`);
  for (const r of rows) {
    const n = ctx.db.get<{ n: bigint }>(
      sql`SELECT count(*) AS n FROM postings WHERE event_id = ${`courier:${r.id}`}`,
    )?.n;
    expect(n, `courier receipt ${r.id} acknowledged=${r.acknowledged}`).toBe(r.acknowledged === 1n ? 2n : 0n);
  }
  const acked = rows.filter((r) => r.acknowledged === 1n).length;
  expect(
    ctx.db.get<{ value: bigint }>(sql`SELECT value FROM counters WHERE name = 'courier_acknowledged_total'`)?.value ??
      0n,
  ).toBe(BigInt(acked));
  expect(ctx.settlement.checkLedger().ok).toBe(true);
  return acked;
}

async function template(dir: string, n: number): Promise<{ dataDir: string; ids: string[]; nodeId: string }> {
  const dataDir = join(dir, 'template');
  const ctx = await openLedger({ dataDir });
  ctx.settlement.setMode('real');
  mkdirSync(join(dir, 'in'));
  const ids = Array.from({ length: n }, (_, i) => {
    writeFileSync(join(dir, 'in', `b${i}`), pseudoRandomBytes(40 + i, i + 3));
    return ctx.courier.send(join(dir, 'in', `b${i}`), 'carrier').id;
  });
  const nodeId = ctx.identity.nodeId;
  ctx.close();
  return { dataDir, ids, nodeId };
}

describe('courier flush: a crash at every boundary (fault injection, SIGKILL)', () => {
  it(
    'never leaves an acknowledgement without its credit or a credit without its acknowledgement; the retry completes once',
    { timeout: 300_000 },
    async () => {
      const dir = tempDir();
      const t = await template(dir, 3); // two batches (size 2): one with a rejected receipt
      const rejected = new Set([t.ids[1] as string]);
      const market = () => new CourierMarket({ reward: REWARD, rejectIds: rejected }).start();

      const refMarket = await market();
      const refDir = join(dir, 'ref');
      cpSync(t.dataDir, refDir, { recursive: true });
      const recorded = await runLedgerChild(child, ['courier-faults', refDir, refMarket.url, '0']);
      await refMarket.close();
      expect(recorded.done).toBe(true);
      const boundaries = recorded.points;
      console.log(`courier flush crosses ${boundaries.length} boundaries: ${[...new Set(boundaries)].join(', ')}`);
      expect(new Set(boundaries)).toEqual(
        new Set([
          'courier.leased',
          'courier.request-built',
          'courier.lease-extended',
          'courier.answered',
          'courier.ack.begun',
          'courier.ack.marked',
          'movement.checked',
          'ledger.balance-updated',
          'ledger.posted',
          'movement.settled',
          'courier.ack.credited',
          'courier.ack.counted',
          'courier.ack.rejected',
          'courier.ack.committing',
          'courier.ack-committed',
          'courier.released',
        ]),
      );

      let killedAfterSomeAck = 0;
      for (let k = 1; k <= boundaries.length; k++) {
        const m = await market();
        open.push(m);
        const dataDir = join(dir, `k${k}`);
        cpSync(t.dataDir, dataDir, { recursive: true });
        const run = await runLedgerChild(child, ['courier-faults', dataDir, m.url, String(k)]);
        expect(run.killed, `crash at boundary ${k} (${boundaries[k - 1]})`).toBe(true);
        expect(run.points).toEqual(boundaries.slice(0, k));
        // Leases of the killed flusher are long expired for a flusher an hour later.
        const ctx = await openLedger({
          dataDir,
          clock: { now: () => Date.now() + 3_600_000 },
          courier: { backoffBaseMs: 1, backoffCapMs: 5 },
        });
        open.push(ctx);
        const acked = checkConsistent(ctx);
        if (acked > 0) killedAfterSomeAck++;
        for (const row of ctx.db.all<{ id: string }>(sql`SELECT id FROM courier_receipts WHERE acknowledged = 1`))
          expect(m.accepted.has(row.id)).toBe(true);
        const s = await ctx.courier.flush(m.url);
        expect(s.error).toBeUndefined();
        expect(ctx.courier.counts()).toEqual({ pending: 0, acknowledged: 2, rejected: 1, failed: 0 });
        expect(checkConsistent(ctx)).toBe(2);
        expect(m.accepted.size).toBe(2);
        expect(ctx.settlement.status().balances.find((b) => b.account === t.nodeId)?.balance).toBe(String(2n * REWARD));
        ctx.close();
      }
      // Kills landed both before any acknowledgement committed and after some had.
      expect(killedAfterSomeAck).toBeGreaterThan(0);
      expect(killedAfterSomeAck).toBeLessThan(boundaries.length);
    },
  );
});

describe('two flushers and an expired lease', () => {
  it("the first flusher's late answer, after the second took its lease over and acknowledged, credits nothing", async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'node');
    const clock = { now: 1_000_000 };
    let answered!: () => void;
    const arrived = new Promise<void>((r) => (answered = r));
    let release!: () => void;
    const stall = new Promise<void>((r) => (release = r));
    // Flusher 1's answer reaches it only after the test lets it: the market has processed the request.
    const slowFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = await res.text();
      answered();
      await stall;
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const courier = { leaseMs: 1_000, backoffBaseMs: 1, backoffCapMs: 5, batchSize: 10 };
    const first = await openLedger({ dataDir, clock: { now: () => clock.now }, courier, fetch: slowFetch });
    open.push(first);
    first.settlement.setMode('real');
    mkdirSync(join(dir, 'in'));
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(dir, 'in', `b${i}`), pseudoRandomBytes(30 + i, i + 1));
      first.courier.send(join(dir, 'in', `b${i}`), 'carrier');
    }
    const m = await new CourierMarket({ reward: 5n }).start();
    open.push(m);

    const late = first.courier.flush(m.url);
    await arrived;
    clock.now += 5_000; // flusher 1's lease has expired
    const second = await openLedger({ dataDir, clock: { now: () => clock.now }, courier });
    open.push(second);
    const s2 = await second.courier.flush(m.url);
    expect(s2).toMatchObject({ duplicate: 3, reward: 15n, pending_after: 0 });
    release();
    const s1 = await late;
    expect(s1).toMatchObject({ accepted: 0, duplicate: 0, reward: 0n });

    const nodeId = first.identity.nodeId;
    const balances = Object.fromEntries(first.settlement.status().balances.map((b) => [b.account, b.balance]));
    expect(balances).toEqual({ [nodeId]: '15', [COURIER_REWARD_SOURCE]: '-15' });
    expect(
      first.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM postings WHERE event_id LIKE 'courier:%'`)?.n,
    ).toBe(6n);
    expect(first.settlement.checkLedger().ok).toBe(true);
  });
});
