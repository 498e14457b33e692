import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTaskBody } from '../../src/market/http/task-schemas.js';
import type { MarketStore } from '../../src/market/store/market-store.js';
import type { CustomerRecord } from '../../src/market/store/customers-repo.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import { ValidatorRepo } from '../../src/market/store/validator-repo.js';
import { tempDir } from '../support/temp-dir.js';
import { postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';

const SEED = 0x5ca1e;
console.log(`validator scaling test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

/** The market's clock: real time plus an offset the test moves forward. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };

interface ScalingMarket extends Market {
  customer: CustomerRecord;
}

const open: ScalingMarket[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  clock.offset = 0;
  for (const m of open.splice(0)) await m.close();
});

/** A market on an embedded store with the sweep and batches off: only events wake the dispatcher. */
async function scalingMarket(dir: string, config: Partial<ValidatorConfig> = {}): Promise<ScalingMarket> {
  const m = await startMarket(dir, { sweepMs: 0, checkFraction: 0, ...config }, { clock, marketId: 'scaling-market' });
  const customer = await m.server.customers.authenticate(`Bearer ${m.customerKey}`);
  const sm: ScalingMarket = { ...m, customer };
  open.push(sm);
  return sm;
}

const inference = (tag: string) => ({
  challenge_type: 'inference',
  payload: { model_id: 'm', prompt: tag, max_tokens: 1 },
  reward: '1.0',
});

/** Counts store transactions from now on (the real store still runs every one). */
function countTransactions(store: MarketStore): { count(): number } {
  const spy = vi.spyOn(store, 'transaction');
  return { count: () => spy.mock.calls.length };
}

/**
 * Makes every dispatch pass from now on take `ms` longer, starts one, and queues a second behind
 * it; returns the passes' start and end times (end 0 until a pass finishes).
 */
async function twoSlowPasses(m: ScalingMarket, ms: number): Promise<{ start: number; end: number }[]> {
  const real = m.validator.pumpNow.bind(m.validator);
  const passes: { start: number; end: number }[] = [];
  vi.spyOn(m.validator, 'pumpNow').mockImplementation(async () => {
    const pass = { start: performance.now(), end: 0 };
    passes.push(pass);
    await new Promise((r) => setTimeout(r, ms));
    await real();
    pass.end = performance.now();
  });
  m.validator.kick(); // pass 1 starts
  await until(
    'pass 1 running',
    () => passes.length,
    (n) => n === 1,
    5000,
  );
  m.validator.kick(); // pass 2 waits behind it (queued on the next turn)
  await new Promise((r) => setImmediate(r));
  return passes;
}

describe('dispatch cost does not grow with idle providers', () => {
  it('a pass over an empty queue with 25 idle providers runs a constant number of store transactions (no lease attempt per provider)', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const providers = Array.from({ length: 25 }, (_, i) => new RawProvider(m.base, m.blake3, seedFrom(SEED + i)));
    try {
      for (const p of providers) await p.join();
      await m.validator.whenIdle();
      const tx = countTransactions(m.store);
      await m.validator.pumpNow();
      // Split + admission (which reads the queue's shape); nothing per provider.
      expect(tx.count()).toBeLessThanOrEqual(2);
    } finally {
      for (const p of providers) p.close();
    }
  });

  it('one queued job and 25 idle providers: one provider gets it, and the pass stops once the queue is empty', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const providers = Array.from({ length: 25 }, (_, i) => new RawProvider(m.base, m.blake3, seedFrom(SEED + 100 + i)));
    try {
      for (const p of providers) await p.join();
      await m.validator.whenIdle();
      // Created through the service (not HTTP), so nothing wakes the dispatcher: the pass below is the only one.
      await m.server.tasks.create(m.customer, createTaskBody.parse(inference('one')));
      const tx = countTransactions(m.store);
      await m.validator.pumpNow();
      expect(tx.count()).toBeLessThanOrEqual(3);
      await m.validator.whenIdle();
      expect(providers.reduce((n, p) => n + p.jobs().length, 0)).toBe(1);
    } finally {
      for (const p of providers) p.close();
    }
  });

  it('heartbeats of 25 providers holding leases are committed in groups, not one transaction each, and every lease is ticked', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'), { heartbeatMs: 60_000 });
    const providers = Array.from({ length: 25 }, (_, i) => new RawProvider(m.base, m.blake3, seedFrom(SEED + 300 + i)));
    try {
      for (const p of providers) await p.join({ max_jobs: 1 });
      for (let i = 0; i < 25; i++)
        await m.server.tasks.create(m.customer, createTaskBody.parse(inference(`beat-${i}`)));
      await m.validator.pumpNow();
      await Promise.all(providers.map((p) => p.nextJob(0)));
      await m.validator.whenIdle();
      // Hold the first heartbeat transaction until the validator has received all 25 beats.
      const beats = vi.spyOn(m.validator, 'heartbeat');
      const original = m.store.transaction.bind(m.store);
      const tx = vi.spyOn(m.store, 'transaction').mockImplementation(async (fn) => {
        await until(
          '25 beats received',
          () => beats.mock.calls.length,
          (n) => n === 25,
          5000,
        );
        return original(fn);
      });
      const t0 = clock.now();
      for (const p of providers)
        p.sendJson({ type: 'heartbeat', sent_at: clock.now(), in_flight: [p.jobs()[0]?.job_id] });
      await until(
        'beats settled',
        () => Promise.allSettled(beats.mock.results.map((r) => r.value)),
        (rs) => rs.length === 25 && rs.every((r) => r.status === 'fulfilled'),
        5000,
      );
      expect(tx.mock.calls.length).toBeLessThanOrEqual(2);
      tx.mockRestore();
      const leases = await m.store.transaction((t) => t.validator.activeAssignments());
      expect(leases).toHaveLength(25);
      for (const a of leases)
        expect((a.lease as { heartbeats: Record<string, number> }).heartbeats.market).toBeGreaterThanOrEqual(t0);
    } finally {
      for (const p of providers) p.close();
    }
  });

  it('leases for several providers share one transaction, each provider up to its max_jobs, in join order', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const providers = Array.from({ length: 6 }, (_, i) => new RawProvider(m.base, m.blake3, seedFrom(SEED + 200 + i)));
    try {
      for (const p of providers) await p.join({ max_jobs: 2 });
      await m.validator.whenIdle();
      for (let i = 0; i < 8; i++) await m.server.tasks.create(m.customer, createTaskBody.parse(inference(`many-${i}`)));
      const tx = countTransactions(m.store);
      await m.validator.pumpNow();
      expect(tx.count()).toBeLessThanOrEqual(3);
      await Promise.all(providers.slice(0, 4).map((p) => p.nextJob(1)));
      await m.validator.whenIdle();
      expect(providers.map((p) => p.jobs().length)).toEqual([2, 2, 2, 2, 0, 0]);
    } finally {
      for (const p of providers) p.close();
    }
  });
});

describe('a pass leases for all its providers with two statements', () => {
  it('8 jobs for 4 providers: one statement locks them, one leases them all; none is leased one at a time', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const providers = Array.from({ length: 6 }, (_, i) => new RawProvider(m.base, m.blake3, seedFrom(SEED + 300 + i)));
    try {
      for (const p of providers) await p.join({ max_jobs: 2 });
      await m.validator.whenIdle();
      for (let i = 0; i < 8; i++)
        await m.server.tasks.create(m.customer, createTaskBody.parse(inference(`batch-${i}`)));
      const one = vi.spyOn(ValidatorRepo.prototype, 'leaseNext');
      const many = vi.spyOn(ValidatorRepo.prototype, 'leaseMany');
      await m.validator.pumpNow();
      expect(one).not.toHaveBeenCalled();
      expect(many).toHaveBeenCalledTimes(1);
      await Promise.all(providers.slice(0, 4).map((p) => p.nextJob(1)));
      expect(providers.map((p) => p.jobs().length)).toEqual([2, 2, 2, 2, 0, 0]);
    } finally {
      for (const p of providers) p.close();
    }
  });

  it('one job to place is one lease statement: no lock-then-lease', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const providers = Array.from({ length: 3 }, (_, i) => new RawProvider(m.base, m.blake3, seedFrom(SEED + 320 + i)));
    try {
      for (const p of providers) await p.join({ max_jobs: 2 });
      await m.validator.whenIdle();
      await m.server.tasks.create(m.customer, createTaskBody.parse(inference('single')));
      const one = vi.spyOn(ValidatorRepo.prototype, 'leaseNext');
      const lock = vi.spyOn(ValidatorRepo.prototype, 'leaseCandidates');
      await m.validator.pumpNow();
      expect(one).toHaveBeenCalledTimes(1);
      expect(lock).not.toHaveBeenCalled();
      await providers[0]?.nextJob(0);
    } finally {
      for (const p of providers) p.close();
    }
  });

  it('a pass ends when a provider with more room than one transaction leases can take nothing queued', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const cpu = new RawProvider(m.base, m.blake3, seedFrom(SEED + 330));
    try {
      await cpu.join({ gpu: null, max_jobs: 64 });
      await m.validator.whenIdle();
      // More GPU jobs queued than one transaction leases (32), none of which this provider can take.
      for (let i = 0; i < 40; i++)
        await m.server.tasks.create(
          m.customer,
          createTaskBody.parse({
            challenge_type: 'rendering',
            payload: { scene_file: `https://e.org/gpu-${i}`, resolution: '64x64', frames: 1, gpu_required: true },
            reward: '1.0',
          }),
        );
      // Resolves (a pass that came back to this provider without end never would); nothing is leased.
      await m.validator.pumpNow();
      expect(cpu.jobs()).toHaveLength(0);
    } finally {
      cpu.close();
    }
  });

  it('a provider that none of the locked jobs fits still gets a job that fits it further back in the queue', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const gpu = new RawProvider(m.base, m.blake3, seedFrom(SEED + 310));
    const cpu = new RawProvider(m.base, m.blake3, seedFrom(SEED + 311));
    const rendering = (tag: string, gpuRequired: boolean) =>
      createTaskBody.parse({
        challenge_type: 'rendering',
        payload: { scene_file: `https://e.org/${tag}`, resolution: '64x64', frames: 1, gpu_required: gpuRequired },
        reward: '1.0',
      });
    try {
      // Two GPU jobs queued before the CPU job, each split at its own time (no provider yet).
      const owners: Record<string, string> = {};
      for (const [tag, g] of [
        ['g1', true],
        ['g2', true],
        ['c1', false],
      ] as const) {
        owners[tag] = (await m.server.tasks.create(m.customer, rendering(tag, g))).taskId;
        await m.validator.pumpNow();
        clock.offset += 10;
      }
      const holders = () =>
        m.store.transaction(async (tx) => {
          const out: Record<string, string | null> = {};
          for (const [tag, taskId] of Object.entries(owners))
            out[tag] = (await tx.jobs.byTask(taskId))[0]?.leaseOwner ?? null;
          return out;
        });
      // Both providers join with no pass run meanwhile, so the next pass serves both: the two jobs
      // it locks (their room) are the two GPU jobs.
      const passes = vi.spyOn(m.validator, 'pumpNow').mockResolvedValue();
      await gpu.join({ gpu: { name: 'RTX', vendor: 'nvidia', software: false }, max_jobs: 1 });
      await cpu.join({ gpu: null, max_jobs: 1 });
      await m.validator.whenIdle();
      passes.mockRestore();
      await m.validator.pumpNow();
      // That one pass leased the CPU job too.
      expect(await holders()).toEqual({ g1: gpu.address, g2: null, c1: cpu.address });
      const [g, c] = await Promise.all([gpu.nextJob(0), cpu.nextJob(0)]);
      expect(g).toMatchObject({ gpu_required: true });
      expect(c).toMatchObject({ gpu_required: false });
    } finally {
      gpu.close();
      cpu.close();
    }
  });
});

describe('posting a task wakes the dispatcher', () => {
  it('a task posted over HTTP is assigned at once, with no sweep running', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 300));
    try {
      await p.join();
      await m.validator.whenIdle();
      const r = await postTask(m, inference('posted'));
      expect(r.status).toBe(201);
      const job = await p.nextJob(0);
      expect(job.task_id).toBe(r.json.task_id);
    } finally {
      p.close();
    }
  });
});

describe('result freshness is judged at arrival', () => {
  it('a result waiting to be settled goes before a dispatch pass queued ahead of it', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 500));
    try {
      await p.join();
      await postTask(m, inference('urgent'));
      const job = await p.nextJob();
      await m.validator.whenIdle();
      const passes = await twoSlowPasses(m, 400);
      p.sendResult(p.resultJson(job, m.blake3, nonce++, { created_at: clock.now() })); // its group commit waits too, queued after pass 2
      const ack = await p.ackFor(job.job_id);
      const ackedAt = performance.now();
      expect(ack).toMatchObject({ accepted: true });
      await until(
        'pass 2 ran',
        () => passes.length,
        (n) => n >= 2,
        5000,
      );
      // Settled right after pass 1, before pass 2 began (FIFO would answer only after pass 2's 400 ms).
      expect(ackedAt).toBeLessThan((passes[1] as { start: number }).start + 200);
    } finally {
      p.close();
    }
  });

  it('closing waits for the steps queued before it, though the final group commit goes first', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const passes = await twoSlowPasses(m, 300);
    await m.validator.close();
    expect(passes.map((p) => p.end > 0)).toEqual([true, true]);
  });

  it('a result fresh on arrival is accepted though its processing waits past 60 s; one created > 60 s before arrival is STALE', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 400));
    try {
      await p.join();
      await postTask(m, inference('fresh'));
      const job = await p.nextJob();

      p.sendResult(p.resultJson(job, m.blake3, nonce++, { created_at: clock.now() - 61_000 }));
      expect(await p.ackFor(job.job_id)).toMatchObject({ accepted: false, code: 'STALE' });
      await m.validator.whenIdle();

      // Hold the next store transaction (the heartbeat's) so the result queued behind it waits while 61 s pass.
      const real = m.store.transaction.bind(m.store);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let onHeld!: () => void;
      const held = new Promise<void>((r) => (onHeld = r));
      vi.spyOn(m.store, 'transaction').mockImplementationOnce(async (fn) => {
        onHeld();
        await gate;
        return real(fn);
      });
      // The result's arrival (stamped before it is handed to the validator).
      let onArrived!: () => void;
      const arrived = new Promise<void>((r) => (onArrived = r));
      const submit = m.validator.submitResult.bind(m.validator);
      vi.spyOn(m.validator, 'submitResult').mockImplementationOnce((...args) => {
        onArrived();
        return submit(...args);
      });
      p.sendJson({ type: 'heartbeat', sent_at: clock.now(), in_flight: [job.job_id] });
      p.sendResult(p.resultJson(job, m.blake3, nonce++, { created_at: clock.now() }));
      await Promise.all([held, arrived]);
      clock.offset += 61_000;
      release();
      expect(await p.ackFor(job.job_id, 1)).toMatchObject({ accepted: true });
    } finally {
      p.close();
    }
  });
});

describe('receipt acknowledgements', () => {
  it('receipt acknowledgements arriving together are committed in one group; each marks only its own provider’s receipt', async () => {
    const m = await scalingMarket(tempDir('tessera-scale-'));
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 400));
    const other = new RawProvider(m.base, m.blake3, seedFrom(SEED + 401));
    try {
      await p.join();
      await other.join();
      const key = (i: number) => i.toString(16).padStart(64, '0');
      await m.store.transaction(async (tx) => {
        for (let i = 0; i < 20; i++)
          await tx.validator.insertReceipt(
            {
              key: key(i),
              jobId: randomUUID(),
              taskId: randomUUID(),
              provider: i === 19 ? other.address : p.address,
              receipt: { n: i },
            },
            clock.now(),
          );
      });
      const acks = vi.spyOn(m.validator, 'receiptAck');
      const original = m.store.transaction.bind(m.store);
      const tx = vi.spyOn(m.store, 'transaction').mockImplementation(async (fn) => {
        await until(
          '20 acks received',
          () => acks.mock.calls.length,
          (n) => n === 20,
          5000,
        );
        return original(fn);
      });
      // `p` acknowledges its 19 receipts and, wrongly, the other provider's one.
      for (let i = 0; i < 20; i++) p.sendJson({ type: 'receipt_ack', idempotency_key: key(i) });
      await until(
        'acks settled',
        () => Promise.allSettled(acks.mock.results.map((r) => r.value)),
        (rs) => rs.length === 20 && rs.every((r) => r.status === 'fulfilled'),
        5000,
      );
      expect(tx.mock.calls.length).toBeLessThanOrEqual(2);
      tx.mockRestore();
      const left = await m.store.transaction(async (t) => ({
        mine: await t.validator.receipts(p.address, true),
        theirs: await t.validator.receipts(other.address, true),
      }));
      expect(left.mine).toEqual([]);
      expect(left.theirs.map((r) => r.key)).toEqual([key(19)]);
    } finally {
      p.close();
      other.close();
    }
  });
});
