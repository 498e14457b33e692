import { afterAll, describe, expect, it } from 'vitest';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { silentLogger } from '../../src/node/log.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import { LeaderElector } from '../../src/market/validator/leader-election.js';
import { testMarkets } from '../support/market-harness.js';
import { backendKiller, PG_URL_ENV, pgHarness, type StoreHarness } from './store-harness.js';

/**
 * One leader per market among the instances sharing its store: the duties that must run once per
 * market (ticking leases, sealing batches, the completion sweep) run only there. The leader's lock
 * goes with its connection, so another instance takes over when it dies.
 */
const url = process.env[PG_URL_ENV];
const pgh: StoreHarness | undefined = url ? pgHarness(url) : undefined;
afterAll(() => pgh?.cleanup());

const markets = testMarkets();
const own = markets.own;

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
  const kill = backendKiller(url);

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
    const start = async () =>
      (
        await markets.open({
          store: () => h.open(schema),
          clock,
          blake3,
          marketId: 'leader-market',
          validator: { logger: silentLogger },
          listen: false,
        })
      ).validator;
    const first = await start();
    const second = await start();
    expect([first.leader.isLeader, second.leader.isLeader]).toEqual([true, false]);
    await first.close();
    expect(await second.leader.runOnce()).toBe(true);
  }, 60_000);
});
