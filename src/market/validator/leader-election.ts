import type { Logger } from '../../node/log.js';
import { errorFields } from '../../node/log.js';
import type { SqlSession } from '../store/driver.js';
import type { MarketStore } from '../store/market-store.js';
import { sql } from '../store/sql.js';

/** The leader lock's two keys: a fixed one, and the store's schema (one leader per market, however many markets share a database). */
const LOCK_KEY_SQL = sql`hashtext('tessera market leader'), hashtext(current_schema())`;

export interface LeaderElectorDeps {
  store: MarketStore;
  logger: Logger;
}

/**
 * One leader among the market instances sharing a store, for the duties that must run once per
 * market, not once per process: ticking every lease, sealing batches, the completion sweep (the
 * validator runs them only while `isLeader`). River's leader election on PostgreSQL: each instance
 * keeps a dedicated session and tries `pg_try_advisory_lock` on it; the one that gets the lock
 * leads for as long as that session lives. When the leader dies, or its connection does, the
 * server releases the lock with the session and the next instance to try (its `runOnce`, on the
 * validator's sweep timer) takes over. The lock is keyed by the store's schema, so markets kept in
 * different schemas of one database each have their own leader. The embedded store (PGlite) is one
 * process's, so its instance always leads.
 */
export class LeaderElector {
  private leader = false;
  private session: SqlSession | undefined;
  private closed = false;
  private running: Promise<boolean> | undefined;
  private readonly listeners = new Set<(leader: boolean) => void>();

  constructor(private readonly deps: LeaderElectorDeps) {}

  /** Whether this instance leads now. */
  get isLeader(): boolean {
    return this.leader;
  }

  /** The server process of this instance's leader session, while it has one (operators and tests find it in pg_stat_activity). */
  get sessionPid(): number | undefined {
    return this.session?.pid;
  }

  /** Calls `listener` each time this instance becomes or stops being the leader; returns an unsubscribe function. */
  onDidChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * One election round: an instance that does not lead tries to take the lock (opening its session
   * first when it has none); the leader keeps leading while its session lives. Resolves to whether
   * this instance leads. Concurrent calls share one round.
   */
  runOnce(): Promise<boolean> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops leading: the session is closed, which releases the lock for another instance. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running?.catch(() => undefined);
    const s = this.session;
    this.session = undefined;
    // Unlocked before the connection closes, so the next instance's try succeeds at once rather
    // than once the server has noticed the session is gone.
    if (s && this.leader) await s.query(sql`SELECT pg_advisory_unlock(${LOCK_KEY_SQL})`).catch(() => undefined);
    this.set(false);
    await s?.close().catch(() => undefined);
  }

  private async round(): Promise<boolean> {
    if (this.closed) return false;
    if (this.leader) return true;
    let s = this.session;
    if (!s) {
      const opened = await this.deps.store.session();
      if (!opened) {
        // The embedded store: one process, so this instance is the only one.
        this.set(true);
        return true;
      }
      if (this.closed) {
        await opened.close().catch(() => undefined);
        return false;
      }
      s = opened;
      this.session = s;
      const session = s;
      session.onDidEnd((err) => {
        if (this.session !== session) return;
        this.session = undefined;
        if (this.leader && !this.closed)
          this.deps.logger.warn('lost the market leader lock with its connection; another instance takes over', {
            ...(err ? errorFields(err) : {}),
          });
        this.set(false);
      });
    }
    try {
      const [row] = await s.query<{ ok: boolean }>(sql`SELECT pg_try_advisory_lock(${LOCK_KEY_SQL}) AS ok`);
      if (row?.ok === true && this.session === s && !this.closed) {
        this.set(true);
        this.deps.logger.info('this market instance leads: it ticks leases, seals batches and sweeps', {
          pid: s.pid,
        });
      }
    } catch (err) {
      // The session broke mid-round: dropped; the next round opens a new one.
      if (this.session === s) this.session = undefined;
      await s.close().catch(() => undefined);
      throw err;
    }
    return this.leader;
  }

  private set(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    for (const l of [...this.listeners]) l(leader);
  }
}
