import { probationPolicy, resolveValidatorConfig } from '../../src/market/validator/validator-config.js';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/core/market/canonical.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { ed25519SignerFromSeed } from '../../src/node/signing/result-signing.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { SqlConn, SqlDriver } from '../../src/market/store/driver.js';
import { MarketStore, type MarketTx } from '../../src/market/store/market-store.js';
import { sql } from '../../src/market/store/sql.js';
import { CompletionSweeper } from '../../src/market/validator/completion-sweeper.js';
import { payTasks, type TaskPayoutDeps } from '../../src/market/validator/task-payout.js';
import { silentLogger } from '../../src/node/log.js';
import { openMarket } from '../support/market-harness.js';
import { freshDatabases, PG_URL_ENV, pgHarness, type StoreHarness } from './store-harness.js';

/**
 * A task completes once its every job is done, whichever market instance settles the last ones
 * and however they interleave; a task left in progress with every job done is paid by the
 * completion sweep. Money is checked to the micro-CPC: escrow back to 0, every job paid once,
 * balances summing to zero (the mint account is where funds come from).
 */
const SEED = 0xc0de19;
console.log(`task completion test seed ${SEED}`);

const T0 = 1_700_000_000_000;
/** 1.0 CPC: 60% burned, 25% to the workers, 10% validator, 5% treasury. */
const REWARD = 1_000_000n;
const WORKER_POOL = 250_000n;
const MARKET_ID = 'completion-market';

const blake3 = await loadBlake3();
const seedBytes = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (n * 31 + i * 7) & 0xff);
const payout: TaskPayoutDeps = {
  blake3,
  marketId: MARKET_ID,
  signer: ed25519SignerFromSeed(seedBytes(SEED)),
  // No bond held back: these tests count exact worker payouts (bonds: validator-bond.test.ts).
  bond: probationPolicy(resolveValidatorConfig({ bondTarget: 0n })),
};

const url = process.env[PG_URL_ENV];
const pgh: StoreHarness | undefined = url ? pgHarness(url) : undefined;
afterAll(() => pgh?.cleanup());

const stores = freshDatabases();

const opened: MarketStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
async function openStore(driver: SqlDriver): Promise<MarketStore> {
  const s = await MarketStore.open(driver);
  opened.push(s);
  return s;
}

interface Seeded {
  taskId: string;
  customerId: string;
  /** Each job and the worker that holds its lease. */
  jobs: { jobId: string; worker: string }[];
}

/** A funded customer and one task in progress whose `workers.length` jobs are leased, one to each worker; its reward is held in escrow. */
async function seedTask(store: MarketStore, workers: readonly string[], tag: string): Promise<Seeded> {
  return store.transaction(async (tx) => {
    const customerId = randomUUID();
    expect(await tx.customers.insert({ customerId, name: `c-${tag}`, keyHash: `h-${tag}`, createdAt: T0 })).toBe(true);
    await tx.accounts.ensure(ACCOUNTS.customer(customerId), 'customer');
    await tx.accounts.post(
      `fund:${tag}`,
      [
        { account: ACCOUNTS.mint, amount: -REWARD },
        { account: ACCOUNTS.customer(customerId), amount: REWARD },
      ],
      'fund',
      T0,
    );
    const taskId = randomUUID();
    await tx.tasks.insert({
      taskId,
      customerId,
      challengeType: 'synthetic',
      payload: { matrix_size: 8, iterations: 1 },
      reward: REWARD,
      deadline: null,
      status: 'in_progress',
      inputKind: 'payload',
      gpuRequired: false,
      lane: 'consumer',
      createdAt: T0,
    });
    expect(await tx.escrow.hold(taskId, customerId, REWARD, T0)).toBe(true);
    const jobIds = workers.map(() => randomUUID());
    await tx.jobs.insert(
      jobIds.map((jobId, sliceIndex) => ({
        jobId,
        taskId,
        sliceIndex,
        lane: 'consumer' as const,
        gpuRequired: false,
        offer: 0n,
      })),
      T0,
    );
    const jobs: Seeded['jobs'] = [];
    for (const worker of workers) {
      const job = await tx.validator.leaseFor({
        owner: worker,
        lanes: ['consumer'],
        hardwareGpu: false,
        ask: 0n,
        now: T0,
        leaseMs: 60_000,
      });
      expect(job?.taskId).toBe(taskId);
      jobs.push({ jobId: (job as { jobId: string }).jobId, worker });
    }
    return { taskId, customerId, jobs };
  });
}

/** What the settlement group commit writes for one accepted result: the job done on its hash, the result stored. */
async function settleJob(tx: MarketTx, s: Seeded, job: Seeded['jobs'][number], now: number): Promise<void> {
  const hash = blake3.hash(new TextEncoder().encode(`${SEED} ${job.jobId}`));
  const resultHash = Buffer.from(hash).toString('hex');
  await tx.settlement.finishJobs([{ jobId: job.jobId, resultHash }], now);
  await tx.settlement.insertResults(
    [
      {
        jobId: job.jobId,
        taskId: s.taskId,
        workerAddress: job.worker,
        epoch: 1,
        verdict: 'accepted',
        resultHash,
        settledHash: resultHash,
        checked: false,
        result: { job_id: job.jobId } as JsonValue,
      },
    ],
    now,
  );
}

interface Books {
  status: string | undefined;
  escrowStatus: string | undefined;
  escrow: bigint;
  workers: bigint[];
  /** Receipts stored per job, in the seeded job order. */
  receiptsPerJob: number[];
  /** Every account's balance summed (0: nothing created or lost). */
  sum: bigint;
  /** Escrow legs posted for this task's payout (1: paid once). */
  payouts: number;
}

/** The task's state and the books, read through a plain transaction of `driver`. */
async function books(store: MarketStore, driver: SqlDriver, s: Seeded): Promise<Books> {
  // One statement at a time: a transaction is one connection.
  const repo = await store.transaction(async (tx) => {
    const workers: bigint[] = [];
    const receiptsPerJob: number[] = [];
    for (const j of s.jobs) {
      workers.push(await tx.accounts.balance(ACCOUNTS.worker(j.worker)));
      const stored = await tx.validator.receipts(j.worker, false);
      receiptsPerJob.push(stored.filter((r) => (r.receipt as { job_id: string }).job_id === j.jobId).length);
    }
    return {
      status: (await tx.tasks.get(s.taskId))?.status,
      escrowStatus: (await tx.escrow.get(s.taskId))?.status,
      escrow: await tx.accounts.escrowTotal(),
      workers,
      receiptsPerJob,
    };
  });
  const raw = await driver.transaction(async (c) => ({
    sum: (await c.query<{ s: bigint }>(sql`SELECT COALESCE(sum(balance), 0)::bigint AS s FROM accounts`))[0]?.s,
    payouts: (
      await c.query(sql`SELECT 1 FROM postings WHERE event_id = ${`payout:${s.taskId}`} AND account_id LIKE 'escrow:%'`)
    ).length,
  }));
  return { ...repo, sum: BigInt(raw.sum ?? 0n), payouts: raw.payouts };
}

/** The books of a task paid exactly once, its worker pool split evenly over its jobs. */
const paidOnce = (s: Seeded): Books => ({
  status: 'completed',
  escrowStatus: 'released',
  escrow: 0n,
  workers: s.jobs.map(() => WORKER_POOL / BigInt(s.jobs.length)),
  receiptsPerJob: s.jobs.map(() => 1),
  sum: 0n,
  payouts: 1,
});

/** A driver whose `last` is the connection of the transaction it began most recently (read it first thing in the transaction). */
function tapped(d: SqlDriver): SqlDriver & { last: () => SqlConn } {
  let last: SqlConn | undefined;
  return {
    kind: d.kind,
    location: d.location,
    transaction: (fn) =>
      d.transaction((c) => {
        last = c;
        return fn(c);
      }),
    close: () => d.close(),
    last: () => {
      if (!last) throw new Error('no transaction has begun on this driver');
      return last;
    },
  };
}

const sweeper = (store: MarketStore, delivered: string[] = []) =>
  new CompletionSweeper({
    store,
    clock: { now: () => T0 + 5_000 },
    logger: silentLogger,
    pay: (tx, taskIds, now) => payTasks(tx, taskIds, now, payout),
    deliver: (receipts) => delivered.push(...receipts.map((r) => (r.receipt as { job_id: string }).job_id)),
  });

for (const s of stores) {
  describe(`completion sweep (${s.name})`, () => {
    it('pays a task left in progress with every job done, once: a second runOnce changes nothing', async () => {
      const driver = await s.open();
      const store = await openStore(driver);
      const seeded = await seedTask(store, ['worker-a', 'worker-b', 'worker-c', 'worker-d'], 'stuck');
      // Stuck: every job settled and committed, the task never completed (no payTasks ran).
      await store.transaction(async (tx) => {
        for (const j of seeded.jobs) await settleJob(tx, seeded, j, T0 + 1_000);
      });
      // A task still running is not touched.
      const running = await seedTask(store, ['worker-e', 'worker-f'], 'running');
      await store.transaction((tx) => settleJob(tx, running, running.jobs[0] as Seeded['jobs'][number], T0 + 1_000));

      const before = await books(store, driver, seeded);
      expect(before).toMatchObject({ status: 'in_progress', escrowStatus: 'held', escrow: 2n * REWARD });

      const delivered: string[] = [];
      const first = await sweeper(store, delivered).runOnce();
      expect(first).toEqual({ completed: [seeded.taskId], receipts: 4 });
      expect(delivered.sort()).toEqual(seeded.jobs.map((j) => j.jobId).sort());
      expect(await books(store, driver, seeded)).toEqual({ ...paidOnce(seeded), escrow: REWARD });
      expect((await store.transaction((tx) => tx.tasks.get(running.taskId)))?.status).toBe('in_progress');

      const second = await sweeper(store).runOnce();
      expect(second).toEqual({ completed: [], receipts: 0 });
      expect(await books(store, driver, seeded)).toEqual({ ...paidOnce(seeded), escrow: REWARD });
    }, 60_000);

    it('runs when the market starts: a stuck task in the store is paid before the first provider joins', async () => {
      const driver = await s.open();
      const store = await openStore(driver);
      const seeded = await seedTask(store, ['worker-a', 'worker-b'], 'at-start');
      await store.transaction(async (tx) => {
        for (const j of seeded.jobs) await settleJob(tx, seeded, j, T0 + 1_000);
      });
      const m = await openMarket({
        store,
        clock: { now: () => T0 + 10_000 },
        blake3,
        // Timed sweeps on (the completion sweep runs with them), long enough never to fire in the test.
        config: { sweepMs: 600_000, bondTarget: 0n },
        marketId: MARKET_ID,
        listen: false,
      });
      try {
        expect(await books(store, driver, seeded)).toEqual(paidOnce(seeded));
        expect(await m.validator.completion.runOnce()).toEqual({ completed: [], receipts: 0 });
      } finally {
        await m.close();
      }
    }, 60_000);
  });
}

describe('the last two jobs of a task settled at once by two market instances (postgres)', () => {
  if (!url || !pgh) {
    it.skip(`skipped: set ${PG_URL_ENV} to a PostgreSQL URL (e.g. postgres:///postgres?host=/var/run/postgresql) to race two instances on one database`, () =>
      undefined);
    return;
  }
  const h = pgh;
  const admin = new pg.Client({ connectionString: url });
  afterAll(() => admin.end());

  /**
   * Resolves once the backend `pid` is waiting for a lock `holder` holds, or has finished the
   * completion check and sits idle in its transaction. This is the state PostgreSQL's isolation
   * tester waits for between steps (pg_isolation_test_session_is_blocked); the server checks it
   * in one statement, so the test itself never sleeps.
   */
  async function untilBlockedOrChecked(pid: number, holder: number): Promise<void> {
    if (!Number.isInteger(pid) || !Number.isInteger(holder)) throw new Error(`bad backend pids ${pid}, ${holder}`);
    await admin.query(`SET statement_timeout = '60s'`);
    await admin.query(`DO $$ BEGIN
      LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN pg_isolation_test_session_is_blocked(${pid}, ARRAY[${holder}])
          OR EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND state = 'idle in transaction'
                       AND query LIKE '%NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_id = t.task_id AND j.status <> ''done'')%');
        PERFORM pg_sleep(0.001);
      END LOOP;
    END $$`);
  }

  const pidOf = async (c: SqlConn) =>
    Number((await c.query<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`))[0]?.pid);

  it('completes the task exactly once and pays every job once, whichever commits first', async () => {
    await admin.connect();
    const schema = await h.newLocation();
    const driverA = tapped(await h.open(schema));
    const driverB = tapped(await h.open(schema));
    const storeA = await openStore(driverA);
    const storeB = await openStore(driverB);
    const seeded = await seedTask(storeA, ['worker-a', 'worker-b'], 'race');
    const [jobA, jobB] = seeded.jobs as [Seeded['jobs'][number], Seeded['jobs'][number]];

    const gate = () => {
      let open = () => undefined as void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { opened, open };
    };
    const aSettled = gate();
    const aChecked = gate();
    const bSettled = gate();
    const commitA = gate();
    const commitB = gate();
    let pidA = 0;
    let pidB = 0;

    // Instance A settles the task's first job, instance B its second, both transactions open; then
    // each runs the completion check (payTasks) before either commits.
    const a = storeA.transaction(async (tx) => {
      pidA = await pidOf(driverA.last());
      await settleJob(tx, seeded, jobA, T0 + 1_000);
      aSettled.open();
      await bSettled.opened;
      const paid = await payTasks(tx, [seeded.taskId], T0 + 1_000, payout);
      aChecked.open();
      await commitA.opened;
      return paid;
    });
    await aSettled.opened;
    const b = storeB.transaction(async (tx) => {
      pidB = await pidOf(driverB.last());
      await settleJob(tx, seeded, jobB, T0 + 1_001);
      bSettled.open();
      await aChecked.opened;
      const paid = await payTasks(tx, [seeded.taskId], T0 + 1_001, payout);
      await commitB.opened;
      return paid;
    });
    await aChecked.opened;
    // B's check has run (and found A's job unfinished), or B waits for A's lock on the task.
    await untilBlockedOrChecked(pidB, pidA);
    commitA.open();
    const paidA = await a;
    commitB.open();
    const paidB = await b;

    console.log(`race: A completed ${paidA.completed.length}, B completed ${paidB.completed.length}`);
    expect(paidA.completed).toEqual([]);
    expect(paidB.completed).toEqual([seeded.taskId]);
    expect(await books(storeA, driverA, seeded)).toEqual(paidOnce(seeded));
    // Nothing left for a sweep.
    expect(await sweeper(storeB).runOnce()).toEqual({ completed: [], receipts: 0 });
    expect(await books(storeA, driverA, seeded)).toEqual(paidOnce(seeded));
  }, 120_000);
});
