import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { splitTask, workloadOf } from '../../src/market/validator/split.js';
import type { TaskRecord } from '../../src/market/store/tasks-repo.js';
import { postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';

const SEED = 0xd15;
console.log(`validator dispatch test seed ${SEED}`);
const root = mkdtempSync(join(tmpdir(), 'tessera-dispatch-'));
let m: Market;

beforeAll(async () => {
  m = await startMarket(root, { checkFraction: 0 });
});
afterAll(async () => {
  await m?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('validator dispatch: only providers whose capabilities fit get a job', () => {
  it('a gpu_required job never goes to a CPU-only or software-adapter provider, only to a hardware GPU (as GpuHash)', async () => {
    const cpu = new RawProvider(m.base, m.blake3, seedFrom(SEED));
    const soft = new RawProvider(m.base, m.blake3, seedFrom(SEED + 1));
    const hard = new RawProvider(m.base, m.blake3, seedFrom(SEED + 2));
    try {
      await cpu.join({ gpu: null });
      await soft.join({ gpu: { name: 'llvmpipe', vendor: 'mesa', software: true } });
      const r = await postTask(m, {
        challenge_type: 'rendering',
        payload: { scene_file: 'https://e.org/s', resolution: '64x64', frames: 1, gpu_required: true },
        reward: '1.0',
      });
      expect(r.status).toBe(201);
      await m.validator.pumpNow(); // a whole dispatch pass with the job queued: nothing fits yet
      expect(cpu.jobs()).toHaveLength(0);
      expect(soft.jobs()).toHaveLength(0);
      await hard.join({ gpu: { name: 'RTX', vendor: 'nvidia', software: false } });
      const job = await hard.nextJob();
      expect(job).toMatchObject({ workload: 'gpuhash', gpu_required: true, task_id: r.json.task_id });
    } finally {
      cpu.close();
      soft.close();
      hard.close();
    }
  });

  it('lanes and ask: an industrial job goes only to a provider serving that lane, and only when its ask ≤ the offer', async () => {
    const consumerOnly = new RawProvider(m.base, m.blake3, seedFrom(SEED + 3));
    const greedy = new RawProvider(m.base, m.blake3, seedFrom(SEED + 4));
    const fair = new RawProvider(m.base, m.blake3, seedFrom(SEED + 5));
    try {
      // reward 1.0 CPC, one job: offer = 25% = 250000 micro-CPC.
      await consumerOnly.join({ lanes: ['consumer'] });
      await greedy.join({ lanes: ['industrial'], ask: '250001' });
      const r = await postTask(m, {
        challenge_type: 'synthetic',
        payload: { matrix_size: 4, iterations: 1, lane: 'industrial' },
        reward: '1.0',
      });
      await m.validator.pumpNow(); // a whole dispatch pass with the job queued: nothing fits yet
      expect(consumerOnly.jobs()).toHaveLength(0);
      expect(greedy.jobs()).toHaveLength(0);
      await fair.join({ lanes: ['industrial'], ask: '250000' });
      const job = await fair.nextJob();
      expect(job).toMatchObject({
        task_id: r.json.task_id,
        offer: '250000',
        workload: 'synthetic',
        slice: null,
        lane: 'industrial',
      });
      expect(job.synthetic?.block_hash).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      consumerOnly.close();
      greedy.close();
      fair.close();
    }
  });

  it('the checked fraction is about checkFraction (10% by default), decided per assignment from the market secret', async () => {
    const { ValidatorService } = await import('../../src/market/validator/validator-service.js');
    const v = new ValidatorService({
      store: m.store,
      clock: { now: () => 0 },
      blake3: await loadBlake3(),
      sha256: () => new Uint8Array(32),
    });
    await v.start({ marketId: 'x', secretHex: '11'.repeat(32) });
    await v.close();
    const ids = fc.sample(fc.uuid({ version: 4 }), { numRuns: 4000, seed: SEED });
    const checked = ids.filter((id) => v.isChecked(id, 1)).length / ids.length;
    expect(checked).toBeGreaterThan(0.08);
    expect(checked).toBeLessThan(0.12);
    // A new lease of the same job is drawn afresh.
    expect(ids.filter((id) => v.isChecked(id, 1) !== v.isChecked(id, 2)).length).toBeGreaterThan(0);
  });
});

describe('splitting tasks into jobs', () => {
  const task = (over: Partial<TaskRecord>): TaskRecord => ({
    taskId: '00000000-0000-4000-8000-000000000000',
    customerId: 'c',
    challengeType: 'inference',
    payload: { model_id: 'm', prompt: 'p'.repeat(100), max_tokens: 1 },
    reward: 1_000_003n,
    deadline: null,
    status: 'pending',
    failureReason: null,
    inputKind: 'payload',
    gpuRequired: false,
    lane: 'consumer',
    resultHash: null,
    workerAddress: null,
    createdAt: 0,
    updatedAt: 0,
    completedAt: null,
    verification: 'sampled',
    surcharge: 0n,
    corrections: 0,
    ...over,
  });

  it('maps challenge types to workloads (rendering → transcode, inference/training → inference, synthetic, gpu_required → gpuhash)', () => {
    expect(workloadOf(task({ challengeType: 'rendering' }))).toBe('transcode');
    expect(workloadOf(task({ challengeType: 'training' }))).toBe('inference');
    expect(workloadOf(task({ challengeType: 'inference' }))).toBe('inference');
    expect(workloadOf(task({ challengeType: 'synthetic', gpuRequired: true }))).toBe('synthetic');
    expect(workloadOf(task({ challengeType: 'rendering', gpuRequired: true }))).toBe('gpuhash');
  });

  it('covers the input bytes exactly once in slice-size pieces, each job offered an equal share of the 25% pool', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 5 }),
        (size, sliceLens) => {
          const t = task({ inputKind: 'slices' });
          const { jobs, inputs } = splitTask(
            t,
            sliceLens.map((bytes, n) => ({ taskId: t.taskId, n, bytes, blake3: '' })),
            size,
          );
          sliceLens.forEach((len, n) => {
            const mine = inputs.filter((i) => i.sliceN === n);
            expect(mine.reduce((a, i) => a + i.byteLength, 0)).toBe(len);
            mine.forEach((i, k) => expect(i.byteOffset).toBe(k * size));
            expect(mine.every((i) => i.byteLength <= size)).toBe(true);
          });
          expect(jobs.map((j) => j.sliceIndex)).toEqual(jobs.map((_, i) => i));
          expect(new Set(jobs.map((j) => j.offer)).size).toBe(1);
          expect((jobs[0]?.offer ?? 0n) * BigInt(jobs.length)).toBeLessThanOrEqual((t.reward * 25n) / 100n);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});
