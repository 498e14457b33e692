import { describe, expect, it } from 'vitest';
import { MAX_CREDITS } from '../../src/core/ledger/credits.js';
import type { Receipt } from '../../src/core/ledger/receipt.js';
import { sql } from '../../src/main/db/sql.js';
import { SETTLEMENT_BATCH_SIZE } from '../../src/main/services/settlement-service.js';
import { seededRandom as rng } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';
import { openSettlement, receipt } from './ledger-fixtures.js';

type Settlement = ReturnType<typeof openSettlement>;

/** Everything settlement stores, in a comparable form (row order included: it is the history). */
function stored(s: Settlement) {
  const db = s.db;
  return {
    receipts: db.all(
      sql`SELECT idempotency_key, payload, status, reason, recorded_at, applied_at FROM receipts ORDER BY idempotency_key`,
    ),
    accounts: db.all(sql`SELECT id, balance FROM accounts ORDER BY id`),
    // Mint event ids are random (uuid v7): compared by kind only.
    postings: db
      .all<{ event_id: string }>(
        sql`SELECT seq, event_id, account, amount, kind, memo, created_at FROM postings ORDER BY seq`,
      )
      .map((p) => ({
        ...p,
        event_id: p.event_id.startsWith('mint:') ? 'mint:*' : p.event_id,
      })),
    movements: db.all(
      sql`SELECT seq, event_id, source, ref, kind, from_account, to_account, amount, memo, created_at, status, reason, applied_at FROM pending_movements ORDER BY seq`,
    ),
    counters: db.all(sql`SELECT name, labels, value FROM counters ORDER BY name, labels`),
    settings: db.all(sql`SELECT key, value FROM settings ORDER BY key`),
  };
}

/** The obvious per-receipt rule, independent of the code: what each receipt's outcome must be. */
class Model {
  balances = new Map<string, bigint>();
  keys = new Map<string, string>();
  real = false;
  outcome(r: Receipt, payload: string): string {
    const known = this.keys.get(r.idempotency_key);
    if (known !== undefined) return known === payload ? 'duplicate' : 'conflict';
    this.keys.set(r.idempotency_key, payload);
    if (!this.real) return 'recorded';
    const have = this.balances.get(r.buyer) ?? 0n;
    const next = (this.balances.get(r.provider) ?? 0n) + r.quote_price;
    if (have < r.quote_price || next > MAX_CREDITS) {
      this.real = false;
      return 'failed';
    }
    this.balances.set(r.buyer, have - r.quote_price);
    this.balances.set(r.provider, next);
    return 'applied';
  }
}

describe('settlement batches', () => {
  it('store exactly what applying the same receipts one at a time stores, with the same result per receipt', () => {
    const seed = Number(process.env.SETTLEMENT_BATCH_SEED ?? Date.now() % 2 ** 31);
    console.log(`settlement batch equivalence seed ${seed} (replay: SETTLEMENT_BATCH_SEED=${seed})`);
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const accounts = ['b1', 'b2', 'p1', 'p2'];
    const pool: Receipt[] = Array.from({ length: 120 }, (_, i) => {
      const buyer = pick(accounts);
      const provider = pick(accounts.filter((a) => a !== buyer));
      const price = pick([0n, 1n, 2n, 7n, 20n, BigInt(Math.floor(rand() * 100))]);
      return receipt(`job-${i}`, price, buyer, provider);
    });
    let batches = 0;
    let outcomes = new Map<string, number>();
    for (let scenario = 0; scenario < 12; scenario++) {
      const clock = { now: 1_000 };
      const one = openSettlement(tempDir(), clock);
      const many = openSettlement(tempDir(), clock);
      const model = new Model();
      try {
        // Every third scenario p2 sits close to the top of the range: a receipt paying it overflows.
        const funds = new Map([
          ['b1', 3000n],
          ['b2', 400n],
          ['p1', 50n],
          ['p2', scenario % 3 === 0 ? MAX_CREDITS - 300n : 10n],
        ]);
        for (const s of [one, many]) for (const [account, amount] of funds) s.service.fund(account, amount);
        for (let round = 0; round < 3; round++) {
          const mode = pick(['real', 'real', 'dry_run'] as const);
          for (const s of [one, many]) s.service.setMode(mode);
          // Turning real applies what dry-run recorded: bring the model to the stored balances.
          model.real = one.service.status().mode === 'real';
          model.balances = new Map(one.service.status().balances.map((b) => [b.account, BigInt(b.balance)]));
          const batch: Receipt[] = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => {
            const r = pick(pool);
            // Now and then the same key with other contents: a conflict.
            return rand() < 0.08 ? { ...r, issued_at: r.issued_at + 1 } : r;
          });
          clock.now += 1_000;
          const sequential = batch.map((r) => one.service.apply(r));
          const batched = many.service.applyBatch(batch);
          batches++;
          expect(batched, `seed ${seed} scenario ${scenario} round ${round}`).toEqual(sequential);
          const expected = batch.map((r) =>
            model.outcome(r, JSON.stringify({ ...r, quote_price: r.quote_price.toString() })),
          );
          expect(
            batched.map((r) => r.outcome),
            `seed ${seed} scenario ${scenario} round ${round}`,
          ).toEqual(expected);
          for (const r of batched) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
          expect(stored(many), `seed ${seed} scenario ${scenario} round ${round}`).toEqual(stored(one));
          expect(many.service.status()).toEqual(one.service.status());
          expect(many.service.checkLedger().ok).toBe(true);
        }
      } finally {
        one.close();
        many.close();
      }
    }
    console.log(`${batches} batches, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
    // The scenarios must have exercised every outcome, or they prove less than they claim.
    expect([...outcomes.keys()].sort()).toEqual(['applied', 'conflict', 'duplicate', 'failed', 'recorded']);
    outcomes = new Map();
  });

  it('a batch larger than SETTLEMENT_BATCH_SIZE commits per chunk and still settles every receipt once', () => {
    const clock = { now: 5 };
    const s = openSettlement(tempDir(), clock);
    try {
      s.service.fund('buyer', 10n ** 12n);
      s.service.setMode('real');
      const n = SETTLEMENT_BATCH_SIZE * 2 + 7;
      const rs = Array.from({ length: n }, (_, i) => receipt(`big-${i}`, BigInt(1 + (i % 13))));
      const total = rs.reduce((a, r) => a + r.quote_price, 0n);
      const results = s.service.applyBatch([...rs, rs[3] as Receipt]);
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(n);
      expect(results.at(-1)?.outcome).toBe('duplicate');
      const balances = Object.fromEntries(s.service.status().balances.map((b) => [b.account, BigInt(b.balance)]));
      expect(balances).toEqual({ buyer: 10n ** 12n - total, provider: total });
      expect(s.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM postings WHERE event_id LIKE 'receipt:%'`)?.n).toBe(
        BigInt(2 * n),
      );
      expect(
        s.db.get<{ value: bigint }>(sql`SELECT value FROM counters WHERE name = 'settle_applied_total'`)?.value,
      ).toBe(BigInt(n));
      expect(
        s.db.get<{ value: bigint }>(
          sql`SELECT value FROM counters WHERE name = 'matches_total' AND labels = 'dry_run=false'`,
        )?.value,
      ).toBe(BigInt(n));
      expect(s.service.checkLedger().ok).toBe(true);
    } finally {
      s.close();
    }
  });
});
