import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AccountsRepo } from './accounts-repo.js';
import { CustomersRepo } from './customers-repo.js';
import type { SqlDriver, SqlSession } from './driver.js';
import { EscrowRepo } from './escrow-repo.js';
import { JobsRepo } from './jobs-repo.js';
import { MARKET_MIGRATIONS, migrateMarket, type MarketMigration } from './migrations.js';
import { openPgDriver } from './pg-driver.js';
import { openPgliteDriver } from './pglite-driver.js';
import { SettlementRepo } from './settlement-repo.js';
import { SlicesRepo } from './slices-repo.js';
import { lockStoreDir } from './store-lock.js';
import { TasksRepo } from './tasks-repo.js';
import { ValidatorRepo } from './validator-repo.js';
import { CourierInboxRepo } from './courier-repo.js';
import { PresenceRepo } from './presence-repo.js';

/** The repos of one transaction. They exist only inside `transaction`, so every write is transactional. */
export interface MarketTx {
  customers: CustomersRepo;
  accounts: AccountsRepo;
  escrow: EscrowRepo;
  tasks: TasksRepo;
  slices: SlicesRepo;
  jobs: JobsRepo;
  validator: ValidatorRepo;
  courier: CourierInboxRepo;
  /** The validator's set-based group-commit statements. */
  settlement: SettlementRepo;
  /** The market instances sharing the store and which one holds each provider's socket. */
  presence: PresenceRepo;
}

/**
 * The market's one store: all coordination state (tasks, jobs and leases, customers, balances,
 * escrow) lives here, never only in a process's memory, so several market instances can share
 * one PostgreSQL. Async and transactional on both drivers.
 */
export class MarketStore {
  private constructor(
    private readonly driver: SqlDriver,
    private readonly onClose: () => void,
  ) {}

  /** Wraps an opened driver after applying migrations; `onClose` runs after the driver closes. */
  static async open(
    driver: SqlDriver,
    migrations: readonly MarketMigration[] = MARKET_MIGRATIONS,
    onClose: () => void = () => undefined,
  ): Promise<MarketStore> {
    try {
      await migrateMarket(driver, migrations);
    } catch (err) {
      await driver.close().catch(() => undefined);
      onClose();
      throw err;
    }
    return new MarketStore(driver, onClose);
  }

  get kind(): SqlDriver['kind'] {
    return this.driver.kind;
  }

  get location(): string {
    return this.driver.location;
  }

  /** Runs `fn` in one transaction; a throw rolls everything back. */
  transaction<T>(fn: (tx: MarketTx) => Promise<T>): Promise<T> {
    return this.driver.transaction((c) =>
      fn({
        customers: new CustomersRepo(c),
        accounts: new AccountsRepo(c),
        escrow: new EscrowRepo(c),
        tasks: new TasksRepo(c),
        slices: new SlicesRepo(c),
        jobs: new JobsRepo(c),
        validator: new ValidatorRepo(c),
        courier: new CourierInboxRepo(c),
        settlement: new SettlementRepo(c),
        presence: new PresenceRepo(c),
      }),
    );
  }

  /** A dedicated session on the store's server; undefined for the embedded store (one process holds it). */
  async session(): Promise<SqlSession | undefined> {
    return this.driver.session?.();
  }

  async close(): Promise<void> {
    try {
      await this.driver.close();
    } finally {
      this.onClose();
    }
  }
}

export interface OpenMarketStoreOptions {
  /** The market data dir: the embedded store lives in `<dataDir>/store`. */
  dataDir: string;
  /** `postgres://…` or `postgresql://…` to use a PostgreSQL server instead of the embedded store. */
  url?: string;
}

/** Opens the store `--store` names (a PostgreSQL URL) or, by default, the embedded PGlite one. */
export async function openMarketStore(o: OpenMarketStoreOptions): Promise<MarketStore> {
  if (o.url) return MarketStore.open(await openPgDriver(o.url));
  mkdirSync(o.dataDir, { recursive: true });
  const unlock = lockStoreDir(o.dataDir);
  let driver: SqlDriver;
  try {
    driver = await openPgliteDriver(join(o.dataDir, 'store'));
  } catch (err) {
    unlock();
    throw err;
  }
  return MarketStore.open(driver, MARKET_MIGRATIONS, unlock);
}
