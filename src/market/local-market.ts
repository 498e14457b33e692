import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Blake3Hasher } from '../core/hash/hasher.js';
import type { Clock } from '../core/clock.js';
import { loadBlake3, nodeSha256 } from '../node/hash/node-hasher.js';
import { DisposableStore } from '../node/lifecycle.js';
import { errorFields, silentLogger, type Logger } from '../node/log.js';
import { createMarketServer, type MarketServer } from './market-server.js';
import { MarketStore } from './store/market-store.js';
import { openPgliteDriver, type PgliteOpenStep } from './store/pglite-driver.js';
import { lockStoreDir } from './store/store-lock.js';
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
  /** Worker threads re-executing checked jobs (default 0: on the market's own thread; practice jobs are small). */
  digestThreads?: number;
  /** The in-process practice customer posting small tasks (default on, every 2 s); false: none. */
  customer?: false | { intervalMs?: number };
  /** The prebuilt store image unpacked into a fresh store (default: out/practice-store.tar.gz beside the build); null: initdb. */
  storeImage?: string | null;
  /** Told as each step of the start begins, with the share of the start done so far. */
  onProgress?: (p: PracticeProgress) => void;
  /** The URLs of the market's other instances, named in each welcome (see attachValidator); absent: none. */
  peerUrls?: () => Promise<string[]>;
}

/** A step of the practice market's start: its store (unpacked from the image, made by initdb, or reopened), migrations, server. */
export type PracticeStartStep = PgliteOpenStep | 'migrating' | 'starting';

/** How far the practice market's start is (progress: 0…1, a rough share of its usual time). */
export interface PracticeProgress {
  step: PracticeStartStep;
  progress: number;
}

/** Rough share of a start done when each step begins (opening the store is most of it). */
const STEP_PROGRESS: Record<PracticeStartStep, number> = {
  unpacking: 0.05,
  initdb: 0.05,
  opening: 0.15,
  migrating: 0.6,
  starting: 0.8,
};

/** Where a build keeps the practice store image (scripts/build-practice-store.mjs): out/, one level above this module's bundle. */
export function defaultPracticeStoreImage(): string {
  return fileURLToPath(new URL('../practice-store.tar.gz', import.meta.url));
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
 * The practice market's store: embedded PGlite with the light profile (small buffers), unpacked
 * from the prebuilt image when it is new, locked to this process like `tessera market`'s.
 */
async function openPracticeStore(
  deps: LocalMarketDeps,
  logger: Logger,
  progress: (step: PracticeStartStep) => void,
): Promise<MarketStore> {
  const options = {
    profile: 'light' as const,
    onStep: progress,
    onImageFailed: (err: unknown) => logger.warn('practice store image not used; running initdb', errorFields(err)),
  };
  if (deps.inMemoryStore) {
    const driver = await openPgliteDriver(undefined, options);
    progress('migrating');
    return MarketStore.open(driver);
  }
  const image = deps.storeImage === undefined ? defaultPracticeStoreImage() : deps.storeImage;
  mkdirSync(deps.dataDir, { recursive: true });
  const unlock = lockStoreDir(deps.dataDir);
  try {
    const driver = await openPgliteDriver(join(deps.dataDir, 'store'), {
      ...options,
      ...(image === null ? {} : { image }),
    });
    progress('migrating');
    return await MarketStore.open(driver, undefined, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
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
  const progress = (step: PracticeStartStep) => deps.onProgress?.({ step, progress: STEP_PROGRESS[step] });
  try {
    const store = resources.add(await openPracticeStore(deps, logger, progress), 'store');
    progress('starting');
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
      config: { practice: true, batchMs: 10_000, ...deps.validator },
      marketId: deps.marketId ?? 'tessera-practice-market',
      digestThreads: deps.digestThreads ?? 0,
      logger,
      ...(deps.peerUrls ? { peerUrls: deps.peerUrls } : {}),
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
