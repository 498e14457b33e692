import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { manualClock } from '../support/clock.js';
import { balance, getTask, heartbeatCommitted, postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { tempDir } from '../support/temp-dir.js';

const SEED = 0x57a1e;
console.log(`stale-assignment test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** The honest result for `job` (made under that assignment's key), as a result frame. */
const resultFrame = (m: Market, p: RawProvider, job: JobFrame) => p.honestResult(job, m.blake3, nonce++);

describe('a result made for an earlier assignment of the same job to the same provider', () => {
  it('is refused STALE_ASSIGNMENT without a slash, and the current assignment’s result is paid', async () => {
    // Leases lapse after 0.8 s of silence (the raw provider sends no heartbeats), and every job is
    // checked. The test moves the market's clock and runs the sweep itself.
    const quorum = { m: 1, n: 1, t1Secs: 0.4, t2Secs: 0.8, staleSecs: 2, maxSkewSecs: 1, respawnRetrySecs: 0.3 };
    const clock = manualClock();
    const m = await startMarket(
      join(tempDir('tessera-stale-assign-'), 'market'),
      { quorum, checkFraction: 1, sweepMs: 0 },
      { clock },
    );
    open.push(m);
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED), clock);
    open.push(p);
    await p.join({ max_jobs: 1 });
    const id = (
      await postTask(m, {
        challenge_type: 'inference',
        payload: { model_id: 'm', prompt: 'one slice', max_tokens: 1 },
        reward: '1.0',
      })
    ).json.task_id as string;
    const first = await p.nextJob(0);
    clock.advance(900);
    await m.validator.sweepNow();
    // The lease lapsed and the job comes back to the same provider at the next epoch (same key: keys are per job and provider).
    const second = await p.nextJob(1);
    expect([second.job_id, second.epoch]).toEqual([first.job_id, first.epoch + 1]);
    const bondBefore = (await m.store.transaction((tx) => tx.validator.provider(p.address)))?.bond;

    p.sendJson(resultFrame(m, p, first));
    const stale = await p.ackFor(first.job_id, 0);
    expect([stale.accepted, stale.code]).toEqual([false, 'STALE_ASSIGNMENT']);
    const after = await m.store.transaction((tx) => tx.validator.provider(p.address));
    expect(after?.bond).toBe(bondBefore);
    expect(after?.wrongResults).toBe(0);

    p.sendJson(resultFrame(m, p, second));
    const ok = await p.ackFor(first.job_id, 1);
    expect([ok.accepted, ok.code]).toEqual([true, null]);
    await p.nextFrame('receipt'); // sent after the commit that pays the task
    expect((await getTask(m, id)).status).toBe('completed');
    const results = await m.store.transaction((tx) => tx.validator.results(first.job_id));
    expect(results.map((r) => r.verdict)).toEqual(['accepted']);
    expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(250_000n);
  });
});

describe('a market restarted after a long stop', () => {
  it('gives the leases held when it stopped t1 and t2 from its start: a provider that comes back in time keeps its job and is paid for its result', async () => {
    const quorum = { m: 1, n: 1, t1Secs: 2, t2Secs: 4, staleSecs: 10, maxSkewSecs: 1, respawnRetrySecs: 0.3 };
    const dir = join(tempDir('tessera-restart-grace-'), 'market');
    // Both markets run on a clock the test moves (the stop lasts 5 s of it), and sweep only when the test says.
    const clock = manualClock();
    const m1 = await startMarket(dir, { quorum, checkFraction: 1, sweepMs: 0 }, { onDisk: true, clock });
    const port = Number(new URL(m1.base).port);
    const p1 = new RawProvider(m1.base, m1.blake3, seedFrom(SEED + 1), clock);
    await p1.join({ max_jobs: 1 });
    const id = (
      await postTask(m1, {
        challenge_type: 'inference',
        payload: { model_id: 'm', prompt: 'grace', max_tokens: 1 },
        reward: '1.0',
      })
    ).json.task_id as string;
    const job = await p1.nextJob(0);
    await heartbeatCommitted(m1, p1);
    p1.close();
    await m1.close();
    clock.advance(5000); // down for longer than t2

    const m2 = await startMarket(
      dir,
      { quorum, checkFraction: 1, sweepMs: 0 },
      { onDisk: true, port, clock, customer: { key: m1.customerKey, id: m1.customerId } },
    );
    open.push(m2);
    const p2 = new RawProvider(m2.base, m2.blake3, seedFrom(SEED + 1), clock);
    open.push(p2);
    await p2.join({ max_jobs: 1 });
    const welcome = p2.frames.find((f) => f.type === 'welcome') as { leased_jobs: { job_id: string; epoch: number }[] };
    expect(welcome.leased_jobs).toEqual([{ job_id: job.job_id, epoch: 1 }]);
    // 1 s after the restart (within t1 of it, though 6 s after the last heartbeat), a sweep keeps the lease.
    clock.advance(1000);
    await m2.validator.sweepNow();
    await heartbeatCommitted(m2, p2);
    p2.sendJson(resultFrame(m2, p2, job));
    expect(await p2.ackFor(job.job_id)).toMatchObject({ accepted: true, epoch: 1 });
    await p2.nextFrame('receipt');
    expect((await getTask(m2, id)).status).toBe('completed');
    expect((await m2.store.transaction((tx) => tx.validator.assignment(job.job_id)))?.epoch).toBe(1);
    expect(p2.jobs()).toHaveLength(0); // never reassigned
  });
});
