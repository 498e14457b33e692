import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PriceBoard } from '../../src/core/pricing/price-board.js';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import { fullJitterDelay, providerSocketUrl } from '../../src/main/services/market-client.js';
import { createSliceDigester } from '../../src/core/market/assignment-proof.js';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { tempDir } from '../support/temp-dir.js';
import { getTask, postTask, startMarket } from '../support/market.js';
import { signal, startProvider, whenNode } from '../support/provider.js';

const SEED = 0xb0ff;

/** What an honest provider's run of `job` returns: both digests of its bytes under the assignment key. */
function honestRun(job: JobFrame, bytes: Uint8Array, blake3: Blake3Hasher) {
  const d = createSliceDigester(Buffer.from(job.assignment_key, 'hex'), blake3);
  d.update(bytes);
  return { ...d.digest(), bytes: bytes.length, backend: 'cpu' as const };
}
console.log(`provider service test seed ${SEED}`);

describe('reconnect backoff', () => {
  it('full jitter: every delay is in [0, min(cap, base·2^attempt)), and the ceiling is capped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (attempt, base, cap, r) => {
          const d = fullJitterDelay(attempt, { baseMs: base, capMs: cap }, () => r);
          const ceiling = Math.min(cap, base * 2 ** attempt);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThan(Math.max(1, ceiling));
          expect(d).toBeLessThanOrEqual(cap);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('the market URL becomes its provider socket; a bad one is a one-line error naming --market', () => {
    expect(providerSocketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/ws/provider');
    expect(providerSocketUrl('https://m.example/')).toBe('wss://m.example/ws/provider');
    expect(() => providerSocketUrl('not a url')).toThrow(/^--market "not a url" is not a URL/);
    expect(() => providerSocketUrl('ftp://x')).toThrow(/--market "ftp:\/\/x" must be/);
  });
});

describe('provider node', () => {
  it('a job in flight at a disconnect is finished and reported after the reconnect, and paid', async () => {
    const dir = tempDir('tessera-provider-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const started = signal();
    const p = await startProvider(m.base, join(dir, 'p'), {
      maxJobs: 1,
      async execute(job, bytes) {
        started.resolve();
        await gate;
        return honestRun(job, bytes, m.blake3);
      },
    });
    try {
      await whenNode(p, 'connected', () => p.service.status().state === 'connected');
      const id = (
        await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: 'in flight', max_tokens: 1 },
          reward: '1.0',
        })
      ).json.task_id as string;
      await started.promise;
      p.service.dropConnection();
      await whenNode(p, 'disconnected', () => p.service.status().state !== 'connected');
      release(); // finishes while disconnected: the result waits for the reconnect
      const repo = new ProviderJobsRepo(p.ledger.db);
      // The receipt comes after the commit that pays the task.
      await whenNode(p, 'receipt recorded', () => repo.earningsByDay(0)[0]?.paid === 250_000n);
      expect((await getTask(m, id)).status).toBe('completed');
      const [row] = repo.recent(5);
      expect(row).toMatchObject({ status: 'accepted', credits: 250_000n, workload: 'inference', backend: 'cpu' });
      expect(row?.proof).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      release();
      await p.close();
      await m.close();
    }
  });

  it('a result too old to send after the reconnect is reported lost; the job is reassigned and paid once', async () => {
    const dir = tempDir('tessera-lost-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let offset = 0;
    const started = signal();
    const p = await startProvider(m.base, join(dir, 'p'), {
      maxJobs: 1,
      clock: { now: () => Date.now() + offset },
      backoff: { baseMs: 600, capMs: 1000 },
      random: () => 0.99,
      async execute(job, bytes) {
        started.resolve();
        await gate;
        return honestRun(job, bytes, m.blake3);
      },
    });
    try {
      await whenNode(p, 'connected', () => p.service.status().state === 'connected');
      const id = (
        await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: 'lost', max_tokens: 1 },
          reward: '1.0',
        })
      ).json.task_id as string;
      await started.promise;
      p.service.dropConnection();
      await whenNode(p, 'disconnected', () => p.service.status().state !== 'connected');
      offset = -120_000; // the result is stamped two minutes ago…
      release();
      const repo = new ProviderJobsRepo(p.ledger.db);
      await whenNode(p, 'result kept for the reconnect', () => repo.recent(5)[0]?.status === 'submitted');
      offset = 0; // …so after the reconnect it is too old to send: reported lost, never dropped silently.
      await whenNode(p, 'reported lost', () => repo.recent(5).find((j) => j.status === 'lost'));
      // The job is reassigned to this node (epoch 2) and paid: the receipt follows the paying commit.
      await whenNode(p, 'paid', () => (repo.earningsByDay(0)[0]?.jobs ?? 0) >= 1);
      expect((await getTask(m, id)).status).toBe('completed');
      const [job] = await m.store.transaction((tx) => tx.jobs.byTask(id));
      expect((await m.store.transaction((tx) => tx.validator.assignment(job?.jobId as string)))?.epoch).toBe(2);
      expect(repo.recent(5).find((j) => j.status === 'lost')?.code).toBe('LOST_AT_DISCONNECT');
      expect(repo.earningsByDay(0)[0]?.jobs).toBe(1);
      expect(await m.store.transaction((tx) => tx.validator.receipts(p.address, false))).toHaveLength(1);
    } finally {
      release();
      await p.close();
      await m.close();
    }
  });

  it('a lease that lapsed while disconnected comes back at the next epoch: the old run’s result is refused STALE_ASSIGNMENT, unpunished, and the new one is paid once', async () => {
    const dir = tempDir('tessera-epoch-');
    const quorum = { m: 1, n: 1, t1Secs: 0.4, t2Secs: 0.8, staleSecs: 2, maxSkewSecs: 1, respawnRetrySecs: 0.3 };
    const m = await startMarket(join(dir, 'market'), { quorum, checkFraction: 1 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let release2: () => void = () => undefined;
    const gate2 = new Promise<void>((r) => (release2 = r));
    const epochs: number[] = [];
    const runs = [signal(), signal()]; // the first and second run started
    const p = await startProvider(m.base, join(dir, 'p'), {
      maxJobs: 1,
      backoff: { baseMs: 2500, capMs: 3000 },
      random: () => 0.99,
      async execute(job, bytes) {
        epochs.push(job.epoch);
        runs[epochs.length - 1]?.resolve();
        await (job.epoch === 1 ? gate : gate2); // the first run outlives its lease
        return honestRun(job, bytes, m.blake3);
      },
    });
    try {
      await whenNode(p, 'connected', () => p.service.status().state === 'connected');
      const id = (
        await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: 'lapsed', max_tokens: 1 },
          reward: '1.0',
        })
      ).json.task_id as string;
      await runs[0]?.promise;
      p.service.dropConnection(); // silent for > t2 (the reconnect waits ~2.5 s): the market revokes the lease
      await runs[1]?.promise;
      expect(epochs).toEqual([1, 2]);
      release(); // the first run finishes while the job is leased to this node again, keyed for epoch 1
      const repo = new ProviderJobsRepo(p.ledger.db);
      await whenNode(p, 'old run answered', () => repo.recent(5).find((j) => j.epoch === 1)?.status === 'rejected');
      release2();
      await whenNode(p, 'new run answered', () => repo.recent(5).find((j) => j.epoch === 2)?.status === 'accepted');
      await whenNode(p, 'paid', () => repo.earningsByDay(0)[0]?.paid === 250_000n);
      expect((await getTask(m, id)).status).toBe('completed');
      expect(
        repo
          .recent(5)
          .map((j) => [j.epoch, j.status, j.code])
          .sort(),
      ).toEqual([
        [1, 'rejected', 'STALE_ASSIGNMENT'],
        [2, 'accepted', null],
      ]);
      const prov = await m.store.transaction((tx) => tx.validator.provider(p.address));
      expect([prov?.wrongResults, await m.store.transaction((tx) => tx.validator.penalties(p.address))]).toEqual([
        0,
        [],
      ]);
      expect(await m.store.transaction((tx) => tx.validator.receipts(p.address, false))).toHaveLength(1);
    } finally {
      release();
      release2();
      await p.close();
      await m.close();
    }
  });

  it('drain: stops taking jobs, finishes the one in flight and reports it before closing', async () => {
    const dir = tempDir('tessera-drain-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1 });
    const started = signal();
    const board = new PriceBoard(16);
    const p = await startProvider(m.base, join(dir, 'p'), {
      maxJobs: 1,
      ask: undefined,
      priceBoard: { record: (lane, price) => board.record(lane, price) },
      async execute(job, bytes) {
        started.resolve();
        await new Promise((r) => setTimeout(r, 300)); // a job that takes 300 ms (the drain waits for it)
        return honestRun(job, bytes, m.blake3);
      },
    });
    try {
      await whenNode(p, 'connected', () => p.service.status().state === 'connected');
      const id = (
        await postTask(m, {
          challenge_type: 'training',
          payload: { model_architecture: 'a', dataset_url: 'https://e.org/d', epochs: 1, batch_size: 1 },
          reward: '1.0',
        })
      ).json.task_id as string;
      await started.promise;
      await p.service.drain(5000);
      expect(p.service.status().state).toBe('closed');
      expect((await getTask(m, id)).status).toBe('completed');
      // The job's offer (25% of 1.0 CPC) fed the price board; without --ask the ask stays 0 (every offer).
      expect(board.entries('consumer')).toEqual([250_000n]);
      expect(p.service.currentAsk()).toBe(0n);
    } finally {
      await p.close();
      await m.close();
    }
  });
});
