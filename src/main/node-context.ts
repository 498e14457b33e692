import type { Registry } from 'prom-client';
import type { Blake3Hasher } from '../core/hash/hasher.js';
import { loadConfig } from './config/load-config.js';
import type { NodeConfig } from './config/schema.js';
import { dataDirPaths, ensureDataDir, type DataDir } from './data-dir.js';
import { Database } from './db/database.js';
import { loadBlake3 } from './hash/node-hasher.js';
import { NodeIdentity } from './identity.js';
import { silentLogger, type Logger } from './log.js';
import { createMetricsRegistry } from './metrics.js';
import { CourierService, type CourierOptions } from './services/courier-service.js';
import { SettlementService } from './services/settlement-service.js';

export interface LedgerContext {
  dataDir: DataDir;
  config: NodeConfig;
  db: Database;
  blake3: Blake3Hasher;
  identity: NodeIdentity;
  registry: Registry;
  settlement: SettlementService;
  courier: CourierService;
  close(): void;
}

export interface OpenLedgerOptions {
  dataDir?: string;
  logger?: Logger;
  courier?: CourierOptions;
  now?: () => number;
  fetch?: typeof fetch;
  /** Re-check every stored receipt at start-up (default true). */
  verifyReceipts?: boolean;
}

/**
 * Opens a node's data directory and wires the ledger services over one connection. Used by
 * the CLI, the headless node and the desktop app alike.
 */
export async function openLedger(options: OpenLedgerOptions = {}): Promise<LedgerContext> {
  const dataDir = ensureDataDir(dataDirPaths(options.dataDir));
  const logger = options.logger ?? silentLogger;
  const config = await loadConfig(dataDir.root);
  const blake3 = await loadBlake3(logger);
  const courierOptions: CourierOptions = {
    maxBundleBytes: config.courier_max_bundle_bytes,
    batchSize: config.courier_batch_size,
    backoffBaseMs: config.courier_backoff_base_ms,
    backoffCapMs: config.courier_backoff_cap_ms,
    maxAttempts: config.courier_max_attempts,
    requestTimeoutMs: config.courier_request_timeout_ms,
    ...options.courier,
  };
  const db = Database.open(dataDir.dbPath);
  try {
    const identity = NodeIdentity.loadOrCreate(dataDir.root);
    const registry = createMetricsRegistry();
    const settlement = new SettlementService({ db, blake3, registry, logger, ...(options.now ? { now: options.now } : {}) });
    const courier = new CourierService({
      db,
      blake3,
      identity,
      registry,
      bundlesDir: dataDir.bundlesDir,
      logger,
      options: courierOptions,
      ...(options.now ? { now: options.now } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    if (options.verifyReceipts ?? true) settlement.verifyStoredReceipts();
    return { dataDir, config, db, blake3, identity, registry, settlement, courier, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
