import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadBlake3, nodeSha256 } from '../../src/node/hash/node-hasher.js';
import { silentLogger } from '../../src/node/log.js';
import { createMarketServer } from '../../src/market/market-server.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import { attachValidator } from '../../src/market/validator/attach.js';
import { LeaderElector } from '../../src/market/validator/leader-election.js';
import { tempDir } from '../support/temp-dir.js';
import { PG_URL_ENV, pgHarness, type StoreHarness } from './store-harness.js';

/**
 * One leader per market among the instances sharing its store: the duties that must run once per
 * market (ticking leases, sealing batches, the completion sweep) run only there. The leader's lock
 * goes with its connection, so another instance takes over when it dies.
 */
const url = process.env[PG_URL_ENV];
const pgh: StoreHarness | undefined = url ? pgHarness(url) : undefined;
afterAll(() => pgh?.cleanup());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const own = <T extends { close(): Promise<void> }>(x: T): T => {
  cleanups.push(() => x.close());
  return x;
};

/** Resolves with the next value `elector` reports through onDidChange. */
const nextChange = (elector: LeaderElector): Promise<boolean> =>
  new Promise((resolve) => {
    const off = elector.onDidChange((leader) => {
      off();
      resolve(leader);
    });
  });

describe('leader election (pglite)', () => {
  it('the embedded store has one process, so its instance always leads', async () => {
    const store = own(await MarketStore.open(await openPgliteDriver(undefined)));
    const elector = own(new LeaderElector({ store, logger: silentLogger }));
    expect(await elector.runOnce()).toBe(true);
    expect(elector.isLeader).toBe(true);
  }, 60_000);
});

describe('leader election (postgres)', () => {
  if (!url || !pgh) {
    it.skip(`skipped: set ${PG_URL_ENV} to a PostgreSQL URL (e.g. postgres:///postgres?host=/var/run/postgresql) to elect a leader among instances on one database`, () =>
      undefined);
    return;
  }
  const h = pgh;
  const admin = new pg.Client({ connectionString: url });
  let connected = false;
  afterAll(() => (connected ? admin.end() : undefined));
  /** Ends a server backend and waits (up to 10 s) until it is gone, as a crashed host or a cut connection would. */
  const kill = async (pid: number) => {
    if (!connected) {
      await admin.connect();
      connected = true;
    }
    const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1, 10000) AS ok', [pid]);
    expect(rows[0]?.ok).toBe(true);
  };

  it('two instances on one database: one leads; when its connection dies the other takes over', async () => {
    const schema = await h.newLocation();
    const storeA = own(await MarketStore.open(await h.open(schema)));
    const storeB = own(await MarketStore.open(await h.open(schema)));
    const a = own(new LeaderElector({ store: storeA, logger: silentLogger }));
    const b = own(new LeaderElector({ store: storeB, logger: silentLogger }));

    expect(await a.runOnce()).toBe(true);
    expect(await b.runOnce()).toBe(false);
    expect(await b.runOnce()).toBe(false);
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);

    // Another market in another schema of the same database has a leader of its own.
    const other = own(
      new LeaderElector({
        store: own(await MarketStore.open(await h.open(await h.newLocation()))),
        logger: silentLogger,
      }),
    );
    expect(await other.runOnce()).toBe(true);

    // The leader's connection dies: it hears so and stops leading; the lock went with the session.
    const lost = nextChange(a);
    await kill(a.sessionPid as number);
    expect(await lost).toBe(false);
    const won = nextChange(b);
    expect(await b.runOnce()).toBe(true);
    expect(await won).toBe(true);
    // The old leader comes back (a new session) and follows.
    expect(await a.runOnce()).toBe(false);
    expect([a.isLeader, b.isLeader]).toEqual([false, true]);

    // A leader that stops hands the lock over at once.
    await b.close();
    expect(await a.runOnce()).toBe(true);
  }, 60_000);

  it('two validators on one database: exactly one leads, and the other leads once the first has stopped', async () => {
    const schema = await h.newLocation();
    const blake3 = await loadBlake3();
    const clock = { now: () => Date.now() };
    const start = async () => {
      const store = own(await MarketStore.open(await h.open(schema)));
      const dir = tempDir('tessera-leader-');
      const server = own(
        await createMarketServer({ store, clock, blake3, dataDir: dir, expirySweepMs: 0, processMetrics: false }),
      );
      const validator = await attachValidator({
        app: server.app,
        store,
        clock,
        blake3,
        sha256: nodeSha256,
        digestThreads: 0,
        config: { batchMs: 0, sweepMs: 0, heartbeatMs: 60_000 },
        marketId: 'leader-market',
        logger: silentLogger,
      });
      cleanups.push(() => validator.close());
      return validator;
    };
    const first = await start();
    const second = await start();
    expect([first.leader.isLeader, second.leader.isLeader]).toEqual([true, false]);
    await first.close();
    expect(await second.leader.runOnce()).toBe(true);
  }, 60_000);
});
