import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { splitReward } from '../../src/core/market/payout.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { SqlDriver } from '../../src/market/store/driver.js';
import { MarketStore, type MarketTx } from '../../src/market/store/market-store.js';
import { MARKET_MIGRATIONS } from '../../src/market/store/migrations.js';
import type { TaskRecord } from '../../src/market/store/tasks-repo.js';
import { sql } from '../../src/market/store/sql.js';
import { resetStore, type StoreHarness } from './store-harness.js';

const T0 = 1_700_000_000_000;

async function addCustomer(tx: MarketTx, name: string, funds = 0n): Promise<string> {
  const customerId = randomUUID();
  expect(await tx.customers.insert({ customerId, name, keyHash: `hash-${name}`, createdAt: T0 })).toBe(true);
  await tx.accounts.ensure(ACCOUNTS.customer(customerId), 'customer');
  if (funds > 0n)
    expect(
      await tx.accounts.post(
        `fund:${name}`,
        [
          { account: ACCOUNTS.mint, amount: -funds },
          { account: ACCOUNTS.customer(customerId), amount: funds },
        ],
        'fund',
        T0,
      ),
    ).toBe(true);
  return customerId;
}

function task(customerId: string, over: Partial<TaskRecord> = {}): Parameters<MarketTx['tasks']['insert']>[0] {
  return {
    taskId: randomUUID(),
    customerId,
    challengeType: 'synthetic',
    payload: { matrix_size: 8, iterations: 1 },
    reward: 1_000_000n,
    deadline: null,
    status: 'pending',
    inputKind: 'payload',
    gpuRequired: false,
    lane: 'consumer',
    createdAt: T0,
    ...over,
  };
}

/** The store tests, run unchanged on every driver (PGlite in-process, PostgreSQL through pg). */
export function storeSuite(h: StoreHarness): void {
  afterAll(() => h.cleanup());

  describe(`market store migrations (${h.name})`, () => {
    it('migrates a fresh store, records each migration with its hash, and reopens without change', async () => {
      const loc = await h.newLocation();
      const store = await MarketStore.open(await h.open(loc));
      await store.close();
      const driver = await h.open(loc);
      try {
        const rows = await driver.transaction((c) =>
          c.query<{ id: number; hash: string }>(sql`SELECT id, hash FROM market_migrations ORDER BY id`),
        );
        expect(rows.map((r) => r.id)).toEqual(MARKET_MIGRATIONS.map((m) => m.id));
        expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
      } finally {
        await driver.close();
      }
      const again = await MarketStore.open(await h.open(loc));
      await again.close();

      const edited = MARKET_MIGRATIONS.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
      await expect(MarketStore.open(await h.open(loc), edited)).rejects.toMatchObject({ code: 'MIGRATION_EDITED' });
      await expect(MarketStore.open(await h.open(loc), [])).rejects.toMatchObject({ code: 'STORE_TOO_NEW' });
    });
  });

  describe(`market store (${h.name})`, () => {
    let driver: SqlDriver;
    let store: MarketStore;

    beforeAll(async () => {
      driver = await h.open(await h.newLocation());
      store = await MarketStore.open(driver);
    });
    afterAll(async () => {
      await store?.close();
    });
    beforeEach(async () => {
      await resetStore(driver);
    });

    it('stores customers by key hash and refuses a second customer of the same name', async () => {
      await store.transaction(async (tx) => {
        const id = await addCustomer(tx, 'alice');
        expect(await tx.customers.byKeyHash('hash-alice')).toEqual({ customerId: id, name: 'alice', createdAt: T0 });
        expect(await tx.customers.byKeyHash('hash-nobody')).toBeUndefined();
        expect(
          await tx.customers.insert({ customerId: randomUUID(), name: 'alice', keyHash: 'other', createdAt: T0 }),
        ).toBe(false);
      });
    });

    it('reads a customer by key hash outside a transaction (store.read) as inside one', async () => {
      const id = await store.transaction((tx) => addCustomer(tx, 'reader'));
      expect(await store.read((r) => r.customers.byKeyHash('hash-reader'))).toEqual({
        customerId: id,
        name: 'reader',
        createdAt: T0,
      });
      expect(await store.read((r) => r.customers.byKeyHash('hash-nobody'))).toBeUndefined();
    });

    it('writes a split in one statement per kind of row: jobs, inputs, holds and statuses of several tasks; one read for a lease', async () => {
      await store.transaction(async (tx) => {
        const id = await addCustomer(tx, 'splitter');
        const a = await tx.tasks.insert(task(id, { status: 'pending' }));
        const b = await tx.tasks.insert(task(id, { status: 'pending' }));
        expect(a).toEqual(await tx.tasks.get(a.taskId));
        // A dispatch pass's first read: both tasks to split, nothing waiting, an empty queue.
        const toSplit = await tx.tasks.lockToSplit(50);
        expect(toSplit.map((t) => t.taskId).sort()).toEqual([a.taskId, b.taskId].sort());
        expect(toSplit.find((t) => t.taskId === a.taskId)).toEqual(a);
        expect(await tx.validator.passView()).toEqual({ waiting: false, shape: [] });
        expect(await tx.tasks.lockToSplit(1)).toHaveLength(1);
        const jobs = [
          {
            jobId: randomUUID(),
            taskId: a.taskId,
            sliceIndex: 0,
            lane: 'consumer' as const,
            gpuRequired: false,
            offer: 7n,
          },
          {
            jobId: randomUUID(),
            taskId: a.taskId,
            sliceIndex: 1,
            lane: 'consumer' as const,
            gpuRequired: false,
            offer: 7n,
          },
          {
            jobId: randomUUID(),
            taskId: b.taskId,
            sliceIndex: 0,
            lane: 'industrial' as const,
            gpuRequired: true,
            offer: 2n ** 40n,
          },
        ];
        await tx.jobs.insert(jobs, T0);
        await tx.validator.holdForAdmission([a.taskId, b.taskId]);
        const inputs = jobs.map((j, i) => ({
          jobId: j.jobId,
          workload: 'inference' as const,
          source: 'payload' as const,
          sliceN: null,
          byteOffset: i * 10,
          byteLength: 2 ** 33 + i,
          matrixSize: null,
          iterations: null,
        }));
        await tx.validator.insertInputs(inputs);
        for (const [i, j] of jobs.entries()) {
          expect(await tx.jobs.get(j.jobId)).toMatchObject({ ...j, status: 'queued', createdAt: T0 });
          expect(await tx.validator.input(j.jobId)).toEqual(inputs[i]);
        }
        expect((await tx.validator.admissionState(jobs[2]!.jobId))?.admission).toBe('pending');
        expect((await tx.validator.admissionState(jobs[0]!.jobId))?.admission).toBe('admitted');
        // Split now: nothing left to split, the industrial job waits for admission, the queue's shape as queueShape reads it.
        expect(await tx.tasks.lockToSplit(50)).toEqual([]);
        expect(await tx.validator.passView()).toEqual({
          waiting: true,
          shape: await tx.validator.queueShape(),
        });
        expect((await tx.validator.passView()).shape).toEqual([
          { lane: 'consumer', gpuRequired: false, count: 2, maxOffer: 7n },
        ]);
        expect(
          (await tx.tasks.transitionMany([a.taskId, b.taskId], ['pending'], 'in_progress', T0 + 1)).sort(),
        ).toEqual([a.taskId, b.taskId].sort());
        expect(await tx.tasks.transitionMany([a.taskId], ['pending'], 'in_progress', T0 + 2)).toEqual([]);
        // The lease's one statement: the job leased, with its task, input, (none yet, then the
        // recorded) assignment and the provider's probation, as the single reads give them.
        const j0 = jobs[0]!.jobId;
        const leaseReq = (owner: string, now: number) => ({
          owner,
          lanes: ['consumer', 'industrial'],
          hardwareGpu: true,
          ask: 0n,
          now,
          leaseMs: 500,
        });
        const first = await tx.validator.leaseNext(leaseReq('cpc1p', T0 + 3));
        expect(first).toEqual({
          job: await tx.jobs.get(j0),
          task: await tx.tasks.get(a.taskId),
          input: inputs[0],
          previous: undefined,
          pair: undefined,
          probation: await tx.bonds.probation('cpc1p'),
        });
        await tx.validator.putAssignments(
          [
            {
              jobId: j0,
              provider: 'cpc1p',
              epoch: 3,
              lease: { kind: 'x', n: 1 },
              assignmentKey: 'ab',
              checked: true,
              blockHash: null,
            },
          ],
          T0,
        );
        const recorded = await tx.validator.assignment(j0);
        expect(recorded).toMatchObject({ jobId: j0, provider: 'cpc1p', epoch: 3, checked: true });
        expect(await tx.validator.requeue(j0, T0 + 4)).toBe(true);
        const again = await tx.validator.leaseNext(leaseReq('cpc1q', T0 + 5));
        expect(again?.job.jobId).toBe(j0);
        expect(again?.previous).toEqual(recorded);
      });
    });

    it('rolls a transaction back when its function throws', async () => {
      await expect(
        store.transaction(async (tx) => {
          await addCustomer(tx, 'ghost');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.transaction((tx) => tx.customers.byName('ghost'))).toBeUndefined();
    });

    it('never overdraws an account, even under concurrent debits', async () => {
      const id = await store.transaction((tx) => addCustomer(tx, 'bob', 10n));
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          store.transaction((tx) =>
            tx.accounts.post(
              `spend-${i}`,
              [
                { account: ACCOUNTS.customer(id), amount: -1n },
                { account: ACCOUNTS.burn, amount: 1n },
              ],
              'spend',
              T0,
            ),
          ),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(10);
      await store.transaction(async (tx) => {
        expect(await tx.accounts.balance(ACCOUNTS.customer(id))).toBe(0n);
        expect(await tx.accounts.balance(ACCOUNTS.burn)).toBe(10n);
        expect(await tx.accounts.balance(ACCOUNTS.mint)).toBe(-10n);
      });
      await expect(
        store.transaction((tx) => tx.accounts.post('bad', [{ account: ACCOUNTS.burn, amount: 1n }], 'x', T0)),
      ).rejects.toThrow(/unbalanced/);
    });

    it('holds escrow, refunds it once, and pays a release out exactly', async () => {
      await store.transaction(async (tx) => {
        const id = await addCustomer(tx, 'carol', 5_000_000n);
        const a = task(id, { reward: 3_000_000n });
        const b = task(id, { reward: 2_000_000n });
        const c = task(id, { reward: 1n });
        for (const t of [a, b, c]) await tx.tasks.insert(t);
        expect(await tx.escrow.hold(a.taskId, id, a.reward, T0)).toBe(true);
        expect(await tx.escrow.hold(b.taskId, id, b.reward, T0)).toBe(true);
        expect(await tx.escrow.hold(c.taskId, id, c.reward, T0)).toBe(false);
        expect(await tx.accounts.balance(ACCOUNTS.customer(id))).toBe(0n);
        expect(await tx.accounts.balance(ACCOUNTS.escrow(id))).toBe(5_000_000n);
        expect(await tx.accounts.escrowTotal()).toBe(5_000_000n);

        expect(await tx.escrow.refund(a.taskId, T0 + 1)).toBe(true);
        expect(await tx.escrow.refund(a.taskId, T0 + 2)).toBe(false);
        expect(await tx.accounts.balance(ACCOUNTS.customer(id))).toBe(3_000_000n);

        const payout = splitReward(b.reward, [
          { address: 'cpc1w1', verifiedSlices: 2 },
          { address: 'cpc1w2', verifiedSlices: 1 },
        ]);
        expect(await tx.escrow.release(b.taskId, payout, T0 + 3)).toBe(true);
        expect(await tx.escrow.release(b.taskId, payout, T0 + 4)).toBe(false);
        expect(await tx.escrow.refund(b.taskId, T0 + 5)).toBe(false);
        expect(await tx.accounts.balance(ACCOUNTS.escrow(id))).toBe(0n);
        expect(await tx.accounts.escrowTotal()).toBe(0n);
        expect(await tx.accounts.balance(ACCOUNTS.burn)).toBe(1_200_000n);
        expect(await tx.accounts.balance(ACCOUNTS.validator)).toBe(200_000n);
        expect(await tx.accounts.balance(ACCOUNTS.treasury)).toBe(100_000n);
        expect(await tx.accounts.balance(ACCOUNTS.worker('cpc1w1'))).toBe(333_333n);
        expect(await tx.accounts.balance(ACCOUNTS.worker('cpc1w2'))).toBe(166_667n);
        const all = await tx.accounts.totals();
        expect(all.reduce((s, r) => s + r.balance, 0n)).toBe(0n);
        expect((await tx.escrow.get(b.taskId))?.status).toBe('released');
      });
    });

    it("lists a customer's tasks newest first with filters, pagination and a total", async () => {
      await store.transaction(async (tx) => {
        const id = await addCustomer(tx, 'dave');
        const other = await addCustomer(tx, 'erin');
        const made: string[] = [];
        for (let i = 0; i < 7; i++) {
          const t = task(id, {
            createdAt: T0 + i,
            challengeType: i % 2 ? 'inference' : 'synthetic',
            status: i === 0 ? 'draft' : 'pending',
          });
          await tx.tasks.insert(t);
          made.push(t.taskId);
        }
        await tx.tasks.insert(task(other));
        const page = await tx.tasks.list({ customerId: id, limit: 3, offset: 2 });
        expect(page.total).toBe(7);
        expect(page.tasks.map((t) => t.taskId)).toEqual([made[4], made[3], made[2]]);
        const inference = await tx.tasks.list({ customerId: id, challengeType: 'inference', limit: 100, offset: 0 });
        expect(inference.total).toBe(3);
        expect((await tx.tasks.list({ customerId: id, status: 'pending', limit: 100, offset: 0 })).total).toBe(7);
        expect((await tx.tasks.list({ customerId: id, status: 'completed', limit: 100, offset: 0 })).total).toBe(0);
      });
    });

    it('moves tasks only along allowed transitions and finds overdue ones', async () => {
      await store.transaction(async (tx) => {
        const id = await addCustomer(tx, 'frank');
        const t = task(id, { status: 'draft', deadline: T0 + 1000 });
        await tx.tasks.insert(t);
        expect(await tx.tasks.complete(t.taskId, { resultHash: 'ab', workerAddress: 'cpc1w' }, T0)).toBe(false);
        expect(await tx.tasks.transition(t.taskId, ['draft'], 'pending', T0)).toBe(true);
        expect(await tx.tasks.transition(t.taskId, ['draft'], 'pending', T0)).toBe(false);
        expect(await tx.tasks.transition(t.taskId, ['pending'], 'in_progress', T0)).toBe(true);
        expect(await tx.tasks.overdue(T0 + 999, 10)).toEqual([]);
        expect(await tx.tasks.overdue(T0 + 1000, 10)).toEqual([t.taskId]);
        expect(await tx.tasks.complete(t.taskId, { resultHash: 'ab', workerAddress: 'cpc1w' }, T0 + 5)).toBe(true);
        expect(await tx.tasks.fail(t.taskId, 'late', T0 + 6)).toBe(false);
        const got = await tx.tasks.get(t.taskId);
        expect(got).toMatchObject({
          status: 'completed',
          resultHash: 'ab',
          workerAddress: 'cpc1w',
          completedAt: T0 + 5,
          reward: 1_000_000n,
          payload: { matrix_size: 8, iterations: 1 },
        });
        expect(await tx.tasks.overdue(T0 + 2000, 10)).toEqual([]);
      });
    });

    it('records uploaded slices, a re-upload replacing the earlier one', async () => {
      await store.transaction(async (tx) => {
        const t = task(await addCustomer(tx, 'gina'), { status: 'draft', inputKind: 'slices' });
        await tx.tasks.insert(t);
        const [u1, u0, u2] = [randomUUID(), randomUUID(), randomUUID()];
        expect(await tx.slices.put({ taskId: t.taskId, n: 1, bytes: 10, blake3: 'b1', uploadId: u1 }, T0)).toBe(
          undefined,
        );
        await tx.slices.put({ taskId: t.taskId, n: 0, bytes: 5, blake3: 'a0', uploadId: u0 }, T0);
        // The upload it replaced is returned, for its chunks to be dropped.
        expect(await tx.slices.put({ taskId: t.taskId, n: 1, bytes: 11, blake3: 'b2', uploadId: u2 }, T0)).toBe(u1);
        expect(await tx.slices.list(t.taskId)).toEqual([
          { taskId: t.taskId, n: 0, bytes: 5, blake3: 'a0' },
          { taskId: t.taskId, n: 1, bytes: 11, blake3: 'b2' },
        ]);
      });
    });

    it('keeps slice bytes in chunks: any range reads back across chunk edges, as bytes, on this driver', async () => {
      const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff);
      const t = await store.transaction(async (tx) => {
        const t = task(await addCustomer(tx, 'hugo'), { status: 'draft', inputKind: 'slices' });
        await tx.tasks.insert(t);
        return t;
      });
      const uploadId = randomUUID();
      // Uneven chunks (300, 300, 400): a reader must go by each chunk's offset, not a fixed size.
      await store.transaction(async (tx) => {
        for (const [chunkNo, [from, to]] of (
          [
            [0, 300],
            [300, 600],
            [600, 1000],
          ] as const
        ).entries())
          await tx.slices.putChunk(
            { uploadId, taskId: t.taskId, n: 2, chunkNo, byteOffset: from, data: bytes.subarray(from, to) },
            T0,
          );
      });
      await store.transaction(async (tx) => {
        // Not yet recorded: the chunks belong to no slice.
        expect(await tx.slices.read(t.taskId, 2, 0, 10)).toBeUndefined();
        expect(await tx.slices.uploadBytes(uploadId)).toBe(1000);
        await tx.slices.put({ taskId: t.taskId, n: 2, bytes: 1000, blake3: 'x', uploadId }, T0);
      });
      await store.transaction(async (tx) => {
        for (const [off, len] of [
          [0, 1000],
          [0, 300],
          [250, 100],
          [299, 302],
          [600, 400],
          [999, 1],
          [400, 0],
        ] as const) {
          const got = await tx.slices.read(t.taskId, 2, off, len);
          expect(got).toBeInstanceOf(Uint8Array);
          expect(Buffer.from(got as Uint8Array).equals(Buffer.from(bytes.subarray(off, off + len)))).toBe(true);
        }
        // Past the end, or a slice that is not there: no bytes.
        expect(await tx.slices.read(t.taskId, 2, 900, 101)).toBeUndefined();
        expect(await tx.slices.read(t.taskId, 3, 0, 1)).toBeUndefined();
      });
      // A slice recorded before its bytes were in the store (as an older market wrote it) reads as absent and is listed for import.
      await driver.transaction((c) =>
        c.query(
          sql`INSERT INTO task_slices (task_id, n, bytes, blake3, created_at) VALUES (${t.taskId}, 3, 1, 'y', ${T0})`,
        ),
      );
      const imported = randomUUID();
      await store.transaction(async (tx) => {
        expect(await tx.slices.read(t.taskId, 3, 0, 1)).toBeUndefined();
        expect(await tx.slices.withoutBytes()).toEqual([{ taskId: t.taskId, n: 3, bytes: 1, blake3: 'y' }]);
        await tx.slices.putChunk(
          { uploadId: imported, taskId: t.taskId, n: 3, chunkNo: 0, byteOffset: 0, data: Uint8Array.of(42) },
          T0,
        );
        expect(await tx.slices.attachImported({ taskId: t.taskId, n: 3, bytes: 1, blake3: 'other' }, imported)).toBe(
          false,
        );
        expect(await tx.slices.attachImported({ taskId: t.taskId, n: 3, bytes: 1, blake3: 'y' }, imported)).toBe(true);
        expect(await tx.slices.attachImported({ taskId: t.taskId, n: 3, bytes: 1, blake3: 'y' }, imported)).toBe(false);
        expect([...((await tx.slices.read(t.taskId, 3, 0, 1)) as Uint8Array)]).toEqual([42]);
        expect(await tx.slices.withoutBytes()).toEqual([]);
        // Chunks no slice points at go once old enough; those of a recorded slice stay.
        const stray = randomUUID();
        await tx.slices.putChunk(
          { uploadId: stray, taskId: t.taskId, n: 4, chunkNo: 0, byteOffset: 0, data: Uint8Array.of(1) },
          T0 + 10,
        );
        expect(await tx.slices.dropAbandoned(T0 + 10)).toBe(0);
        expect(await tx.slices.dropAbandoned(T0 + 11)).toBe(1);
        expect(await tx.slices.uploadBytes(stray)).toBe(0);
        expect(await tx.slices.uploadBytes(uploadId)).toBe(1000);
        // A deleted draft's chunks go with it.
        await tx.slices.dropTask(t.taskId);
        expect(await tx.slices.uploadBytes(uploadId)).toBe(0);
        expect(await tx.slices.read(t.taskId, 2, 0, 1)).toBeUndefined();
      });
    });

    /** Queues `count` admitted jobs of one new task (offer 10), with distinct created_at so "oldest first" is well defined. */
    async function queueJobs(
      count: number,
      over: { lane?: 'consumer' | 'industrial'; gpuRequired?: boolean } = {},
    ): Promise<string[]> {
      return store.transaction(async (tx) => {
        const t = task(await addCustomer(tx, `q-${randomUUID()}`));
        await tx.tasks.insert(t);
        const jobs = Array.from({ length: count }, (_, i) => ({
          jobId: randomUUID(),
          taskId: t.taskId,
          sliceIndex: i,
          lane: over.lane ?? 'consumer',
          gpuRequired: over.gpuRequired ?? false,
          offer: 10n,
        }));
        for (const [i, j] of jobs.entries()) {
          await tx.jobs.insert([j], T0 + i);
          await tx.validator.admit(j.jobId, T0 + i);
        }
        return jobs.map((j) => j.jobId);
      });
    }

    const lease = (owner: string, now: number, o: { lanes?: string[]; hardwareGpu?: boolean; ask?: bigint } = {}) => ({
      owner,
      now,
      leaseMs: 500,
      lanes: o.lanes ?? ['consumer', 'industrial'],
      hardwareGpu: o.hardwareGpu ?? false,
      ask: o.ask ?? 0n,
    });

    it('leases the oldest admitted job that fits: lanes, the ask and the GPU filter; a lost lease requeues it', async () => {
      const [first, second] = await queueJobs(2);
      const [gpuJob] = await queueJobs(1, { gpuRequired: true });
      const [industrial] = await queueJobs(1, { lane: 'industrial' });
      await store.transaction(async (tx) => {
        const now = T0 + 10_000;
        expect(await tx.validator.leaseFor(lease('p0', now, { ask: 11n }))).toBeUndefined();
        expect((await tx.validator.leaseFor(lease('p1', now, { lanes: ['industrial'] })))?.jobId).toBe(industrial);
        expect(await tx.validator.leaseFor(lease('p1', now))).toMatchObject({
          jobId: first,
          status: 'leased',
          leaseOwner: 'p1',
          leaseUntil: now + 500,
          attempts: 1,
        });
        expect((await tx.validator.leaseFor(lease('p2', now)))?.jobId).toBe(second);
        expect(await tx.validator.leaseFor(lease('p2', now))).toBeUndefined();
        expect((await tx.validator.leaseFor(lease('p3', now, { hardwareGpu: true })))?.jobId).toBe(gpuJob);

        expect(await tx.validator.requeue(first as string, now + 100)).toBe(true);
        expect(await tx.validator.requeue(first as string, now + 100)).toBe(false);
        expect(await tx.validator.leaseFor(lease('p4', now + 200))).toMatchObject({
          jobId: first,
          leaseOwner: 'p4',
          attempts: 2,
        });
      });
    });

    it('never gives both runs of a pair to one provider, even within one transaction (assignments written at its end)', async () => {
      const [primary] = await queueJobs(1);
      const twin = randomUUID();
      await store.transaction((tx) => tx.validator.insertTwin(primary as string, twin, T0));
      await store.transaction(async (tx) => {
        const now = T0 + 10_000;
        const got = await tx.validator.leaseNext(lease('p1', now));
        const runs = [primary, twin];
        expect(runs).toContain(got?.job.jobId);
        expect(got?.pair).toEqual({ primary, twin });
        // No job_leases row yet (the dispatcher writes a transaction's assignments in one statement at its end).
        expect(await tx.validator.leaseNext(lease('p1', now))).toBeUndefined();
        const other = await tx.validator.leaseNext(lease('p2', now));
        expect(other?.job.jobId).toBe(runs.find((r) => r !== got?.job.jobId));
        expect(other?.pair).toEqual({ primary, twin });
      });
    });

    it("locks the first jobs any of a pass's providers could take, with who lost each and who holds its pair, and leases several in one statement", async () => {
      const [a, b, c] = (await queueJobs(3)) as [string, string, string];
      const [gpuJob] = await queueJobs(1, { gpuRequired: true });
      const twin = randomUUID();
      await store.transaction((tx) => tx.validator.insertTwin(c, twin, T0));
      const now = T0 + 10_000;
      const held = (jobId: string, provider: string) => ({
        jobId,
        provider,
        epoch: 1,
        lease: {},
        assignmentKey: 'k',
        checked: false,
        blockHash: null,
      });
      await store.transaction(async (tx) => {
        const got = await tx.validator.leaseMany(
          [
            { jobId: a, owner: 'p1' },
            { jobId: twin, owner: 'p2' },
          ],
          now,
          500,
        );
        expect(got.map((g) => [g.job.jobId, g.job.leaseOwner, g.job.status, g.job.leaseUntil, g.job.attempts])).toEqual(
          [
            [a, 'p1', 'leased', now + 500, 1],
            [twin, 'p2', 'leased', now + 500, 1],
          ],
        );
        expect(got[1]?.pair).toEqual({ primary: c, twin });
        expect(got.map((g) => g.task?.taskId)).toEqual([got[0]?.job.taskId, got[1]?.job.taskId]);
        await tx.validator.putAssignments([held(a, 'p1'), held(twin, 'p2')], now);
        expect(await tx.validator.requeue(a, now)).toBe(true); // p1 lost it
      });
      await store.transaction(async (tx) => {
        const all = await tx.validator.leaseCandidates({
          lanes: ['consumer'],
          hardwareGpu: false,
          minAsk: 0n,
          limit: 10,
        });
        expect(all.map((x) => x.jobId)).toEqual([a, b, c]);
        expect(all.map((x) => [x.lostBy, x.pairHolders, x.pairKey])).toEqual([
          ['p1', [], a],
          [null, [], b],
          [null, ['p2', 'p2'], c],
        ]);
        // The GPU job was queued at a's time (another task): only a hardware GPU's filter lets it in.
        expect(
          (await tx.validator.leaseCandidates({ lanes: ['consumer'], hardwareGpu: true, minAsk: 0n, limit: 10 }))
            .map((x) => x.jobId)
            .sort(),
        ).toEqual([a, b, c, gpuJob].sort());
        expect(
          (await tx.validator.leaseCandidates({ lanes: ['consumer'], hardwareGpu: false, minAsk: 0n, limit: 1 })).map(
            (x) => x.jobId,
          ),
        ).toEqual([a]);
        expect(
          await tx.validator.leaseCandidates({ lanes: ['consumer'], hardwareGpu: true, minAsk: 11n, limit: 10 }),
        ).toEqual([]);
        expect(
          await tx.validator.leaseCandidates({ lanes: ['industrial'], hardwareGpu: true, minAsk: 0n, limit: 10 }),
        ).toEqual([]);
        // A job no longer queued (the twin is leased) is left out; the rest are leased in the order given.
        const again = await tx.validator.leaseMany(
          [
            { jobId: twin, owner: 'p3' },
            { jobId: b, owner: 'p3' },
          ],
          now,
          500,
        );
        expect(again.map((g) => [g.job.jobId, g.job.leaseOwner])).toEqual([[b, 'p3']]);
      });
    });

    it("fails a task's open jobs, queued and leased", async () => {
      const [a] = await queueJobs(2);
      await store.transaction(async (tx) => {
        await tx.validator.leaseFor(lease('p1', T0));
        const taskId = (await tx.jobs.get(a as string))?.taskId as string;
        expect((await tx.jobs.byTask(taskId)).map((j) => j.status)).toEqual(['leased', 'queued']);
        expect(await tx.jobs.failOpen(taskId, 'task failed', T0 + 200)).toBe(2);
        expect((await tx.jobs.byTask(taskId)).map((j) => j.status)).toEqual(['failed', 'failed']);
      });
    });

    it('never gives one job to two concurrent leasers (FOR UPDATE SKIP LOCKED)', async () => {
      const jobs = await queueJobs(30);
      const leasers = 40;
      const got = await Promise.all(
        Array.from({ length: leasers }, (_, i) =>
          store.transaction(async (tx) => {
            const job = await tx.validator.leaseFor({ ...lease(`p${i}`, T0 + 1000), leaseMs: 60_000 });
            // Hold the row lock a moment so the other transactions really overlap this one (on
            // PostgreSQL; PGlite runs one transaction at a time). A hold, not a wait for anything.
            await tx.jobs.get(job?.jobId ?? randomUUID());
            await new Promise((r) => setTimeout(r, 5));
            return job?.jobId;
          }),
        ),
      );
      const leased = got.filter((j): j is string => j !== undefined);
      expect(new Set(leased).size).toBe(leased.length);
      expect(leased.sort()).toEqual([...jobs].sort());
      const owners = await store.transaction(async (tx) =>
        (await tx.jobs.byTask((await tx.jobs.get(jobs[0] as string))?.taskId as string)).map((j) => j.leaseOwner),
      );
      expect(new Set(owners).size).toBe(30);
    });
  });
}
