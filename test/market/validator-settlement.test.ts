import { describe, expect, it } from 'vitest';
import {
  computeResultToJson,
  type ComputeResult,
  type UnsignedComputeResult,
} from '../../src/core/market/compute-result.js';
import { createTaskBody } from '../../src/market/http/task-schemas.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { SqlDriver } from '../../src/market/store/driver.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import type { JobFrame, MarketFrame } from '../../src/shared/market-protocol.js';
import { escrowTotal, expectBooksEqual } from '../support/books.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';
import { freshDatabases } from './store-harness.js';
import { balance } from '../support/market.js';
import { fundedCustomer, testMarkets, type FundedCustomer, type MarketInstance } from '../support/market-harness.js';

/**
 * The validator's group commit is set-based (issue 9, "Settlement batches its writes"): a group of
 * K results costs a constant number of store statements, and batching never pays anything twice.
 * Runs on the embedded store and, when TESSERA_TEST_PG_URL is set, on a PostgreSQL server.
 */
const SEED = 0x5e771e;
console.log(`validator settlement test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

const clock = { now: () => Date.now() };
/** 1.0 CPC per task, one slice each: 60/25/10/5 in micro-CPC. */
const REWARD = 1_000_000n;
const SPLIT = { burn: 600_000n, worker: 250_000n, validator: 100_000n, treasury: 50_000n };

interface Counted {
  /** Statements of each transaction that ended while recording, in order. */
  sizes: number[];
  /** The texts of those statements, per transaction. */
  texts: string[][];
  recording: boolean;
}

/** The driver with each transaction's statement count recorded (the real driver runs every statement). */
function counting(d: SqlDriver, c: Counted): SqlDriver {
  return {
    kind: d.kind,
    location: d.location,
    async transaction(fn) {
      const texts: string[] = [];
      try {
        return await d.transaction((conn) =>
          fn({
            query(q) {
              texts.push(q.strings.join('$').replace(/\s+/g, ' ').trim());
              return conn.query(q);
            },
            exec: (text) => conn.exec(text),
          }),
        );
      } finally {
        if (c.recording) {
          c.sizes.push(texts.length);
          c.texts.push(texts);
        }
      }
    },
    close: () => d.close(),
  };
}

type SettleMarket = MarketInstance & FundedCustomer & { counted: Counted };

const stores = freshDatabases();
const markets = testMarkets();

/** A market whose group commit waits `settleWindowMs` (long enough for a test to land K results in one group); sweep and batches off. */
async function countingMarket(
  openDriver: () => Promise<SqlDriver>,
  config: Partial<ValidatorConfig>,
): Promise<SettleMarket> {
  const counted: Counted = { sizes: [], texts: [], recording: false };
  const m = await markets.open({
    store: async () => counting(await openDriver(), counted),
    clock,
    // No bond unless a test asks for one: these tests count exact worker payouts (bonds: validator-bond.test.ts).
    config: { settleWindowMs: 400, bondTarget: 0n, ...config },
    marketId: 'settlement-market',
  });
  return { ...m, ...(await fundedCustomer(m.server)), counted };
}

const inference = (tag: string) =>
  createTaskBody.parse({
    challenge_type: 'inference',
    payload: { model_id: 'm', prompt: tag, max_tokens: 1 },
    reward: '1.0',
  });

/** The honest result of a job (or a wrong one: `o.result_hash`). */
function resultFor(
  m: SettleMarket,
  p: RawProvider,
  job: JobFrame,
  o: Partial<UnsignedComputeResult> = {},
): ComputeResult {
  return p.signedResult(job, m.blake3, nonce++, o);
}

const send = (p: RawProvider, r: ComputeResult) => p.sendResult(computeResultToJson(r));
const acks = (p: RawProvider) =>
  p.frames.filter((f): f is Extract<MarketFrame, { type: 'result_ack' }> => f.type === 'result_ack');
const receipts = (p: RawProvider) => p.frames.filter((f) => f.type === 'receipt');

/** K one-slice tasks leased to one provider, then all K honest results sent at once: the statements of the group commit, and the exact balances. */
async function settleBurst(
  openDriver: () => Promise<SqlDriver>,
  k: number,
  seed: number,
): Promise<{ groupStatements: number; groups: number; afterPostingsLocked: string[] }> {
  const m = await countingMarket(openDriver, { checkFraction: 0.2 });
  const p = new RawProvider(m.base, m.blake3, seedFrom(seed));
  try {
    await p.join({ max_jobs: k });
    for (let i = 0; i < k; i++) await m.server.tasks.create(m.customer, inference(`burst-${seed}-${i}`));
    m.validator.kick();
    await p.waitFor(`${k} jobs`, () => p.jobs().length === k || undefined);
    const results = p.jobs().map((j) => resultFor(m, p, j));
    m.counted.recording = true;
    for (const r of results) send(p, r);
    await p.waitFor(`${k} acks`, () => acks(p).length === k || undefined);
    await p.waitFor(`${k} receipts`, () => receipts(p).length === k || undefined);
    m.counted.recording = false;
    expect(acks(p).every((a) => a.accepted)).toBe(true);
    expect(SPLIT.burn + SPLIT.worker + SPLIT.validator + SPLIT.treasury).toBe(REWARD);
    // Exact money: every task paid once, 60/25/10/5.
    expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(BigInt(k) * SPLIT.worker);
    expect(await balance(m, ACCOUNTS.burn)).toBe(BigInt(k) * SPLIT.burn);
    expect(await balance(m, ACCOUNTS.validator)).toBe(BigInt(k) * SPLIT.validator);
    expect(await balance(m, ACCOUNTS.treasury)).toBe(BigInt(k) * SPLIT.treasury);
    expect(await escrowTotal(m)).toBe(0n);
    const groups = await m.store.transaction(
      async (tx) =>
        new Set(
          (await tx.validator.receipts(p.address, false)).map((r) => (r.receipt as { issued_at: number }).issued_at),
        ).size,
    );
    // The payout's postings lock rows every payout on every instance shares (the customer's escrow
    // account, burn, validator, treasury): what the transaction still runs after locking them.
    const settle = m.counted.texts.find((t) =>
      t.some((x) => x.startsWith("WITH t AS ( UPDATE tasks SET status = 'completed'")),
    );
    const locked = settle?.findIndex((x) => x.includes('FROM accounts a JOIN') && x.includes('FOR UPDATE OF a')) ?? -1;
    expect(locked).toBeGreaterThan(0);
    return {
      groupStatements: Math.max(...m.counted.sizes),
      groups,
      afterPostingsLocked: settle?.slice(locked + 1) ?? [],
    };
  } finally {
    p.close();
  }
}

for (const s of stores) {
  describe(`settlement group commit (${s.name})`, () => {
    it('a group of 50 results costs no more store statements than a group of 5 (set-based, not a loop per result), and pays exactly', async () => {
      const five = await settleBurst(s.open, 5, SEED + 1);
      const fifty = await settleBurst(s.open, 50, SEED + 2);
      console.log(
        `${s.name}: group commit statements K=5 ${five.groupStatements} (${five.groups} group), K=50 ${fifty.groupStatements} (${fifty.groups} group)`,
      );
      expect(five.groups).toBe(1);
      expect(fifty.groups).toBe(1);
      expect(fifty.groupStatements).toBeLessThanOrEqual(five.groupStatements + 2);
      expect(fifty.groupStatements).toBeLessThanOrEqual(20);
      // Completing the tasks and storing their receipts come before the postings lock the shared
      // accounts: after the lock only the balances move (and the notification is sent).
      for (const r of [five, fifty])
        expect(r.afterPostingsLocked.filter((x) => !x.startsWith('SELECT pg_notify'))).toEqual([
          expect.stringMatching(/^WITH moved AS \( UPDATE accounts/),
        ]);
    }, 240_000);

    it('one group holding two results for the same job, and a nonce used twice, pays once; a redelivered result later pays nothing', async () => {
      const m = await countingMarket(s.open, { checkFraction: 0 });
      const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 3));
      try {
        await p.join({ max_jobs: 2 });
        await m.server.tasks.create(m.customer, inference('twice'));
        await m.server.tasks.create(m.customer, inference('other'));
        m.validator.kick();
        await p.waitFor('2 jobs', () => p.jobs().length === 2 || undefined);
        const [a, b] = p.jobs() as [JobFrame, JobFrame];
        const first = resultFor(m, p, a);
        const second = resultFor(m, p, a);
        const other = resultFor(m, p, b);
        // Same nonce as `other`, for the same job: a replay inside the group.
        const replay = resultFor(m, p, b, { nonce: other.nonce });
        for (const r of [first, second, other, replay]) send(p, r);
        await p.waitFor('4 acks', () => acks(p).length === 4 || undefined);
        const byJob = (id: string) => acks(p).filter((x) => x.job_id === id);
        expect(byJob(a.job_id).map((x) => x.code)).toEqual([null, 'NOT_LEASED']);
        expect(byJob(b.job_id).map((x) => x.code)).toEqual([null, 'REPLAYED']);
        await p.waitFor('2 receipts', () => receipts(p).length === 2 || undefined);
        expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(2n * SPLIT.worker);
        expect(await balance(m, ACCOUNTS.burn)).toBe(2n * SPLIT.burn);
        expect(await m.store.transaction((tx) => tx.validator.results(a.job_id))).toHaveLength(1);

        // The first result delivered again (a provider that lost the ack): refused, nothing more paid.
        send(p, first);
        await p.waitFor('the redelivery ack', () => acks(p).length === 5 || undefined);
        expect(acks(p)[4]).toMatchObject({ job_id: a.job_id, accepted: false, code: 'REPLAYED' });
        expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(2n * SPLIT.worker);
        expect(await m.store.transaction((tx) => tx.validator.receipts(p.address, false))).toHaveLength(2);
      } finally {
        p.close();
      }
    }, 180_000);

    it('two wrong results of one provider in one group are both penalized in turn: the first takes the funded bond, two penalty rows, nothing paid to it', async () => {
      const m = await countingMarket(s.open, {
        checkFraction: 1,
        bondTarget: 10_000_000n,
        initialReputation: 100,
        reputationDrop: 30,
        refuseAfter: 2,
      });
      const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 4));
      try {
        await p.join({ max_jobs: 2 });
        // A bond of 10 CPC deposited from earnings the provider already has.
        await m.store.transaction(async (tx) => {
          await tx.accounts.ensure(ACCOUNTS.worker(p.address), 'worker');
          await tx.accounts.post(
            'earned-before',
            [
              { account: ACCOUNTS.mint, amount: -10_000_000n },
              { account: ACCOUNTS.worker(p.address), amount: 10_000_000n },
            ],
            'earnings',
            0,
          );
          expect(await tx.bonds.deposit(p.address, 10_000_000n, 'bond-deposit', 0)).toBe(true);
        });
        await m.server.tasks.create(m.customer, inference('wrong-1'));
        await m.server.tasks.create(m.customer, inference('wrong-2'));
        m.validator.kick();
        await p.waitFor('2 jobs', () => p.jobs().length === 2 || undefined);
        const jobs = p.jobs();
        for (const j of jobs) send(p, resultFor(m, p, j, { result_hash: 'ab'.repeat(32) }));
        await p.waitFor('2 acks', () => acks(p).length === 2 || undefined);
        expect(acks(p).map((x) => x.code)).toEqual(['WRONG_RESULT', 'WRONG_RESULT']);
        const after = await m.store.transaction((tx) => tx.validator.provider(p.address));
        expect(after).toMatchObject({ bond: 0n, wrongResults: 2, refused: true, reputation: 40 });
        expect(await m.store.transaction((tx) => tx.validator.penalties(p.address))).toEqual(
          jobs.map((j, i) => ({ jobId: j.job_id, reason: 'WRONG_RESULT', slashed: i === 0 ? 10_000_000n : 0n })),
        );
        // Treasury: the slashed bond, and its 5% of the two tasks (settled on the validator's digests in the same commit).
        expect(await balance(m, ACCOUNTS.treasury)).toBe(10_000_000n + 2n * SPLIT.treasury);
        await expectBooksEqual(m);
        expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(0n);
        // Both slices settled on the validator's verified digests: the tasks complete, the worker pool goes to the validator.
        await until(
          'the tasks paid',
          () => balance(m, ACCOUNTS.validator),
          (v) => v === 2n * (SPLIT.validator + SPLIT.worker),
        );
      } finally {
        p.close();
      }
    }, 180_000);
  });
}
