import type { PgQuery } from './sql.js';

/** One row as a driver returns it: BIGINT columns are bigint, JSONB parsed, UUID text. */
export type PgRow = Record<string, unknown>;

/** A connection inside a transaction (or the migration runner's connection). */
export interface SqlConn {
  query<R extends PgRow = PgRow>(q: PgQuery): Promise<R[]>;
  /** Runs several statements without parameters (migrations only). */
  exec(text: string): Promise<void>;
}

/** What the two drivers (PGlite, PostgreSQL through pg) provide to the store. */
export interface SqlDriver {
  readonly kind: 'pglite' | 'postgres';
  /** A human description of where the data lives (path or URL without password). */
  readonly location: string;
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on a throw). */
  transaction<T>(fn: (conn: SqlConn) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
