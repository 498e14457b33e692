import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import { TesseraError } from '../core/errors.js';
import type { Blake3Hasher } from '../core/hash/hasher.js';
import { loadConfig } from './config/load-config.js';
import type { NodeConfig } from './config/schema.js';
import { dataDirPaths, ensureDataDir, ledgerPresence, requireDataDir, type DataDir } from './data-dir.js';
import { Database, DEFAULT_BUSY_TIMEOUT_MS } from './db/database.js';
import { StorageError } from './db/errors.js';
import { loadBlake3 } from '../node/hash/node-hasher.js';
import { NodeIdentity } from './identity.js';
import { silentLogger, type Logger } from '../node/log.js';
import { createMetricsRegistry } from './metrics.js';
import { CourierService, type CourierOptions } from './services/courier-service.js';
import { SettlementService } from './services/settlement-service.js';
import type { Faults } from './services/faults.js';

export interface Ledger {
  dataDir: DataDir;
  config: NodeConfig;
  db: Database;
  blake3: Blake3Hasher;
  /** The node's key; in a read-only context without one, `identity.present` is false. */
  identity: NodeIdentity;
  registry: Registry;
  settlement: SettlementService;
  courier: CourierService;
  /** True when opened with `readonly` (nothing can be written through this context). */
  readonly: boolean;
  close(): void;
}

export interface OpenLedgerOptions {
  dataDir?: string;
  logger?: Logger;
  courier?: CourierOptions;
  /** The time (default the system clock; tests move it). */
  clock?: Clock;
  fetch?: typeof fetch;
  /** Fault injection at transaction boundaries of settlement and courier flushes (tests only). */
  faults?: Faults;
  /** Re-check every stored receipt at start-up (default true). */
  verifyReceipts?: boolean;
  /**
   * Inspection: never creates the data dir, the ledger, the identity or bundles, and opens the
   * ledger read-only. A missing data dir or ledger is a one-line StorageError.
   */
  readonly?: boolean;
  /**
   * Start a new, empty ledger in a data dir that shows a ledger was there (identity, bundles)
   * but has none, or an empty one. Off by default: that is how history is lost and receipts
   * get applied twice (CLI: --fresh-ledger).
   */
  allowFreshLedger?: boolean;
  /** Wait this long for another process's write lock (default: $TESSERA_DB_BUSY_TIMEOUT_MS, else 5000). */
  busyTimeoutMs?: number;
  /** `PRAGMA quick_check` at open (default true). */
  quickCheck?: boolean;
}

/** Environment variable that overrides the ledger's busy timeout (milliseconds) for CLI commands. */
export const BUSY_TIMEOUT_ENV = 'TESSERA_DB_BUSY_TIMEOUT_MS';

/**
 * Opens a node's data directory and wires the ledger services over one connection. Used by
 * the CLI, the headless node and the desktop app alike.
 */
export async function openLedger(options: OpenLedgerOptions = {}): Promise<Ledger> {
  const readonly = options.readonly ?? false;
  const paths = dataDirPaths(options.dataDir);
  const dataDir = readonly ? requireDataDir(paths) : ensureDataDir(paths);
  checkLedgerPresence(dataDir, readonly, options.allowFreshLedger ?? false);
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
  const db = Database.open(dataDir.dbPath, {
    readonly,
    busyTimeoutMs: options.busyTimeoutMs ?? busyTimeoutFromEnv(),
    ...(options.quickCheck === undefined ? {} : { quickCheck: options.quickCheck }),
  });
  try {
    const identity = readonly
      ? (NodeIdentity.load(dataDir.root) ?? NodeIdentity.absent(dataDir.root))
      : NodeIdentity.loadOrCreate(dataDir.root);
    const registry = createMetricsRegistry();
    const clock = options.clock;
    const faults = options.faults ? { faults: options.faults } : {};
    // One CreditMovements for the settlement, the courier and the bond ledger: every credit movement follows its rule.
    const settlement = new SettlementService({ db, blake3, registry, logger, ...(clock ? { clock } : {}), ...faults });
    const courier = new CourierService({
      db,
      blake3,
      identity,
      registry,
      bundlesDir: dataDir.bundlesDir,
      logger,
      options: courierOptions,
      credits: settlement.credits,
      ...faults,
      ...(clock ? { clock } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    if (options.verifyReceipts ?? true) settlement.verifyStoredReceipts();
    return { dataDir, config, db, blake3, identity, registry, settlement, courier, readonly, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * A data dir whose ledger is missing or empty: fine when nothing was ever stored there; when
 * an identity, bundles or an orphan WAL show a ledger existed, a new one is created only on
 * request (it would forget history and apply old receipts again).
 */
function checkLedgerPresence(dataDir: DataDir, readonly: boolean, allowFresh: boolean): void {
  const p = ledgerPresence(dataDir);
  if (!p.ledgerAbsent) return;
  const what = p.ledgerBytes === undefined ? 'is missing' : 'is empty (0 bytes)';
  if (p.traces.length === 0) {
    if (readonly)
      throw new StorageError(
        'LEDGER_MISSING',
        `no ledger at ${dataDir.dbPath}; nothing has been stored in ${dataDir.root} yet`,
      );
    return;
  }
  const wal = `${dataDir.dbPath}-wal`;
  if (p.orphanWal && (allowFresh || readonly)) {
    throw new StorageError(
      'LEDGER_MISSING',
      `${dataDir.dbPath} ${what} but its write-ahead log ${wal} is still there; restore ledger.db from a backup, or move ${wal} (and ${dataDir.dbPath}-shm) away yourself before starting a fresh ledger`,
    );
  }
  if (allowFresh) return;
  throw new StorageError(
    'LEDGER_MISSING',
    `${dataDir.dbPath} ${what} but this data directory already has ${p.traces.join(', ')}; a new ledger would lose its history and could apply receipts twice — restore ledger.db from a backup${
      readonly
        ? ''
        : p.orphanWal
          ? `, or move ${wal} away and pass --fresh-ledger to start an empty ledger here`
          : ', or pass --fresh-ledger to start an empty ledger here'
    }`,
  );
}

function busyTimeoutFromEnv(): number {
  const text = process.env[BUSY_TIMEOUT_ENV];
  if (text === undefined || text === '') return DEFAULT_BUSY_TIMEOUT_MS;
  if (!/^\d{1,7}$/.test(text))
    throw new TesseraError(
      'BAD_ENV',
      `${BUSY_TIMEOUT_ENV} must be a whole number of milliseconds from 0 to 9999999, got "${text}"`,
    );
  return Number(text);
}
