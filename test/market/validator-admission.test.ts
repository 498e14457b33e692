import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import { manualClock, type ManualClock } from '../support/clock.js';
import { balance, getTask, postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';

const SEED = 0xad3;
console.log(`validator admission test seed ${SEED}`);

type ClockedMarket = Market & { clock: ManualClock };

const open: { m: Market; root: string }[] = [];
const providers: RawProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) p.close();
  for (const { m, root } of open.splice(0)) {
    await m.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * A market on a clock the test moves, with no timed sweep: every admission pass is one the test
 * runs (`validator.pumpNow()`) or one a join or post kicks, and the test asserts after it.
 */
async function market(config: Partial<ValidatorConfig> = {}): Promise<ClockedMarket> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-admission-'));
  const clock = manualClock();
  const m = await startMarket(root, { checkFraction: 0, sweepMs: 0, ...config }, { clock });
  open.push({ m, root });
  return { ...m, clock };
}

async function provider(m: Market, n: number, caps: Parameters<RawProvider['join']>[0]): Promise<RawProvider> {
  const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + n));
  providers.push(p);
  await p.join(caps);
  return p;
}

/** Posts a one-job synthetic task in `lane` and runs a split + admission pass; returns the task id and its job id. The clock then moves 5 ms, so tasks posted in turn are ordered by age. */
async function post(m: ClockedMarket, lane: 'consumer' | 'industrial'): Promise<{ taskId: string; jobId: string }> {
  const r = await postTask(m, {
    challenge_type: 'synthetic',
    payload: { matrix_size: 4, iterations: 1, lane },
    reward: '1.0',
  });
  expect(r.status).toBe(201);
  const taskId = r.json.task_id as string;
  await m.validator.pumpNow();
  const jobs = await m.store.transaction((tx) => tx.jobs.byTask(taskId));
  expect(jobs).toHaveLength(1);
  m.clock.advance(5);
  return { taskId, jobId: (jobs[0] as { jobId: string }).jobId };
}

const admission = (m: Market, jobId: string) => m.store.transaction((tx) => tx.validator.admissionState(jobId));

/** A guard that turns tight as soon as any consumer job is queued, and loose again the moment the consumer queue is empty. */
const tightGuard = { feeThreshold: 0n, ageLimitMs: 60_000, recoveryPercent: 100, recoveryMs: 0 };

describe('validator dispatch through the admission rules', () => {
  it('with the guard tight, a consumer job is dispatched ahead of an older industrial job, which waits deferred INDUSTRIAL_TIGHT', async () => {
    const m = await market({ comfortGuard: tightGuard });
    const industrial = await post(m, 'industrial');
    const consumer = await post(m, 'consumer');
    expect(await admission(m, industrial.jobId)).toMatchObject({
      admission: 'deferred',
      deferCode: 'INDUSTRIAL_TIGHT',
    });
    expect((await admission(m, consumer.jobId))?.admission).toBe('admitted');
    const p = await provider(m, 1, { max_jobs: 2 });
    expect((await p.nextJob(0)).task_id).toBe(consumer.taskId);
    // The consumer queue is empty now: at the next pass (the timed sweep's, run here) the guard
    // goes loose and the industrial job follows.
    await m.validator.pumpNow();
    expect((await p.nextJob(1)).task_id).toBe(industrial.taskId);
    expect((await admission(m, industrial.jobId))?.admission).toBe('admitted');
  });

  it('with the guard loose, both lanes go, oldest first', async () => {
    const m = await market();
    const industrial = await post(m, 'industrial');
    const consumer = await post(m, 'consumer');
    const p = await provider(m, 2, { max_jobs: 2 });
    const first = await p.nextJob(0);
    const second = await p.nextJob(1);
    expect([first.task_id, second.task_id]).toEqual([industrial.taskId, consumer.taskId]);
  });

  it('industrial jobs beyond the announced capacity are deferred NO_CAPACITY, then served in the order they were deferred', async () => {
    const m = await market();
    const jobs = [await post(m, 'industrial'), await post(m, 'industrial'), await post(m, 'industrial')];
    // No industrial provider is connected: no capacity, every job waits.
    for (const j of jobs) expect((await admission(m, j.jobId))?.deferCode).toBe('NO_CAPACITY');
    const seen: string[] = [];
    for (let i = 0; i < jobs.length; i++) {
      // Each provider announces one shard; the job it leases keeps that shard reserved.
      const p = await provider(m, 10 + i, { lanes: ['industrial'], max_jobs: 1 });
      seen.push((await p.nextJob(0)).task_id);
      await m.validator.pumpNow(); // one more whole pass after the lease: the rest stay deferred
      expect(p.jobs()).toHaveLength(1);
      for (const later of jobs.slice(i + 1)) expect((await admission(m, later.jobId))?.admission).toBe('deferred');
    }
    expect(seen).toEqual(jobs.map((j) => j.taskId));
  });

  it('a job deferred longer than industrialDeferMaxMs expires: its task fails DEFER_EXPIRED and the escrow is refunded', async () => {
    const m = await market({ industrialDeferMaxMs: 300 });
    const before = await balance(m, ACCOUNTS.customer(m.customerId));
    const { taskId } = await post(m, 'industrial');
    m.clock.advance(300);
    await m.validator.pumpNow();
    const t = await getTask(m, taskId);
    expect(t.status).toBe('failed');
    expect(String(t.reason)).toContain('DEFER_EXPIRED');
    expect(await balance(m, ACCOUNTS.customer(m.customerId))).toBe(before);
    // Nothing of it is dispatched afterwards.
    const p = await provider(m, 20, { lanes: ['industrial'] });
    await m.validator.pumpNow();
    expect(p.jobs()).toHaveLength(0);
  });
});
