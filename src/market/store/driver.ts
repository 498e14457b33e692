import type { PgQuery } from './sql.js';

/** One row as a driver returns it: BIGINT columns are bigint, JSONB parsed, UUID text. */
export type PgRow = Record<string, unknown>;

/** A connection inside a transaction (or the migration runner's connection). */
export interface SqlConn {
  query<R extends PgRow = PgRow>(q: PgQuery): Promise<R[]>;
  /** Runs several statements without parameters (migrations only). */
  exec(text: string): Promise<void>;
  /**
   * Sends `pg_notify(channel, payload)` with this transaction's COMMIT (in its round trip) rather
   * than as a statement of its own. Absent where the transaction has no such commit (PGlite, the
   * migration runner): the caller then runs `SELECT pg_notify(…)` itself.
   */
  notifyOnCommit?(channel: string, payload: string): void;
  /**
   * Holds this connection's writes back until the returned function is called, so the statements
   * sent meanwhile leave in one write (`pipelined`). Absent where statements cannot be pipelined.
   */
  cork?(): () => void;
  /**
   * Sends statement `q` in the same write as this transaction's COMMIT, once the transaction's
   * function has returned, instead of in a round trip of its own: for a last write whose answer
   * nothing reads (a statement, not a function, so no check of its answer can come after COMMIT).
   * The server runs it before COMMIT; if it fails, nothing commits and the transaction throws that
   * failure. Absent where COMMIT cannot share a write: the caller then runs `q` before returning.
   */
  atCommit?(q: PgQuery): void;
}

/**
 * A dedicated connection of its own, outside the pool and outside any transaction: what holds a
 * session-level lock (the market's leader lock), which the server releases when the connection
 * ends — so a dead process's lock goes with it.
 */
export interface SqlSession {
  query<R extends PgRow = PgRow>(q: PgQuery): Promise<R[]>;
  /** The server backend's process id (to tell which connection is which in pg_stat_activity). */
  readonly pid: number;
  /** Calls `listener` once when the connection is lost or closed. */
  onDidEnd(listener: (err: Error | undefined) => void): void;
  close(): Promise<void>;
}

/**
 * Notifications between the processes that share a store: PostgreSQL's LISTEN/NOTIFY. A
 * notification is sent with `SELECT pg_notify(channel, payload)` inside a transaction, so the
 * server delivers it only if that transaction commits (and, within one transaction, the same
 * channel and payload once). Listening runs on a connection of its own, outside the pool.
 */
export interface SqlNotifications {
  /**
   * The server-side name of the store's channel `name`. On PostgreSQL it is prefixed with the
   * store's schema, so two markets kept in two schemas of one database do not hear each other.
   */
  channel(name: string): string;
  /**
   * Calls `fn` with the payload of every notification on `channel` (a name from `channel`).
   * Resolves once the server listens; rejects when it could not be reached, in which case the
   * driver keeps trying in the background (the channel stays subscribed). Returns the unsubscribe.
   */
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Calls `fn` each time the listening connection, lost (a server restart, a terminated backend,
   * a cut network) or not reached at the first `listen`, has been opened again in the background
   * and every channel subscribed again. Notifications sent
   * while it was down are lost: a listener wakes everything it would have woken. Returns the
   * unsubscribe.
   */
  onDidResubscribe(fn: () => void): () => void;
  /** The listening connection's server process id while it is up (pg_stat_activity; tests end it). */
  readonly pid: number | undefined;
}

/** What the two drivers (PGlite, PostgreSQL through pg) provide to the store. */
export interface SqlDriver {
  readonly kind: 'pglite' | 'postgres';
  /** A human description of where the data lives (path or URL without password). */
  readonly location: string;
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on a throw). */
  transaction<T>(fn: (conn: SqlConn) => Promise<T>): Promise<T>;
  /**
   * One statement on its own, outside any transaction (autocommit: one round trip instead of
   * three). Absent on a driver where a transaction costs nothing more (the store then uses one).
   */
  query?<R extends PgRow = PgRow>(q: PgQuery): Promise<R[]>;
  /** A dedicated session (PostgreSQL only: the embedded store is one process's, so it has no use for one). */
  session?(): Promise<SqlSession>;
  /** LISTEN/NOTIFY; absent on a driver that cannot listen (the store then delivers its own notifications in this process). */
  readonly notifications?: SqlNotifications;
  close(): Promise<void>;
}

/**
 * Runs independent statements of one transaction as one write: each call must send its first
 * statement before its first `await` (a repo method does), and the server runs them in the order
 * called. On a connection that cannot hold its writes back (`cork` absent) the calls run one after
 * another. A call that fails fails the transaction as any statement does; the first failure is thrown.
 */
export async function pipelined<T extends readonly unknown[]>(
  c: SqlConn,
  ...calls: { [K in keyof T]: () => Promise<T[K]> }
): Promise<T> {
  if (!c.cork) {
    const out: unknown[] = [];
    for (const call of calls) out.push(await call());
    return out as unknown as T;
  }
  const uncork = c.cork();
  let all: Promise<unknown[]>;
  try {
    // A call that throws before returning its promise fails like one that rejects (the calls
    // before it are still awaited, so none of their failures goes unhandled).
    all = Promise.all(
      calls.map((call) => {
        try {
          return call();
        } catch (err) {
          return Promise.reject(err);
        }
      }),
    );
  } finally {
    uncork();
  }
  return (await all) as unknown as T;
}
