import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/core/market/lease-state.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { manualClock, type ManualClock } from '../support/clock.js';
import { balance, getTask, heartbeatCommitted, postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';
import { tempDir } from '../support/temp-dir.js';

const SEED = 0x5ba2d;
console.log(`standby handover test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

// Raw providers send no heartbeats unless told to: a lease lapses 0.8 s (on the market's clock)
// after it is granted. The test owns that clock and runs every sweep itself (sweepMs 0), so what
// is warm, silent or lapsed is decided by the test, not by how busy the machine is.
const quorum = { m: 1, n: 1, t1Secs: 0.4, t2Secs: 0.8, staleSecs: 2, maxSkewSecs: 1, respawnRetrySecs: 0.3 };
/** Past t2: a lease not heard from in this long is lost at the next sweep. */
const LAPSE_MS = (quorum.t2Secs + 0.1) * 1000;

interface Standby {
  m: Market;
  clock: ManualClock;
  a: RawProvider;
  b: RawProvider;
}

/** A market naming one standby per job, with two raw providers joined in order: `a` first (it gets the job), then `b`. */
async function twoProviders(
  name: string,
  seed: number,
  config: Partial<ValidatorConfig> = {},
  caps: { a?: number; b?: number } = {},
): Promise<Standby> {
  const clock = manualClock();
  const m = await startMarket(
    join(tempDir(`tessera-standby-${name}-`), 'market'),
    { quorum, checkFraction: 1, standbys: 1, sweepMs: 0, ...config },
    { clock },
  );
  open.push(m);
  const a = new RawProvider(m.base, m.blake3, seedFrom(seed), clock);
  const b = new RawProvider(m.base, m.blake3, seedFrom(seed + 1), clock);
  open.push(a, b);
  await a.join({ max_jobs: caps.a ?? 1 });
  await b.join({ max_jobs: caps.b ?? 1 });
  await until(
    'both joined',
    () => m.validator.connectedProviders,
    (n) => n === 2,
    10_000,
  );
  return { m, clock, a, b };
}

/** `a` stays silent past t2 while `b` heartbeats just before the sweep (so `b` is warm): then one sweep. */
async function lapseWithWarmStandby({ m, clock, b }: Standby): Promise<void> {
  clock.advance(LAPSE_MS);
  await heartbeatCommitted(m, b);
  await m.validator.sweepNow();
}

/**
 * With `b` warm and holding only `kept`, `a`'s lapsed lease of `job` is not handed to `b`: the
 * job comes back to `a` from the queue, two epochs on (the promotion that did not take used one).
 */
async function expectRequeued(s: Standby, job: JobFrame, kept: JobFrame): Promise<void> {
  const { m, a, b } = s;
  await lapseWithWarmStandby(s);
  const again = await a.nextJob(1);
  expect([again.job_id, again.epoch]).toEqual([job.job_id, job.epoch + 2]);
  expect(m.validator.handoverCount).toBe(0);
  expect(b.jobs().map((j) => j.job_id)).toEqual([kept.job_id]);
}

const oneSlice = (prompt: string) => ({
  challenge_type: 'inference',
  payload: { model_id: 'm', prompt, max_tokens: 1 },
  reward: '1.0',
});

describe('standby handover (standbys = 1)', () => {
  it('hands a lapsed lease to the named standby at the next epoch, not back to the queue; the old holder’s late result is refused unpunished', async () => {
    const s = await twoProviders('handover', SEED);
    const { m, a, b } = s;
    const id = (await postTask(m, oneSlice('handover'))).json.task_id as string;
    const first = await a.nextJob(0);
    const lease = (await m.store.transaction((tx) => tx.validator.assignment(first.job_id)))?.lease as unknown as Lease;
    expect(lease.replication).toEqual({ mode: 'warm-standby', standbyProviders: [b.address] });

    // `a` never heartbeats: its lease lapses and the job goes to `b`. Back in the queue it would
    // have gone to `a` again (first in join order, with room once its lease was revoked).
    await lapseWithWarmStandby(s);
    expect(m.validator.handoverCount).toBe(1);
    const second = await b.nextJob(0);
    expect([second.job_id, second.epoch]).toEqual([first.job_id, first.epoch + 1]);
    const held = await m.store.transaction(async (tx) => ({
      a: await tx.validator.assignment(first.job_id),
      job: await tx.validator.job(first.job_id),
    }));
    expect([held.a?.provider, held.a?.epoch, held.job?.status, held.job?.leaseOwner]).toEqual([
      b.address,
      2,
      'leased',
      b.address,
    ]);
    // A warm standby (heard within t1) takes the lease over Live, not waiting for its next beat.
    expect((held.a?.lease as unknown as Lease | undefined)?.state.kind).toBe('live');

    const bondBefore = (await m.store.transaction((tx) => tx.validator.provider(a.address)))?.bond;
    a.sendJson(a.honestResult(first, m.blake3, nonce++));
    const late = await a.ackFor(first.job_id);
    expect([late.accepted, late.code]).toEqual([false, 'NOT_LEASED']);
    expect((await m.store.transaction((tx) => tx.validator.provider(a.address)))?.bond).toBe(bondBefore);

    b.sendJson(b.honestResult(second, m.blake3, nonce++));
    const ok = await b.ackFor(first.job_id);
    expect([ok.accepted, ok.code]).toEqual([true, null]);
    expect((await getTask(m, id)).status).toBe('completed');
    expect(a.jobs()).toHaveLength(1);
    expect(await balance(m, ACCOUNTS.worker(b.address))).toBe(250_000n);
    expect(await balance(m, ACCOUNTS.worker(a.address))).toBe(0n);
  });

  it('a standby that left before the handover is skipped: the job is requeued and completed by whoever is there', async () => {
    const { m, clock, a, b } = await twoProviders('gone', SEED + 10);
    const id = (await postTask(m, oneSlice('standby gone'))).json.task_id as string;
    const first = await a.nextJob(0);
    b.close();
    await until(
      'standby gone',
      () => m.validator.connectedProviders,
      (n) => n === 1,
      10_000,
    );

    // The sweep revokes `a`'s lease; the absent standby is skipped inside the same transaction, so
    // the job is never leased to it (not even for the t2 it would take to lapse there).
    clock.advance(LAPSE_MS);
    await m.validator.sweepNow();
    expect((await m.store.transaction((tx) => tx.validator.job(first.job_id)))?.leaseOwner).not.toBe(b.address);
    const again = await a.nextJob(1);
    expect([again.job_id, again.epoch]).toEqual([first.job_id, first.epoch + 2]); // epoch 2 was the promotion that did not take
    expect(m.validator.handoverCount).toBe(0);
    a.sendJson(a.honestResult(again, m.blake3, nonce++));
    expect((await a.ackFor(first.job_id)).accepted).toBe(true);
    expect((await getTask(m, id)).status).toBe('completed');
    expect(b.jobs()).toHaveLength(0);
  });

  it('a standby with no room is skipped too', async () => {
    const s = await twoProviders('full', SEED + 20);
    await postTask(s.m, oneSlice('first'));
    const first = await s.a.nextJob(0);
    await postTask(s.m, oneSlice('second'));
    const other = await s.b.nextJob(0);
    // `b` keeps its own job and so stays full (max_jobs 1); `a` stays silent.
    await expectRequeued(s, first, other);
  });

  it('a standby that runs the other half of a pair does not take the job over (both runs stay with distinct providers)', async () => {
    // `b` has room for a second job, so only the pair rule keeps the job from it.
    const s = await twoProviders('pair', SEED + 30, { verifyMode: 'second_provider' }, { b: 2 });
    await postTask(s.m, oneSlice('paired'));
    const primary = await s.a.nextJob(0);
    const twin = await s.b.nextJob(0);
    const pair = await s.m.store.transaction((tx) => tx.validator.pairOf(primary.job_id));
    expect(pair && [pair.primary, pair.twin].sort()).toEqual([primary.job_id, twin.job_id].sort());
    // `b` holds the twin; `a`'s run lapses and names `b` as its standby, which may not take it.
    await expectRequeued(s, primary, twin);
  });

  it('a standby that is connected but silent (no heartbeat within t1) is not warm and is skipped', async () => {
    const { m, clock, a, b } = await twoProviders('silent', SEED + 40);
    await postTask(m, oneSlice('silent standby'));
    const first = await a.nextJob(0);
    // `b` did heartbeat once, but longer than t1 before the sweep.
    await heartbeatCommitted(m, b);
    clock.advance(LAPSE_MS);
    await m.validator.sweepNow();
    // Not handed over: the job goes through the queue (epoch 2 was the promotion that did not
    // take), where `b` fits and has room, so it is not leased back to `a`, which just lost it.
    const again = await b.nextJob(0);
    expect([again.job_id, again.epoch]).toEqual([first.job_id, first.epoch + 2]);
    expect(m.validator.handoverCount).toBe(0);
    expect(a.jobs()).toHaveLength(1);
  });

  it('two leases lost in one sweep, naming the same standby with room for one: one is handed over, the other requeued', async () => {
    const s = await twoProviders('two', SEED + 50, {}, { a: 2, b: 1 });
    const { m, a, b } = s;
    await postTask(m, oneSlice('one of two'));
    await postTask(m, oneSlice('two of two'));
    const jobs = [await a.nextJob(0), await a.nextJob(1)];
    expect(b.jobs()).toHaveLength(0);
    await lapseWithWarmStandby(s);
    expect(m.validator.handoverCount).toBe(1);
    const handed = await b.nextJob(0);
    expect(jobs.map((j) => j.job_id)).toContain(handed.job_id);
    // The other job went back to the queue; the dispatch pass after the sweep gives it to `a`
    // (first in join order, room again), not to the full standby.
    const requeued = await a.nextJob(2);
    expect(jobs.map((j) => j.job_id).filter((j) => j !== handed.job_id)).toEqual([requeued.job_id]);
    expect(b.jobs()).toHaveLength(1);
    const owners = await m.store.transaction(async (tx) =>
      Promise.all(jobs.map(async (j) => (await tx.validator.job(j.job_id))?.leaseOwner ?? null)),
    );
    expect(owners.filter((o) => o === b.address)).toHaveLength(1);
  });
});
