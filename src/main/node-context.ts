import type { Registry } from 'prom-client';
import type { Blake3Hasher } from '../core/hash/hasher.js';
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
  const blake3 = await loadBlake3(logger);
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
      ...(options.courier ? { options: options.courier } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    if (options.verifyReceipts ?? true) settlement.verifyStoredReceipts();
    return { dataDir, db, blake3, identity, registry, settlement, courier, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
