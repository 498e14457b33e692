import type { Clock } from '../../src/core/clock.js';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { startLocalMarket } from '../../src/market/local-market.js';
import type { MarketServer } from '../../src/market/market-server.js';
import type { MarketStore } from '../../src/market/store/market-store.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import type { ValidatorService } from '../../src/market/validator/validator-service.js';
import { createLogger } from '../../src/node/log.js';
import type { RawProvider } from './raw-provider.js';

export const clock: Clock = { now: () => Date.now() };

export interface Market {
  store: MarketStore;
  server: MarketServer;
  validator: ValidatorService;
  base: string;
  blake3: Blake3Hasher;
  customerKey: string;
  customerId: string;
  close(): Promise<void>;
}

export interface StartMarketOptions {
  /** Credits given to the customer `alice` (default 1e9). */
  fund?: bigint;
  port?: number;
  /** An existing customer (a restarted market); none is added. */
  customer?: { key: string; id: string };
  /** The store on disk in `dir` rather than in memory. */
  onDisk?: boolean;
  /** The market's clock (default: wall time). */
  clock?: Clock;
  /**
   * Worker threads re-executing checked jobs. Default 0 (on the test's thread): a worker costs
   * seconds to start under vitest and the re-execution is the same code either way. The e2e loop
   * tests ask for the product's 1.
   */
  digestThreads?: number;
  marketId?: string;
  /** The other instances the welcome names (attachValidator's peerUrls); absent: none. */
  peerUrls?: () => Promise<string[]>;
}

/**
 * A market on an embedded store in `dir` with a funded customer, listening on 127.0.0.1. The
 * validator sweeps every 100 ms and seals no batches unless `config` says otherwise; a test that
 * must know when a sweep ran sets `sweepMs: 0` and calls `validator.sweepNow()` itself.
 */
export async function startMarket(
  dir: string,
  config: Partial<ValidatorConfig>,
  o: StartMarketOptions = {},
): Promise<Market> {
  const { fund = 1_000_000_000n, port = 0, customer } = o;
  const {
    store,
    server,
    validator,
    blake3,
    url: base,
    close,
  } = await startLocalMarket({
    dataDir: dir,
    clock: o.clock ?? clock,
    inMemoryStore: !o.onDisk,
    port,
    expirySweepMs: 0,
    customer: false,
    digestThreads: o.digestThreads ?? 0,
    // No bond unless the test asks for one (bondTarget): most tests count exact worker payouts;
    // the bond's own tests (test/market/validator-bond.test.ts) run with the market's defaults.
    validator: { practice: false, batchMs: 0, sweepMs: 100, heartbeatMs: 100, bondTarget: 0n, ...config },
    marketId: o.marketId ?? 'test-market',
    logger: createLogger('market'),
    ...(o.peerUrls ? { peerUrls: o.peerUrls } : {}),
  });
  let customerKey = customer?.key ?? '';
  let customerId = customer?.id ?? '';
  if (!customer) {
    const c = await server.customers.add('alice');
    customerKey = c.apiKey;
    customerId = c.customer.customerId;
    await server.customers.fund('alice', fund);
  }
  return { store, server, validator, base, blake3, customerKey, customerId, close };
}

export async function postTask(
  m: Pick<Market, 'base' | 'customerKey'>,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${m.base}/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${m.customerKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

export async function getTask(m: Pick<Market, 'base' | 'customerKey'>, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${m.base}/tasks/${id}`, { headers: { authorization: `Bearer ${m.customerKey}` } });
  return (await res.json()) as Record<string, unknown>;
}

/** An account's balance in the market's store. */
export function balance(m: Pick<Market, 'store'>, account: string): Promise<bigint> {
  return m.store.transaction((tx) => tx.accounts.balance(account));
}

/**
 * Sends `p`'s heartbeat (naming the jobs it holds) and resolves once the market has committed it —
 * from then on the market counts `p` as heard at the heartbeat's arrival.
 */
export function heartbeatCommitted(m: Pick<Market, 'validator'>, p: RawProvider, ms = 30_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for the market to commit a heartbeat of ${p.address}`));
    }, ms);
    const off = m.validator.onDidCommitHeartbeat((address) => {
      if (address !== p.address) return;
      off();
      clearTimeout(timer);
      resolve();
    });
    p.heartbeat();
  });
}
