import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { StorageError } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import type { SqlQuery, SqlValue } from './sql.js';

export interface DatabaseOptions {
  /** Migrations to apply (default: all of MIGRATIONS). Tests pass their own lists. */
  migrations?: readonly Migration[];
  /** Open without writing (inspection commands). */
  readonly?: boolean;
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;

/** SQLite error codes that mean the file itself is not a usable database. */
const DAMAGE_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CANTOPEN', 'SQLITE_IOERR_SHORT_READ']);

/**
 * The one owner of a SQLite connection in a process (created by the node or the command that
 * needs it, passed to repos explicitly — there is no module-level connection).
 *
 * Durability: WAL with synchronous=FULL, so every committed transaction is fsynced to the WAL
 * before commit returns — a receipt applied or a courier receipt acknowledged survives power
 * loss, at the cost of one fsync per transaction (batch work into transactions).
 */
export class Database {
  private readonly db: BetterSqlite3.Database;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  private constructor(
    readonly path: string,
    db: BetterSqlite3.Database,
  ) {
    this.db = db;
  }

  /** Opens (creating if absent) and migrates the database; a damaged file is never modified. */
  static open(path: string, options: DatabaseOptions = {}): Database {
    if (existsSync(path)) {
      if (statSync(path).isDirectory()) throw new StorageError('DB_UNREADABLE', `${path} is a directory, not a database file; remove it or choose another --data-dir`);
      try {
        accessSync(path, options.readonly ? constants.R_OK : constants.R_OK | constants.W_OK);
      } catch {
        throw new StorageError('DB_UNREADABLE', `cannot ${options.readonly ? 'read' : 'read and write'} ${path}; check its owner and permissions`);
      }
    } else if (options.readonly) {
      throw new StorageError('DB_UNREADABLE', `${path} does not exist yet; nothing has been stored in this data directory`);
    }
    let raw: BetterSqlite3.Database;
    try {
      raw = new BetterSqlite3(path, { readonly: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 5000 });
    } catch (err) {
      throw damaged(path, err);
    }
    const db = new Database(path, raw);
    try {
      raw.defaultSafeIntegers(true);
      if (!options.readonly) raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = FULL');
      raw.pragma('foreign_keys = ON');
      raw.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      // Reading the schema touches the header and the schema pages: a foreign or damaged file fails here.
      raw.prepare('SELECT count(*) FROM sqlite_schema').get();
      if (!options.readonly) db.migrate(options.migrations ?? MIGRATIONS);
      else db.checkMigrations(options.migrations ?? MIGRATIONS);
    } catch (err) {
      raw.close();
      if (err instanceof StorageError) throw err;
      throw damaged(path, err);
    }
    return db;
  }

  /** Runs a write statement; returns the number of rows changed. */
  run(q: SqlQuery): number {
    return this.prepare(q.text).run(...q.values).changes;
  }

  get<T extends Row>(q: SqlQuery): T | undefined {
    return this.prepare(q.text).get(...q.values) as T | undefined;
  }

  all<T extends Row>(q: SqlQuery): T[] {
    return this.prepare(q.text).all(...q.values) as T[];
  }

  /** Streams rows without loading the result set into memory. */
  iterate<T extends Row>(q: SqlQuery): IterableIterator<T> {
    return this.prepare(q.text).iterate(...q.values) as IterableIterator<T>;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction (write lock taken up front, so two processes never
   * deadlock upgrading). `fn` must be synchronous: an awaited continuation would run after commit.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** `PRAGMA integrity_check` result rows ("ok" when healthy). */
  integrityCheck(): string[] {
    return (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  get open(): boolean {
    return this.db.open;
  }

  private prepare(text: string): BetterSqlite3.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  private migrate(migrations: readonly Migration[]): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
    const applied = this.checkMigrations(migrations);
    for (const m of migrations) {
      if (applied.has(m.id)) continue;
      this.db.transaction(() => {
        // Another process may have applied it since we looked (two first starts at once).
        if (this.db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?').get(m.id)) return;
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (id, name, hash, applied_at) VALUES (?, ?, ?, ?)')
          .run(m.id, m.name, migrationHash(m), Date.now());
      }).immediate();
    }
  }

  /** Verifies applied migrations match the code; returns the applied ids. */
  private checkMigrations(migrations: readonly Migration[]): Set<number> {
    const table = this.db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!table) return new Set();
    const rows = this.db.prepare('SELECT id, name, hash FROM schema_migrations ORDER BY id').all() as { id: bigint; name: string; hash: string }[];
    const known = new Map(migrations.map((m) => [m.id, m]));
    for (const row of rows) {
      const m = known.get(Number(row.id));
      if (!m) {
        throw new StorageError('DB_TOO_NEW', `${this.path} was written by a newer Tessera (schema migration ${row.id} "${row.name}" is unknown to this version); update Tessera`);
      }
      if (migrationHash(m) !== row.hash) {
        throw new StorageError(
          'MIGRATION_EDITED',
          `schema migration ${m.id} "${m.name}" differs from the one applied to ${this.path}; migrations are append-only — restore the original and add a new migration`,
        );
      }
    }
    return new Set(rows.map((r) => Number(r.id)));
  }
}

/** Content hash recorded for each applied migration. */
export function migrationHash(m: Migration): string {
  return createHash('sha256').update(`${m.id}\n${m.name}\n${m.sql}`).digest('hex');
}

function damaged(path: string, err: unknown): StorageError {
  const code = (err as { code?: string } | null)?.code ?? '';
  const reason = err instanceof Error ? err.message : String(err);
  if (DAMAGE_CODES.has(code) || /not a database|malformed|corrupt/i.test(reason)) {
    return new StorageError(
      'DB_DAMAGED',
      `${path} is damaged or is not a Tessera database (${reason}); Tessera has not changed it — restore it from a backup, or move it away yourself to start a new ledger`,
    );
  }
  return new StorageError('DB_UNREADABLE', `cannot open ${path}: ${reason}`);
}

export type { SqlValue };
