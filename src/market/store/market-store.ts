import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AccountsRepo } from './accounts-repo.js';
import { BondRepo } from './bond-repo.js';
import { CustomersRepo } from './customers-repo.js';
import { pipelined, type SqlDriver, type SqlSession } from './driver.js';
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
import { ReachBackRepo } from './reach-back-repo.js';
import type { MarketChannel } from './channels.js';
import { sql, type PgQuery } from './sql.js';

/** The repos of one transaction. They exist only inside `transaction`, so every write is transactional. */
export interface MarketTx {
  customers: CustomersRepo;
  accounts: AccountsRepo;
  bonds: BondRepo;
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
  /** Re-verification of a provider's earlier results after it failed a check, and the corrections. */
  reachBack: ReachBackRepo;
  /**
   * Notifies `channel` when this transaction commits (PostgreSQL's pg_notify inside it), and never
   * if it rolls back; several notifies of one channel in one transaction are one notification.
   * Every market instance listening on the store hears it (MarketStore.listen), this one included.
   */
  notify(channel: MarketChannel): Promise<void>;
  /**
   * Runs independent writes and reads of this transaction in one round trip where the driver can
   * (PostgreSQL: one write, run by the server in the order given; see `pipelined`), one after
   * another elsewhere. Each call must send its first statement before its first `await`.
   */
  together<T extends readonly unknown[]>(...calls: { [K in keyof T]: () => Promise<T[K]> }): Promise<T>;
  /**
   * Runs statement `q` — the transaction's last write, whose answer nothing reads — with COMMIT: on
   * PostgreSQL in the same write (one round trip fewer), elsewhere just before it. Its failure
   * fails the transaction. Nothing is sent after it: it runs once the transaction's function returns.
   */
  atCommit(q: PgQuery | undefined): void;
}

/** What a listener of a store channel is told. */
export interface StoreNotification {
  /** The origin id of the store whose transaction notified (compare with MarketStore.origin). */
  origin: string;
}

/**
 * The market's one store: all coordination state (tasks, jobs and leases, customers, balances,
 * escrow) lives here, never only in a process's memory, so several market instances can share
 * one PostgreSQL. Async and transactional on both drivers.
 */
export class MarketStore {
  /**
   * This opened store's id, the payload of every notification it sends: a listener tells its own
   * instance's commits (already acted on where they were committed) from other instances'.
   */
  readonly origin = randomUUID();
  /** Listeners of a driver without LISTEN: this process's commits are delivered to them directly. */
  private readonly local = new Map<MarketChannel, Set<(n: StoreNotification) => void>>();

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

  /**
   * A read of one statement (e.g. the customer an API key names, on every request): on PostgreSQL
   * it runs on its own, without BEGIN and COMMIT; elsewhere in a transaction. Only the repos
   * whose reads are single statements are offered.
   */
  async read<T>(fn: (r: Pick<MarketTx, 'customers'>) => Promise<T>): Promise<T> {
    const query = this.driver.query?.bind(this.driver);
    if (!query) return this.transaction(fn);
    const exec = () => Promise.reject(new Error('store.read runs no exec'));
    return fn({ customers: new CustomersRepo({ query, exec }) });
  }

  /** Runs `fn` in one transaction; a throw rolls everything back. */
  async transaction<T>(fn: (tx: MarketTx) => Promise<T>): Promise<T> {
    const n = this.driver.notifications;
    const notified = new Set<MarketChannel>();
    const result = await this.driver.transaction(async (c) => {
      const last: PgQuery[] = [];
      const out = await fn({
        notify: async (channel) => {
          if (notified.has(channel)) return;
          notified.add(channel);
          if (!n) return;
          if (c.notifyOnCommit) c.notifyOnCommit(n.channel(channel), this.origin);
          else await c.query(sql`SELECT pg_notify(${n.channel(channel)}, ${this.origin})`);
        },
        together: <T extends readonly unknown[]>(...calls: { [K in keyof T]: () => Promise<T[K]> }) =>
          pipelined<T>(c, ...calls),
        atCommit: (q) => {
          if (!q) return;
          if (c.atCommit) c.atCommit(q);
          else last.push(q);
        },
        customers: new CustomersRepo(c),
        accounts: new AccountsRepo(c),
        bonds: new BondRepo(c),
        escrow: new EscrowRepo(c),
        tasks: new TasksRepo(c),
        slices: new SlicesRepo(c),
        jobs: new JobsRepo(c),
        validator: new ValidatorRepo(c),
        courier: new CourierInboxRepo(c),
        settlement: new SettlementRepo(c),
        presence: new PresenceRepo(c),
        reachBack: new ReachBackRepo(c),
      });
      for (const q of last) await c.query(q);
      return out;
    });
    // Without LISTEN only this process can hear the store's commits: told once committed.
    if (!n)
      for (const channel of notified) for (const l of [...(this.local.get(channel) ?? [])]) l({ origin: this.origin });
    return result;
  }

  /**
   * Calls `fn` for every notification of `channel` committed by any instance sharing the store
   * (by this process only, on a driver that cannot listen). Resolves once listening — rejects when
   * the server could not be reached; the driver then keeps trying in the background. Returns the
   * unsubscribe.
   */
  async listen(channel: MarketChannel, fn: (n: StoreNotification) => void): Promise<() => Promise<void>> {
    const n = this.driver.notifications;
    if (n) return n.listen(n.channel(channel), (origin) => fn({ origin }));
    let set = this.local.get(channel);
    if (!set) this.local.set(channel, (set = new Set()));
    set.add(fn);
    return async () => {
      this.local.get(channel)?.delete(fn);
    };
  }

  /**
   * Calls `fn` each time the store's listening connection was lost and is listening again
   * (notifications sent in between were lost). Returns the unsubscribe.
   */
  onDidResubscribe(fn: () => void): () => void {
    return this.driver.notifications?.onDidResubscribe(fn) ?? (() => undefined);
  }

  /** The server process of the listening connection while it is up (PostgreSQL only). */
  get listenerPid(): number | undefined {
    return this.driver.notifications?.pid;
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
