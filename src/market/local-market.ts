import type { Blake3Hasher } from '../core/hash/hasher.js';
import type { Clock } from '../core/clock.js';
import { loadBlake3, nodeSha256 } from '../node/hash/node-hasher.js';
import { DisposableStore } from '../node/lifecycle.js';
import { errorFields, silentLogger, type Logger } from '../node/log.js';
import { createMarketServer, type MarketServer } from './market-server.js';
import { MarketStore, openMarketStore } from './store/market-store.js';
import { openPgliteDriver } from './store/pglite-driver.js';
import { attachValidator } from './validator/attach.js';
import { startPracticeCustomer } from './validator/practice-customer.js';
import type { ValidatorConfig } from './validator/validator-config.js';
import type { ValidatorService } from './validator/validator-service.js';

export interface LocalMarketDeps {
  /** The market's data dir: its store (unless `inMemoryStore`), uploaded slices, batches. */
  dataDir: string;
  clock: Clock;
  logger?: Logger;
  /** Loaded when absent. */
  blake3?: Blake3Hasher;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Keep the store in memory (tests); default: on disk under `dataDir/store`. */
  inMemoryStore?: boolean;
  /** Validator settings over the practice defaults (`practice: true`, `batchMs: 10000`). */
  validator?: Partial<ValidatorConfig>;
  /** Default `tessera-practice-market`. */
  marketId?: string;
  /** How often overdue tasks are failed and refunded (ms; 0: off; default the server's). */
  expirySweepMs?: number;
  /** Worker threads re-executing checked jobs (default 1). */
  digestThreads?: number;
  /** The in-process practice customer posting small tasks (default on, every 2 s); false: none. */
  customer?: false | { intervalMs?: number };
}

/** A market running in this process: close it before the process ends. */
export interface LocalMarket {
  url: string;
  store: MarketStore;
  server: MarketServer;
  validator: ValidatorService;
  blake3: Blake3Hasher;
  /** Tasks the practice customer has posted so far (0 without one). */
  posted(): number;
  /** Stops the customer, the validator, the HTTP server and the store (every step attempted); safe to call twice. */
  close(): Promise<void>;
}

/**
 * The practice market in one call: store, market server, validator and (by default) the
 * in-process practice customer, listening on 127.0.0.1. `tessera practice` and `tessera
 * headless` run it; tests use it with an in-memory store.
 */
export async function startLocalMarket(deps: LocalMarketDeps): Promise<LocalMarket> {
  const logger = deps.logger ?? silentLogger;
  const blake3 = deps.blake3 ?? (await loadBlake3());
  const resources = new DisposableStore('practice market', logger);
  try {
    const store = resources.add(
      deps.inMemoryStore
        ? await MarketStore.open(await openPgliteDriver(undefined))
        : await openMarketStore({ dataDir: deps.dataDir }),
      'store',
    );
    const server = await createMarketServer({
      store,
      clock: deps.clock,
      blake3,
      dataDir: deps.dataDir,
      processMetrics: false,
      logger,
      ...(deps.expirySweepMs !== undefined ? { expirySweepMs: deps.expirySweepMs } : {}),
    });
    resources.add(server, 'HTTP server');
    const validator = await attachValidator({
      app: server.app,
      store,
      clock: deps.clock,
      blake3,
      sha256: nodeSha256,
      dataDir: deps.dataDir,
      config: { practice: true, batchMs: 10_000, ...deps.validator },
      marketId: deps.marketId ?? 'tessera-practice-market',
      ...(deps.digestThreads !== undefined ? { digestThreads: deps.digestThreads } : {}),
      logger,
    });
    resources.add(validator, 'validator');
    const url = await server.listen(deps.host ?? '127.0.0.1', deps.port ?? 0);
    let posted = () => 0;
    if (deps.customer !== false) {
      const customer = await startPracticeCustomer({
        customers: server.customers,
        tasks: server.tasks,
        ...(deps.customer?.intervalMs !== undefined ? { intervalMs: deps.customer.intervalMs } : {}),
        onDidPost: () => validator.kick(),
        onError: (err) => logger.error('practice customer failed to post', errorFields(err)),
      });
      resources.add(() => customer.stop(), 'practice customer');
      posted = () => customer.posted();
    }
    return {
      url,
      store,
      server,
      validator,
      blake3,
      posted: () => posted(),
      close: () => resources.dispose(),
    };
  } catch (err) {
    await resources.dispose().catch(() => undefined);
    throw err;
  }
}
