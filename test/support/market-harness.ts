import { afterEach } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { createMarketServer, type MarketServer, type MarketServerDeps } from '../../src/market/market-server.js';
import type { CustomerRecord } from '../../src/market/store/customers-repo.js';
import type { SqlDriver } from '../../src/market/store/driver.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { attachValidator, type AttachValidatorDeps } from '../../src/market/validator/attach.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import type { ValidatorService } from '../../src/market/validator/validator-service.js';
import { loadBlake3, nodeSha256 } from '../../src/node/hash/node-hasher.js';
import type { Logger } from '../../src/node/log.js';
import { RawProvider, seedFrom } from './raw-provider.js';
import { tempDir } from './temp-dir.js';

/**
 * A market instance in the test's process, built the way `tessera market` builds one
 * (createMarketServer + attachValidator over one store) with the knobs tests turn: the store
 * (PGlite or PostgreSQL, see test/market/store-harness.ts), the validator's config, the clock.
 * For the product's own start path (startLocalMarket) use startMarket in ./market.ts.
 */

/** No timers: no sweep, no batch sealing, heartbeats far apart. The test drives every pass (kick, whenIdle, sweepNow…). */
export const TIMERS_OFF = { batchMs: 0, sweepMs: 0, heartbeatMs: 60_000 } as const satisfies Partial<ValidatorConfig>;

export interface OpenMarketOptions {
  /**
   * The store: a function opening its driver (a fresh or shared database; wrap the driver there
   * to count or fail statements), closed with the market; or a store the test opened and closes.
   */
  store: (() => Promise<SqlDriver>) | MarketStore;
  marketId: string;
  /** The validator's config, over TIMERS_OFF. No bond is implied: pass `bondTarget: 0n` to count exact worker payouts. */
  config?: Partial<ValidatorConfig>;
  /** Default: wall time. */
  clock?: Clock;
  /** Default: a fresh temp dir, removed after the test (so give one when opening outside a test, in beforeAll). */
  dataDir?: string;
  blake3?: Blake3Hasher;
  /** The logger of both the server and the validator (default: each its own `market` logger). */
  logger?: Logger;
  /** More of createMarketServer's deps (limits, timeouts, auth; the expiry sweep, off by default). */
  server?: Omit<Partial<MarketServerDeps>, 'store' | 'clock' | 'blake3' | 'dataDir'>;
  /** More of attachValidator's deps (a fixed secret, peer URLs, the validator's own logger). */
  validator?: Pick<AttachValidatorDeps, 'secretHex' | 'peerUrls' | 'logger'>;
  /** Listen on 127.0.0.1 (default true); false: `base` is ''. */
  listen?: boolean;
}

export interface MarketInstance {
  store: MarketStore;
  server: MarketServer;
  validator: ValidatorService;
  /** http://127.0.0.1:<port> ('' when not listening). */
  base: string;
  blake3: Blake3Hasher;
  dataDir: string;
  /** Stops it as an operator would: validator, HTTP server, then the store it opened. Once; later calls do nothing. */
  close(): Promise<void>;
}

/**
 * A market instance: the store opened (unless given), the server (expiry sweep off, no process
 * metrics) and the validator (re-execution on the test's thread) over it, listening on 127.0.0.1.
 * The caller closes it (or opens it through testMarkets(), which does).
 */
export async function openMarket(o: OpenMarketOptions): Promise<MarketInstance> {
  const blake3 = o.blake3 ?? (await loadBlake3());
  const clock = o.clock ?? { now: () => Date.now() };
  const dataDir = o.dataDir ?? tempDir('tessera-market-');
  const owned = !(o.store instanceof MarketStore);
  const store = o.store instanceof MarketStore ? o.store : await MarketStore.open(await o.store());
  const server = await createMarketServer({
    expirySweepMs: 0,
    processMetrics: false,
    ...o.server,
    store,
    clock,
    blake3,
    dataDir,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  const validator = await attachValidator({
    app: server.app,
    store,
    clock,
    blake3,
    sha256: nodeSha256,
    digestThreads: 0,
    config: { ...TIMERS_OFF, ...o.config },
    marketId: o.marketId,
    ...(o.logger ? { logger: o.logger } : {}),
    ...o.validator,
  });
  const base = o.listen === false ? '' : await server.listen('127.0.0.1', 0);
  let closed = false;
  return {
    store,
    server,
    validator,
    base,
    blake3,
    dataDir,
    async close() {
      if (closed) return;
      closed = true;
      await validator.close();
      await server.close();
      if (owned) await store.close();
    },
  };
}

export interface FundedCustomer {
  customer: CustomerRecord;
  /** Its API key (a bearer token), as postTask and getTask in ./market.ts take it. */
  customerKey: string;
}

/** Adds the customer `name` through `server` and funds it with `credits` micro-CPC (default 1,000 CPC). */
export async function fundedCustomer(
  server: Pick<MarketServer, 'customers'>,
  name = 'alice',
  credits = 1_000_000_000n,
): Promise<FundedCustomer> {
  const c = await server.customers.add(name);
  await server.customers.fund(name, credits);
  return { customer: c.customer, customerKey: c.apiKey };
}

export interface TestMarkets {
  /** openMarket, closed after the test. */
  open(o: OpenMarketOptions): Promise<MarketInstance>;
  /**
   * A RawProvider with the key of `seed` (seedFrom), joined to `m` with `caps` on `clock` (default
   * wall time), closed after the test.
   */
  join(
    m: { base: string; blake3: Blake3Hasher },
    seed: number,
    caps?: Parameters<RawProvider['join']>[0],
    clock?: Clock,
  ): Promise<RawProvider>;
  /** Closes now every provider `join` gave (a market about to restart under them). */
  closeProviders(): void;
  /** Runs `fn` after the test, before what was registered earlier. */
  defer(fn: () => unknown): void;
  /** Closes `x` after the test (see defer); returns it. */
  own<T extends { close(): unknown }>(x: T): T;
}

/**
 * What a test file's markets and providers need after each test: everything opened, joined or
 * deferred through it is closed after the test, newest first (providers before the market they
 * joined). Call once, at the file's top level.
 */
export function testMarkets(): TestMarkets {
  const cleanups: (() => unknown)[] = [];
  const providers: RawProvider[] = [];
  afterEach(async () => {
    providers.length = 0;
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const defer = (fn: () => unknown) => void cleanups.push(fn);
  return {
    async open(o) {
      const m = await openMarket(o);
      defer(() => m.close());
      return m;
    },
    async join(m, seed, caps, clock) {
      const p = new RawProvider(m.base, m.blake3, seedFrom(seed), clock);
      providers.push(p);
      defer(() => p.close());
      await p.join(caps);
      return p;
    },
    closeProviders() {
      for (const p of providers.splice(0)) p.close();
    },
    defer,
    own(x) {
      defer(() => x.close());
      return x;
    },
  };
}
