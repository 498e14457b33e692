import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import { CLOSE_CODES } from '../../src/shared/market-protocol.js';
import { manualClock, type ManualClock } from '../support/clock.js';
import { balance, getTask, heartbeatCommitted, postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { tempDir } from '../support/temp-dir.js';
import { until } from '../support/wait.js';

const SEED = 0x11e0;
console.log(`provider liveness test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** The product's lease timings (t1 30 s, t2 90 s) and socket timings (ping 15 s, dead 45 s), on a clock the test moves; sweeps only when the test runs one. */
async function market(name: string, config: Partial<ValidatorConfig> = {}): Promise<{ m: Market; clock: ManualClock }> {
  const clock = manualClock();
  const m = await startMarket(
    join(tempDir(`tessera-liveness-${name}-`), 'market'),
    { checkFraction: 0, sweepMs: 0, ...config },
    { clock },
  );
  open.push(m);
  return { m, clock };
}

const oneSlice = (prompt: string) => ({
  challenge_type: 'inference',
  payload: { model_id: 'm', prompt, max_tokens: 1 },
  reward: '1.0',
});

/** Moves the clock by `ms` with `keep` heard just before the next step (it stays fresh; anyone else stays silent). */
async function pass(m: Market, clock: ManualClock, ms: number, keep: RawProvider): Promise<void> {
  clock.advance(ms);
  await heartbeatCommitted(m, keep);
}

async function jobRow(m: Market, jobId: string) {
  return m.store.transaction((tx) => tx.validator.job(jobId));
}

describe('the market notices a dead provider connection', () => {
  it('closes a black-holed provider’s socket (4007) once its ping goes unanswered, and its job goes to a healthy provider, once', async () => {
    const { m, clock } = await market('blackhole');
    const proxy = await TcpProxy.start(Number(new URL(m.base).port));
    open.push(proxy);
    const a = new RawProvider(proxy.url, m.blake3, seedFrom(SEED), clock);
    const b = new RawProvider(m.base, m.blake3, seedFrom(SEED + 1), clock);
    open.push(a, b);
    await a.join();
    const id = (await postTask(m, oneSlice('black hole'))).json.task_id as string;
    const first = await a.nextJob();
    await b.join();
    await until(
      'both joined',
      () => m.validator.connectedProviders,
      (n) => n === 2,
    );

    // a's path dies silently; b keeps heartbeating.
    proxy.blackhole();
    const { socketPingMs, socketDeadMs } = m.validator.config;
    // (The market's own liveness timer may run a pass between these steps too: the outcome is the same.)
    await pass(m, clock, socketPingMs, b);
    m.validator.liveness.checkNow(); // a is pinged, into the hole
    await pass(m, clock, socketDeadMs - socketPingMs - 1, b);
    m.validator.liveness.checkNow();
    expect(m.validator.connectedProviders).toBe(2);
    await pass(m, clock, 1, b);
    m.validator.liveness.checkNow(); // a's ping unanswered for socketDeadMs − socketPingMs: dead
    // The dead socket's session ends at once (no close handshake can complete through the hole).
    expect(m.validator.connectedProviders).toBe(1);

    // a's lease lapses by the silence rule (t2 after it was last heard) and the job goes to b.
    await pass(m, clock, m.validator.config.quorum.t2Secs * 1000 - socketDeadMs, b);
    await m.validator.sweepNow();
    const second = await b.nextJob();
    expect([second.job_id, second.epoch]).toEqual([first.job_id, first.epoch + 1]);
    b.sendJson(b.honestResult(second, m.blake3, nonce++));
    expect(await b.ackFor(second.job_id)).toMatchObject({ accepted: true, code: null });
    expect((await getTask(m, id)).status).toBe('completed');
    expect((await jobRow(m, first.job_id))?.attempts).toBe(2);
    expect(await balance(m, ACCOUNTS.worker(b.address))).toBe(250_000n);

    // The healed path delivers the market’s 4007 close to a at last.
    proxy.heal();
    expect(await a.closed()).toBe(CLOSE_CODES.unresponsive);
  });

  it('keeps a provider that answers pings, however long it has nothing to say', async () => {
    const { m, clock } = await market('quiet');
    const a = new RawProvider(m.base, m.blake3, seedFrom(SEED + 2), clock);
    open.push(a);
    await a.join();
    const { socketPingMs, socketDeadMs } = m.validator.config;
    // The clock moves only in the synchronous steps between awaits, so the market's own liveness
    // timer (which may run at any await) never sees a moved clock with a ping still unanswered.
    clock.advance(socketPingMs);
    for (let round = 0; round < 3; round++) {
      const pong = new Promise<void>((resolve) => {
        const off = m.validator.liveness.onDidHear(() => {
          off();
          resolve();
        });
      });
      expect(m.validator.liveness.checkNow()).toEqual({ pinged: 1, dead: 0 }); // a is pinged …
      await pong; // … and its ws library's pong is heard
      // As long as an unanswered ping takes to be dead: a is silent again, so it is pinged again, not dropped.
      clock.advance(socketDeadMs - socketPingMs);
    }
    expect(m.validator.connectedProviders).toBe(1);
    expect(a.closeCode).toBeUndefined();
  });
});

describe('dispatch after a lost job', () => {
  it('a job a provider reports lost goes to another provider that fits, not back to the one that lost it', async () => {
    const { m, clock } = await market('job-lost');
    const a = new RawProvider(m.base, m.blake3, seedFrom(SEED + 3), clock);
    const b = new RawProvider(m.base, m.blake3, seedFrom(SEED + 4), clock);
    open.push(a, b);
    await a.join();
    const id = (await postTask(m, oneSlice('lost'))).json.task_id as string;
    const first = await a.nextJob();
    await b.join();
    await heartbeatCommitted(m, b);
    // a comes first in join order and has room again the moment its lease is revoked.
    a.sendJson({ type: 'job_lost', job_id: first.job_id, reason: 'out of memory' });
    const second = await b.nextJob();
    expect([second.job_id, second.epoch]).toEqual([first.job_id, first.epoch + 1]);
    expect(a.jobs()).toHaveLength(1);
    b.sendJson(b.honestResult(second, m.blake3, nonce++));
    expect(await b.ackFor(second.job_id)).toMatchObject({ accepted: true });
    expect((await getTask(m, id)).status).toBe('completed');
  });

  it('a provider that is connected but silent does not get its lapsed job back while another provider fits', async () => {
    const { m, clock } = await market('silent');
    const a = new RawProvider(m.base, m.blake3, seedFrom(SEED + 5), clock);
    const b = new RawProvider(m.base, m.blake3, seedFrom(SEED + 6), clock);
    open.push(a, b);
    await a.join();
    await postTask(m, oneSlice('silent'));
    const first = await a.nextJob();
    await b.join();
    // a answers pings (its socket stays open) but sends no heartbeat: its lease lapses after t2.
    await pass(m, clock, m.validator.config.quorum.t2Secs * 1000 + 1, b);
    await m.validator.sweepNow();
    const second = await b.nextJob();
    expect([second.job_id, second.epoch]).toEqual([first.job_id, first.epoch + 1]);
    expect(m.validator.connectedProviders).toBe(2);
    expect(a.jobs()).toHaveLength(1);
  });

  it('the provider that lost a job gets it back when no other provider fits', async () => {
    const { m, clock } = await market('only-one');
    const a = new RawProvider(m.base, m.blake3, seedFrom(SEED + 7), clock);
    const gpu = new RawProvider(m.base, m.blake3, seedFrom(SEED + 8), clock);
    open.push(a, gpu);
    await a.join({ lanes: ['consumer'] });
    await gpu.join({ lanes: ['industrial'] }); // connected, with room, but does not fit a consumer job
    await postTask(m, oneSlice('only one'));
    const first = await a.nextJob();
    await heartbeatCommitted(m, a);
    a.sendJson({ type: 'job_lost', job_id: first.job_id, reason: 'restarted' });
    const again = await a.nextJob(1);
    expect([again.job_id, again.epoch]).toEqual([first.job_id, first.epoch + 1]);
    expect(gpu.jobs()).toHaveLength(0);
  });

  it('prefers a provider heard within t1 to one silent for longer, though the silent one joined first', async () => {
    const { m, clock } = await market('fresh');
    const stale = new RawProvider(m.base, m.blake3, seedFrom(SEED + 9), clock);
    const fresh = new RawProvider(m.base, m.blake3, seedFrom(SEED + 10), clock);
    open.push(stale, fresh);
    await stale.join();
    await fresh.join();
    await pass(m, clock, m.validator.config.quorum.t1Secs * 1000, fresh);
    await postTask(m, oneSlice('fresh'));
    const job = await fresh.nextJob();
    expect(job.task_id).toBeDefined();
    expect(stale.jobs()).toHaveLength(0);
  });
});
