import { afterAll, describe, expect, it } from 'vitest';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { silentLogger } from '../../src/node/log.js';
import { CLOSE_CODES } from '../../src/shared/market-protocol.js';
import { manualClock, type ManualClock } from '../support/clock.js';
import { postTask } from '../support/market.js';
import { fundedCustomer, testMarkets, type FundedCustomer, type MarketInstance } from '../support/market-harness.js';
import type { RawProvider } from '../support/raw-provider.js';
import { PG_URL_ENV, pgHarness, type StoreHarness } from './store-harness.js';

/**
 * Presence across market instances sharing one store (docs/market-api.md, "Presence"): which
 * instance holds each provider's socket and which instances are live are in the store, so a
 * provider connected to two instances keeps only its newer socket, industrial capacity counts
 * every live instance, and a restarting instance leaves alone the leases of providers heard by
 * another one. Every pass is one the test runs (`presence.runOnce()`; the timers are off) on a
 * clock the test moves.
 */
const SEED = 0x9e5;
console.log(`presence test seed ${SEED}`);

const TIMEOUT_MS = 10_000;
const CONFIG = {
  checkFraction: 0,
  sweepMs: 0,
  batchMs: 0,
  presenceMs: 0,
  receiptDeliveryMs: 0,
  heartbeatMs: 60_000,
  instanceTimeoutMs: TIMEOUT_MS,
};

const url = process.env[PG_URL_ENV];
const pgh: StoreHarness | undefined = url ? pgHarness(url) : undefined;
afterAll(() => pgh?.cleanup());

const markets = testMarkets();

type Instance = MarketInstance & FundedCustomer;

/** Stores for the instances of one test: PGlite shares one store object between them; PostgreSQL opens one per instance on one schema. */
type StoreSource = () => Promise<MarketStore>;

/**
 * PostgreSQL stores listen for notifications only when a test asks (`listen`): the other tests
 * drive every pass themselves, so a notification must not run one behind their back.
 */
const kinds: { name: string; source: (listen?: boolean) => Promise<StoreSource> }[] = [
  {
    name: 'pglite',
    source: async () => {
      const store = await MarketStore.open(await openPgliteDriver(undefined));
      markets.defer(() => store.close());
      return async () => store;
    },
  },
];
if (pgh)
  kinds.push({
    name: 'postgres',
    source: async (listen = false) => {
      const schema = await pgh.newLocation();
      return async () => {
        const driver = await pgh.open(schema);
        const store = await MarketStore.open(listen ? driver : { ...driver, notifications: undefined });
        markets.defer(() => store.close());
        return store;
      };
    },
  });

let blake3: Blake3Hasher;
let customer = 0;

/** A market instance on the store `source` gives, listening on 127.0.0.1 and advertising that URL. */
async function instance(source: StoreSource, clock: ManualClock): Promise<Instance> {
  blake3 ??= await loadBlake3();
  const m = await markets.open({
    store: await source(),
    clock,
    blake3,
    logger: silentLogger,
    config: CONFIG,
    marketId: 'presence-market',
  });
  await m.validator.presence.advertise(m.base);
  return { ...m, ...(await fundedCustomer(m.server, `c${++customer}`)) };
}

const provider = (i: Instance, n: number, caps: Parameters<RawProvider['join']>[0] = {}): Promise<RawProvider> =>
  markets.join(i, SEED + n, caps);

/** Posts a one-job synthetic task through `i` (which splits it and runs an admission pass); returns its job id. */
async function post(i: Instance, store: MarketStore, lane: 'consumer' | 'industrial'): Promise<string> {
  const res = await postTask(i, {
    challenge_type: 'synthetic',
    payload: { matrix_size: 4, iterations: 1, lane },
    reward: '1.0',
  });
  expect(res.status).toBe(201);
  const taskId = res.json.task_id as string;
  await i.validator.whenIdle();
  const jobs = await store.transaction((tx) => tx.jobs.byTask(taskId));
  expect(jobs).toHaveLength(1);
  return (jobs[0] as { jobId: string }).jobId;
}

describe.each(kinds)('presence across instances on one store ($name)', ({ name, source: makeSource }) => {
  it('the same provider joins A, then B: A closes its older socket with 4005 at its next presence pass', async () => {
    const source = await makeSource();
    const clock = manualClock();
    const a = await instance(source, clock);
    const b = await instance(source, clock);
    const onA = await provider(a, 1);
    const claims: { address: string; from: string }[] = [];
    b.validator.presence.onDidClaim((e) => claims.push(e));
    const onB = await provider(b, 1);
    expect(onB.address).toBe(onA.address);
    // B took the provider over from A (what a store notification to A would carry).
    expect(claims).toEqual([{ address: onA.address, from: a.validator.presence.instanceId }]);
    expect(onA.closeCode).toBeUndefined();

    expect(await a.validator.presence.runOnce()).toEqual({ superseded: [onA.address], dropped: [] });
    expect(await onA.closed()).toBe(CLOSE_CODES.superseded);
    // B keeps the newer socket, and its pass finds its presence intact.
    expect(await b.validator.presence.runOnce()).toEqual({ superseded: [], dropped: [] });
    expect(onB.closeCode).toBeUndefined();
    expect(b.validator.connectedProviders).toBe(1);
    // A's leave did not remove B's row.
    await a.validator.whenIdle();
    await a.validator.presence.whenSettled();
    const store = await source();
    expect(await store.transaction((tx) => tx.presence.read([onB.address]))).toMatchObject([
      { instanceId: b.validator.presence.instanceId },
    ]);
    console.log(`${name}: older socket on A closed ${CLOSE_CODES.superseded} after A's pass`);
  }, 60_000);

  it('a notification naming the provider closes the older socket at once (checkNow); an address not held costs nothing', async () => {
    const source = await makeSource();
    const clock = manualClock();
    const a = await instance(source, clock);
    const b = await instance(source, clock);
    const onA = await provider(a, 2);
    expect(await a.validator.presence.checkNow([onA.address])).toEqual([]);
    await provider(b, 2);
    expect(await a.validator.presence.checkNow(['not-held-here'])).toEqual([]);
    expect(await a.validator.presence.checkNow([onA.address])).toEqual([onA.address]);
    expect(await onA.closed()).toBe(CLOSE_CODES.superseded);
  }, 60_000);

  it.skipIf(name === 'pglite')(
    'a takeover on B notifies A, which closes its older socket with no pass of its own (PostgreSQL LISTEN/NOTIFY)',
    async () => {
      const source = await makeSource(true);
      const clock = manualClock();
      const a = await instance(source, clock);
      const b = await instance(source, clock);
      const onA = await provider(a, 4);
      await provider(b, 4);
      // A's presence timer is off (presenceMs 0): only B's notification can close A's socket.
      expect(await onA.closed()).toBe(CLOSE_CODES.superseded);
    },
    60_000,
  );

  it('industrial admission counts the capacity of industrial providers on every live instance', async () => {
    const source = await makeSource();
    const store = await source();
    const clock = manualClock();
    const a = await instance(source, clock);
    const b = await instance(source, clock);
    // The only industrial provider is connected to B.
    const p = await provider(b, 3, { lanes: ['industrial'], max_jobs: 1 });
    // B falls silent past the timeout: A drops it, and with it the provider's capacity.
    clock.advance(TIMEOUT_MS + 1);
    expect(await a.validator.presence.runOnce()).toEqual({
      superseded: [],
      dropped: [b.validator.presence.instanceId],
    });
    const first = await post(a, store, 'industrial');
    expect(await store.transaction((tx) => tx.validator.admissionState(first))).toMatchObject({
      admission: 'deferred',
      deferCode: 'NO_CAPACITY',
    });
    // B heartbeats again and writes the provider's presence back: A's next admission pass counts it.
    expect(await b.validator.presence.runOnce()).toEqual({ superseded: [], dropped: [] });
    await a.validator.pumpNow();
    expect((await store.transaction((tx) => tx.validator.admissionState(first)))?.admission).toBe('admitted');
    // B holds the socket, so B leases the admitted job to it.
    await b.validator.pumpNow();
    expect((await p.nextJob(0)).job_id).toBe(first);
  }, 60_000);

  it('a restarting instance leaves alone the silence clock of a lease held through another live instance', async () => {
    const source = await makeSource();
    const store = await source();
    const clock = manualClock();
    const a = await instance(source, clock);
    const b = await instance(source, clock);
    const viaB = await provider(b, 4);
    const viaA = await provider(a, 5);
    const jobB = await post(b, store, 'consumer');
    await b.validator.pumpNow();
    expect((await viaB.nextJob(0)).job_id).toBe(jobB);
    const jobA = await post(a, store, 'consumer');
    await a.validator.pumpNow();
    expect((await viaA.nextJob(0)).job_id).toBe(jobA);
    const lease = (jobId: string) => store.transaction(async (tx) => (await tx.validator.assignment(jobId))?.lease);
    const beforeB = await lease(jobB);
    const beforeA = await lease(jobA);

    // A dies (it stops heartbeating); B stays live. A new instance starts past A's timeout.
    clock.advance(TIMEOUT_MS + 1);
    await b.validator.presence.runOnce();
    await instance(source, clock);
    // B hears its provider: the lease is left as it was, its silence still counted from B's last beat.
    expect(await lease(jobB)).toEqual(beforeB);
    // Nobody live held A's provider while A was down: its silence counts from this start.
    expect(await lease(jobA)).not.toEqual(beforeA);
    expect(await lease(jobA)).toMatchObject({ clockMs: clock.now() });
  }, 60_000);

  it("a dead instance's presence is dropped by a live one, and its URL is no longer offered", async () => {
    const source = await makeSource();
    const store = await source();
    const clock = manualClock();
    const a = await instance(source, clock);
    const b = await instance(source, clock);
    const p = await provider(a, 6);
    await b.validator.presence.runOnce();
    expect(await b.validator.presence.liveInstanceUrls()).toEqual([a.base]);
    expect(b.validator.presence.peerUrls()).toEqual([a.base]);
    expect((await b.validator.presence.liveInstanceUrls(false)).sort()).toEqual([a.base, b.base].sort());

    // A stops heartbeating (a killed process keeps its rows): B heartbeats past A's timeout.
    clock.advance(TIMEOUT_MS - 1);
    expect((await b.validator.presence.runOnce()).dropped).toEqual([]);
    clock.advance(2);
    expect(await b.validator.presence.runOnce()).toEqual({
      superseded: [],
      dropped: [a.validator.presence.instanceId],
    });
    expect(await store.transaction((tx) => tx.presence.read([p.address]))).toEqual([]);
    expect(await b.validator.presence.liveInstanceUrls()).toEqual([]);
    expect(b.validator.presence.peerUrls()).toEqual([]);
  }, 60_000);
});
