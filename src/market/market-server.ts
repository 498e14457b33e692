import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Blake3Hasher } from '../core/hash/hasher.js';
import type { Clock } from '../core/clock.js';
import { childLogger, createLogger, errorFields, type Logger } from '../node/log.js';
import { buildMarketApp, type MarketAppDeps } from './http/app.js';
import type { CustomerAuth } from './http/auth.js';
import { MarketMetrics } from './http/metrics.js';
import { courierRoutes } from './http/routes/courier.js';
import { CourierInboxService, type CourierRewardRule } from './services/courier-inbox.js';
import { CustomerService } from './services/customer-service.js';
import { importSliceFiles } from './services/slice-import.js';
import { TaskService, type DraftLimits, type SliceLimits } from './services/task-service.js';
import type { MarketStore } from './store/market-store.js';

export interface MarketServerDeps {
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
  /**
   * The market data dir (courier bundles). Uploaded slices live in the store; slices an older
   * market left in `<dataDir>/slices` are moved into the store at start.
   */
  dataDir: string;
  auth?: CustomerAuth;
  sliceLimits?: SliceLimits;
  /** What one customer may keep in unsubmitted drafts (default DEFAULT_DRAFT_LIMITS). */
  draftLimits?: DraftLimits;
  bodyLimitBytes?: number;
  /** Node's HTTP timeouts (MarketAppDeps.timeouts). */
  httpTimeouts?: MarketAppDeps['timeouts'];
  /** How often overdue tasks are failed and refunded (ms; 0 turns the sweep off). */
  expirySweepMs?: number;
  /** The market's logger (default: the `market` module logger on the process sink); routes and the sweep write through it. */
  logger?: Logger;
  /** Collect process metrics (CPU, memory) on /metrics. */
  processMetrics?: boolean;
  /** The courier inbox (`POST /courier/receipts`): reward rule, largest bundle, body limit. */
  courier?: { reward?: CourierRewardRule; maxBundleBytes?: number; bodyLimitBytes?: number };
}

export interface MarketServer {
  app: FastifyInstance;
  /** The market's logger (give it to attachValidator). */
  logger: Logger;
  tasks: TaskService;
  customers: CustomerService;
  metrics: MarketMetrics;
  courier: CourierInboxService;
  /** Listens on host:port (port 0 picks a free one); resolves to the base URL. */
  listen(host: string, port: number): Promise<string>;
  /** Stops the sweep and the HTTP server; the store stays open (its owner closes it). */
  close(): Promise<void>;
}

/**
 * How old the chunks of an upload that no slice points at must be before the start-up sweep drops
 * them: older than any upload still streaming (a 16 MiB body takes seconds; the HTTP request
 * timeout ends a stalled one long before).
 */
export const ABANDONED_UPLOAD_MS = 6 * 60 * 60 * 1000;

/** The market's services and HTTP app over one store. */
export async function createMarketServer(deps: MarketServerDeps): Promise<MarketServer> {
  const logger = deps.logger ?? createLogger('market');
  const metrics = new MarketMetrics({ processMetrics: deps.processMetrics ?? true });
  const customers = new CustomerService({ store: deps.store, clock: deps.clock });
  const tasks = new TaskService({
    store: deps.store,
    clock: deps.clock,
    blake3: deps.blake3,
    ...(deps.sliceLimits ? { sliceLimits: deps.sliceLimits } : {}),
    ...(deps.draftLimits ? { draftLimits: deps.draftLimits } : {}),
  });
  // Before serving: the slices an older market kept in this data dir, and what uploads cut off by a dead process left.
  await importSliceFiles(deps, join(deps.dataDir, 'slices'), childLogger(logger, 'slice-import'));
  const abandoned = await deps.store.transaction((tx) =>
    tx.slices.dropAbandoned(deps.clock.now() - ABANDONED_UPLOAD_MS),
  );
  if (abandoned > 0) logger.info('dropped the chunks of uploads cut off before they were recorded', { abandoned });
  const app = await buildMarketApp({
    store: deps.store,
    tasks,
    customers,
    metrics,
    ...(deps.auth ? { auth: deps.auth } : {}),
    ...(deps.bodyLimitBytes ? { bodyLimitBytes: deps.bodyLimitBytes } : {}),
    ...(deps.httpTimeouts ? { timeouts: deps.httpTimeouts } : {}),
    logger: childLogger(logger, 'market-http'),
  });
  const courier = new CourierInboxService({
    store: deps.store,
    clock: deps.clock,
    blake3: deps.blake3,
    bundlesDir: join(deps.dataDir, 'courier'),
    ...(deps.courier?.reward ? { reward: deps.courier.reward } : {}),
    ...(deps.courier?.maxBundleBytes ? { maxBundleBytes: deps.courier.maxBundleBytes } : {}),
  });
  await app.register(courierRoutes, {
    inbox: courier,
    store: deps.store,
    metrics,
    ...(deps.courier?.bodyLimitBytes ? { bodyLimitBytes: deps.courier.bodyLimitBytes } : {}),
  });
  const sweepMs = deps.expirySweepMs ?? 5000;
  let sweep: NodeJS.Timeout | undefined;
  if (sweepMs > 0) {
    sweep = setInterval(() => {
      tasks.expireOverdue().catch((err: unknown) => logger.error('expiry sweep failed', errorFields(err)));
    }, sweepMs);
    sweep.unref();
  }
  return {
    app,
    logger,
    tasks,
    customers,
    metrics,
    courier,
    async listen(host, port) {
      await app.listen({ host, port });
      const addr = app.server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
    },
    async close() {
      if (sweep) clearInterval(sweep);
      await app.close();
    },
  };
}

/** True for a host that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
