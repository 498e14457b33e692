import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { StorageError } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import type { SqlQuery, SqlValue } from './sql.js';

/**
 * `PRAGMA application_id` of every Tessera ledger: 0x54455353, the ASCII bytes "TESS". SQLite
 * stores it at offset 68 of the file header, so `file(1)` and other tools can tell our
 * databases apart, and Tessera refuses a database carrying any other id before writing to it.
 * Ledgers created before the id existed carry 0 and are recognised by their migrations table.
 */
export const TESSERA_APPLICATION_ID = 0x54455353;

/** How long a statement waits for another process's write lock before failing with DB_LOCKED. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface DatabaseOptions {
  /** Migrations to apply (default: all of MIGRATIONS). Tests pass their own lists. */
  migrations?: readonly Migration[];
  /**
   * Open without writing (inspection commands): no WAL switch, no migrations, no application
   * id; the schema must already be this version's. SQLite may still create an empty `-wal`
   * and the `-shm` index beside a WAL database, as any reader does; the database file itself
   * is never written.
   */
  readonly?: boolean;
  /** Busy timeout in milliseconds (default 5000). */
  busyTimeoutMs?: number;
  /** Run `PRAGMA quick_check` at open (default true); a failure stops with DB_DAMAGED. */
  quickCheck?: boolean;
}

/** Ports Database.open uses; tests inject a differently configured SQLite build or a failure. */
export interface DatabaseDeps {
  /** Opens the raw connection (default: better-sqlite3). */
  connect?: (path: string, options: BetterSqlite3.Options) => BetterSqlite3.Database;
  /** Checks access like `fs.accessSync` (default); throws an errno error when refused. */
  access?: (path: string, mode: number) => void;
}

type Row = Record<string, unknown>;

/**
 * The one owner of a SQLite connection in a process (created by the node or the command that
 * needs it, passed to repos explicitly — there is no module-level connection).
 *
 * Durability: WAL with synchronous=FULL, so every committed transaction is fsynced to the WAL
 * before commit returns — a receipt applied or a courier receipt acknowledged survives power
 * loss, at the cost of one fsync per transaction (batch work into transactions).
 *
 * Every SQLite failure a person can act on (lock, damage, permission, I/O, disk full) leaves
 * this class as a one-line StorageError, from `open` and from every statement and transaction.
 */
export class Database {
  private readonly db: BetterSqlite3.Database;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  private constructor(
    readonly path: string,
    db: BetterSqlite3.Database,
    /** True for a connection opened with `readonly` (it can never write). */
    readonly readonly: boolean,
    private readonly busyTimeoutMs: number,
  ) {
    this.db = db;
  }

  /**
   * Opens (creating if absent, unless readonly) and migrates the database. A database that is
   * damaged or not ours is refused before anything is written to it.
   */
  static open(path: string, options: DatabaseOptions = {}, deps: DatabaseDeps = {}): Database {
    const readonly = options.readonly ?? false;
    const busyTimeoutMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS));
    const access = deps.access ?? accessSync;
    checkPath(path, readonly, access);
    let raw: BetterSqlite3.Database;
    try {
      const connect = deps.connect ?? ((p: string, o: BetterSqlite3.Options) => new BetterSqlite3(p, o));
      raw = connect(path, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
    } catch (err) {
      throw storageError(path, err, { busyTimeoutMs, access, readonly });
    }
    const db = new Database(path, raw, readonly, busyTimeoutMs);
    try {
      // The ledger is the user's alone: 0600 (its -wal and -shm take the file's mode).
      if (!readonly) restrictToOwner(path);
      raw.defaultSafeIntegers(true);
      raw.pragma(`busy_timeout = ${busyTimeoutMs}`);
      // Identify the file before any write: a foreign or damaged file fails here, unchanged.
      const kind = db.identify(options.migrations ?? MIGRATIONS);
      if (options.quickCheck ?? true) {
        const problems = db.quickCheck();
        if (problems.length !== 1 || problems[0] !== 'ok') {
          const first = (problems[0] ?? 'no result')
            .replace(/\s+/g, ' ')
            .replace(/^\*\*\* in database main \*\*\* /, '')
            .slice(0, 160);
          throw damagedError(
            path,
            `quick_check: ${first}${problems.length > 1 ? ` and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}` : ''}`,
          );
        }
      }
      if (!readonly) raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = FULL');
      raw.pragma('foreign_keys = ON');
      if (!readonly) {
        if (kind !== 'tessera') db.markOurs();
        db.migrate(options.migrations ?? MIGRATIONS);
      } else db.checkReadonlySchema(options.migrations ?? MIGRATIONS);
    } catch (err) {
      raw.close();
      throw db.mapError(err, access);
    }
    return db;
  }

  /** Runs a write statement; returns the number of rows changed. */
  run(q: SqlQuery): number {
    try {
      return this.prepare(q.text).run(...q.values).changes;
    } catch (err) {
      throw this.mapError(err);
    }
  }

  get<T extends Row>(q: SqlQuery): T | undefined {
    try {
      return this.prepare(q.text).get(...q.values) as T | undefined;
    } catch (err) {
      throw this.mapError(err);
    }
  }

  all<T extends Row>(q: SqlQuery): T[] {
    try {
      return this.prepare(q.text).all(...q.values) as T[];
    } catch (err) {
      throw this.mapError(err);
    }
  }

  /** Streams rows without loading the result set into memory. */
  iterate<T extends Row>(q: SqlQuery): IterableIterator<T> {
    let inner: IterableIterator<T>;
    try {
      inner = this.prepare(q.text).iterate(...q.values) as IterableIterator<T>;
    } catch (err) {
      throw this.mapError(err);
    }
    const mapError = (err: unknown) => this.mapError(err);
    const outer: IterableIterator<T> = {
      next() {
        try {
          return inner.next();
        } catch (err) {
          throw mapError(err);
        }
      },
      return(value?: unknown) {
        return inner.return ? inner.return(value) : { done: true, value: undefined };
      },
      [Symbol.iterator]() {
        return outer;
      },
    };
    return outer;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction (write lock taken up front, so two processes never
   * deadlock upgrading). `fn` must be synchronous: an awaited continuation would run after commit.
   */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw this.mapError(err);
    }
  }

  /** `PRAGMA integrity_check` result rows ("ok" when healthy). */
  integrityCheck(): string[] {
    return this.checkPragma('integrity_check');
  }

  /** `PRAGMA quick_check` result rows ("ok" when healthy): integrity_check without index cross-checks. */
  quickCheck(): string[] {
    return this.checkPragma('quick_check');
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  get open(): boolean {
    return this.db.open;
  }

  private checkPragma(name: 'integrity_check' | 'quick_check'): string[] {
    try {
      return (this.db.pragma(name) as Record<string, string>[]).map((r) => String(Object.values(r)[0]));
    } catch (err) {
      throw this.mapError(err);
    }
  }

  private prepare(text: string): BetterSqlite3.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /** A SQLite failure as the StorageError a person can act on; any other error unchanged. */
  private mapError(err: unknown, access: DatabaseDeps['access'] = accessSync): unknown {
    if (err instanceof StorageError || !(err instanceof BetterSqlite3.SqliteError)) return err;
    return storageError(this.path, err, { busyTimeoutMs: this.busyTimeoutMs, access, readonly: this.readonly }) ?? err;
  }

  /**
   * Reads the header and schema (no write): 'tessera' when marked with our application id,
   * 'legacy' for a ledger from before the id (our migrations table, nothing foreign),
   * 'empty' for a database without tables. Anything else is refused with DB_FOREIGN.
   */
  private identify(migrations: readonly Migration[]): 'tessera' | 'legacy' | 'empty' {
    const appId = Number(this.db.pragma('application_id', { simple: true }));
    const tables = (
      this.db
        .prepare(
          "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .all() as { name: string }[]
    ).map((r) => r.name);
    if (appId === TESSERA_APPLICATION_ID) return 'tessera';
    if (appId !== 0) {
      throw new StorageError(
        'DB_FOREIGN',
        `${this.path} is not a Tessera ledger (its application_id is 0x${(appId >>> 0).toString(16).padStart(8, '0')}, Tessera's is 0x${TESSERA_APPLICATION_ID.toString(16)}); Tessera has not changed it — move it away or choose another --data-dir`,
      );
    }
    if (tables.length === 0) return 'empty';
    if (this.isLegacyLedger(tables, migrations)) return 'legacy';
    throw new StorageError(
      'DB_FOREIGN',
      `${this.path} is a SQLite database that is not a Tessera ledger (tables: ${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', …' : ''}); Tessera has not changed it — move it away or choose another --data-dir`,
    );
  }

  /** A ledger written before application_id: a schema_migrations table whose rows are our migrations. */
  private isLegacyLedger(tables: string[], migrations: readonly Migration[]): boolean {
    if (!tables.includes('schema_migrations')) return false;
    let rows: { id: bigint; name: string; hash: string }[];
    try {
      rows = this.db.prepare('SELECT id, name, hash FROM schema_migrations ORDER BY id').all() as typeof rows;
    } catch (err) {
      if (err instanceof BetterSqlite3.SqliteError && err.code === 'SQLITE_ERROR') return false; // a table of that name with other columns
      throw err;
    }
    const first = migrations.find((m) => m.id === 1);
    if (rows.length === 0) return tables.length === 1; // a first start that stopped before migration 1
    const row1 = rows[0];
    return first !== undefined && row1 !== undefined && Number(row1.id) === 1 && row1.hash === migrationHash(first);
  }

  /** Stamps our application id (a new database, or the upgrade of a ledger from before it). */
  private markOurs(): void {
    this.db
      .transaction(() => {
        // Another process may have stamped it since we looked.
        if (Number(this.db.pragma('application_id', { simple: true })) !== TESSERA_APPLICATION_ID) {
          this.db.pragma(`application_id = ${TESSERA_APPLICATION_ID}`);
        }
      })
      .immediate();
  }

  private migrate(migrations: readonly Migration[]): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
    const applied = this.checkMigrations(migrations);
    for (const m of migrations) {
      if (applied.has(m.id)) continue;
      this.db
        .transaction(() => {
          // Another process may have applied it since we looked (two first starts at once).
          if (this.db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?').get(m.id)) return;
          this.db.exec(m.sql);
          this.db
            .prepare('INSERT INTO schema_migrations (id, name, hash, applied_at) VALUES (?, ?, ?, ?)')
            .run(m.id, m.name, migrationHash(m), Date.now());
        })
        .immediate();
    }
  }

  /** Read-only: the schema must be exactly this version's (nothing pending, nothing unknown). */
  private checkReadonlySchema(migrations: readonly Migration[]): void {
    const applied = this.checkMigrations(migrations);
    if (applied.size === 0) {
      throw new StorageError(
        'LEDGER_MISSING',
        `${this.path} holds no ledger yet; nothing has been stored in this data directory`,
      );
    }
    const pending = migrations.filter((m) => !applied.has(m.id));
    if (pending.length > 0) {
      throw new StorageError(
        'DB_OUTDATED',
        `${this.path} was written by an older Tessera (schema migration ${pending.map((m) => m.id).join(', ')} not applied yet); start the node or run a command that writes to the ledger once to upgrade it, then inspect it again`,
      );
    }
  }

  /** Verifies applied migrations match the code; returns the applied ids. */
  private checkMigrations(migrations: readonly Migration[]): Set<number> {
    const table = this.db
      .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'")
      .get();
    if (!table) return new Set();
    const rows = this.db.prepare('SELECT id, name, hash FROM schema_migrations ORDER BY id').all() as {
      id: bigint;
      name: string;
      hash: string;
    }[];
    const known = new Map(migrations.map((m) => [m.id, m]));
    for (const row of rows) {
      const m = known.get(Number(row.id));
      if (!m) {
        throw new StorageError(
          'DB_TOO_NEW',
          `${this.path} was written by a newer Tessera (schema migration ${row.id} "${row.name}" is unknown to this version); update Tessera`,
        );
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

/** Refuses paths that cannot hold a database, naming the cause (checked before SQLite opens anything). */
function checkPath(path: string, readonly: boolean, access: NonNullable<DatabaseDeps['access']>): void {
  let isDir: boolean | undefined;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR')
      throw new StorageError(
        'DB_UNREADABLE',
        `cannot open ${path}: a parent of it is a file, not a directory; choose another --data-dir`,
      );
    if (code !== 'ENOENT') throw fsError(path, err);
  }
  if (isDir)
    throw new StorageError(
      'DB_UNREADABLE',
      `${path} is a directory, not a database file; remove it or choose another --data-dir`,
    );
  if (isDir === undefined) {
    if (readonly)
      throw new StorageError(
        'LEDGER_MISSING',
        `${path} does not exist yet; nothing has been stored in this data directory`,
      );
    // A new database: its directory must let us create files.
    try {
      access(dirname(path), constants.W_OK | constants.X_OK);
    } catch (err) {
      throw fsError(dirname(path), err);
    }
    return;
  }
  try {
    access(path, readonly ? constants.R_OK : constants.R_OK | constants.W_OK);
  } catch (err) {
    throw fsError(path, err, readonly ? 'read' : 'read and write');
  }
}

/** Mode of the ledger and its -wal/-shm files: read and write for the owner only. */
export const LEDGER_FILE_MODE = 0o600;

/** Sets the ledger files (those present) to LEDGER_FILE_MODE, tightening an existing ledger; POSIX only. */
function restrictToOwner(path: string): void {
  if (process.platform === 'win32') return;
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(p).mode & 0o777;
    } catch {
      continue; // absent (an injected connection in tests, no WAL yet)
    }
    if (mode === LEDGER_FILE_MODE) continue;
    try {
      chmodSync(p, LEDGER_FILE_MODE);
    } catch (err) {
      throw fsError(p, err, 'restrict to its owner (chmod 600)');
    }
  }
}

function fsError(path: string, err: unknown, verb = 'create files in'): StorageError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'EACCES' || code === 'EPERM') {
    return new StorageError(
      'DB_PERMISSION',
      `cannot ${verb} ${path}: permission denied (${code}); check its owner and permissions`,
      { cause: err },
    );
  }
  if (code === 'EROFS')
    return new StorageError('DB_READONLY', `cannot ${verb} ${path}: the file system is read-only`, { cause: err });
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new StorageError('DB_UNREADABLE', `cannot ${verb} ${path}: the directory does not exist (${code})`, {
      cause: err,
    });
  return new StorageError('DB_IO', `cannot ${verb} ${path}: ${(err as Error).message}`, { cause: err });
}

/** The documented DB_DAMAGED message (README: a damaged ledger stops with its path, unchanged). */
function damagedError(path: string, reason: string, sqliteCode?: string): StorageError {
  return new StorageError(
    'DB_DAMAGED',
    `${path} is damaged or is not a Tessera database (${reason}); Tessera has not changed it — restore it from a backup, or move it away yourself to start a new ledger`,
    sqliteCode === undefined ? {} : { sqliteCode },
  );
}

/**
 * Maps a SQLite result code to its StorageError: lock, damage, permission, I/O, disk full and
 * read-only each get their own code and advice. Returns the error unchanged when it is not one
 * a person can act on (a constraint, a bug in SQL): those keep their stack.
 */
export function storageError(
  path: string,
  err: unknown,
  ctx: { busyTimeoutMs: number; access?: DatabaseDeps['access']; readonly?: boolean } = {
    busyTimeoutMs: DEFAULT_BUSY_TIMEOUT_MS,
  },
): unknown {
  if (!(err instanceof BetterSqlite3.SqliteError)) return err;
  const code = err.code;
  const reason = err.message.replace(/\s+/g, ' ');
  const opts = { cause: err, sqliteCode: code };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StorageError(
      'DB_LOCKED',
      `another process holds the ledger ${path} (waited ${formatSeconds(ctx.busyTimeoutMs)}); try again when it finishes`,
      opts,
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'SQLITE_IOERR_SHORT_READ') {
    // A short read means the file ends before its header says it does: truncated, i.e. damaged.
    return damagedError(path, reason, code);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new StorageError(
      'DB_IO',
      `I/O error on ${path} (${reason}, ${code}); check the disk and the system log, then try again — the ledger itself may be intact`,
      opts,
    );
  }
  if (code.startsWith('SQLITE_FULL'))
    return new StorageError('DB_FULL', `cannot write ${path}: the disk is full; free some space and try again`, opts);
  if (code.startsWith('SQLITE_READONLY')) {
    return new StorageError(
      'DB_READONLY',
      ctx.readonly
        ? `cannot write ${path}: it was opened read-only for inspection`
        : `cannot write ${path}: the file or its file system is read-only (${code}); check its permissions and mount`,
      opts,
    );
  }
  if (code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return new StorageError(
      'DB_PERMISSION',
      `cannot open ${path}: permission denied (${code}); check its owner and permissions`,
      opts,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    // SQLite does not say why; ask the file system (permission on the file, its directory, or the -wal/-shm beside it).
    const access = ctx.access ?? accessSync;
    for (const [p, mode] of [
      [dirname(path), constants.X_OK | (ctx.readonly ? 0 : constants.W_OK)],
      [path, constants.R_OK | (ctx.readonly ? 0 : constants.W_OK)],
    ] as const) {
      try {
        access(p, mode);
      } catch (e) {
        const fsCode = (e as NodeJS.ErrnoException).code;
        if (
          fsCode === 'EACCES' ||
          fsCode === 'EPERM' ||
          fsCode === 'EROFS' ||
          fsCode === 'ENOTDIR' ||
          fsCode === 'ENOENT'
        ) {
          return fsError(p, e, p === path ? (ctx.readonly ? 'read' : 'read and write') : 'use the directory');
        }
      }
    }
    return new StorageError(
      'DB_UNREADABLE',
      `cannot open ${path} (${reason}); check that it and its directory exist and that you may read and write them`,
      opts,
    );
  }
  return err;
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

export type { SqlValue };
