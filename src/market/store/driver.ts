import type { PgQuery } from './sql.js';

/** One row as a driver returns it: BIGINT columns are bigint, JSONB parsed, UUID text. */
export type PgRow = Record<string, unknown>;

/** A connection inside a transaction (or the migration runner's connection). */
export interface SqlConn {
  query<R extends PgRow = PgRow>(q: PgQuery): Promise<R[]>;
  /** Runs several statements without parameters (migrations only). */
  exec(text: string): Promise<void>;
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

/** What the two drivers (PGlite, PostgreSQL through pg) provide to the store. */
export interface SqlDriver {
  readonly kind: 'pglite' | 'postgres';
  /** A human description of where the data lives (path or URL without password). */
  readonly location: string;
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on a throw). */
  transaction<T>(fn: (conn: SqlConn) => Promise<T>): Promise<T>;
  /** A dedicated session (PostgreSQL only: the embedded store is one process's, so it has no use for one). */
  session?(): Promise<SqlSession>;
  close(): Promise<void>;
}
