import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Database, storageError, TESSERA_APPLICATION_ID } from '../../../src/main/db/database.js';
import { StorageError } from '../../../src/main/db/errors.js';
import { MIGRATIONS } from '../../../src/main/db/migrations.js';
import { sql } from '../../../src/main/db/sql.js';
import { root } from '../../cli/run.js';
import { pseudoRandomBytes } from '../../support/data.js';
import { tempDir } from '../../support/temp-dir.js';

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function storageCode(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(StorageError);
    return { code: (err as StorageError).code, message: (err as StorageError).message };
  }
  throw new Error('expected a StorageError');
}

/** A foreign SQLite database: someone else's table, rollback journal, application_id 0. */
function foreignDb(path: string, appId = 0): void {
  const raw = new BetterSqlite3(path);
  raw.exec("CREATE TABLE contacts (name TEXT, phone TEXT); INSERT INTO contacts VALUES ('ada', '123')");
  if (appId) raw.pragma(`application_id = ${appId}`);
  raw.close();
}

/** Starts a process that holds the write lock on `path` until `release` is called. */
async function holdLock(path: string): Promise<{ release(): Promise<void> }> {
  const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/fixtures/hold-lock.ts'), path], { cwd: root });
  const exited = new Promise<void>((resolve) => p.on('exit', () => resolve()));
  const first = await new Promise<string>((resolve) => createInterface({ input: p.stdout }).once('line', resolve));
  expect(first).toBe('locked');
  return {
    async release() {
      p.stdin.end();
      await exited;
    },
  };
}

describe('foreign SQLite files (application_id)', () => {
  it('refuses a database with tables of its own, before writing anything: the bytes are identical and no -wal appears', () => {
    for (const readonly of [false, true]) {
      const path = join(tempDir(), 'ledger.db');
      foreignDb(path);
      const before = digest(path);
      const mtime = statSync(path).mtimeMs;
      const e = storageCode(() => Database.open(path, { readonly }));
      expect(e.code).toBe('DB_FOREIGN');
      expect(e.message).toMatch(
        /ledger\.db is a SQLite database that is not a Tessera ledger \(tables: contacts\); Tessera has not changed it/,
      );
      expect(e.message).not.toMatch(/damaged/);
      expect(digest(path)).toBe(before);
      expect(statSync(path).mtimeMs).toBe(mtime);
      expect(existsSync(`${path}-wal`)).toBe(false);
      expect(existsSync(`${path}-shm`)).toBe(false);
    }
  });

  it('refuses a database carrying another application_id, even with no tables', () => {
    const path = join(tempDir(), 'ledger.db');
    const raw = new BetterSqlite3(path);
    raw.pragma('application_id = 1234');
    raw.close();
    const before = digest(path);
    expect(storageCode(() => Database.open(path))).toMatchObject({
      code: 'DB_FOREIGN',
      message: expect.stringMatching(/application_id is 0x000004d2, Tessera's is 0x54455353/),
    });
    expect(digest(path)).toBe(before);
  });

  it('upgrades a ledger created before the application id (recognised by its migrations) and keeps its data', () => {
    const path = join(tempDir(), 'ledger.db');
    const db = Database.open(path);
    db.run(sql`INSERT INTO accounts (id, balance) VALUES ('alice', 7)`);
    db.close();
    const raw = new BetterSqlite3(path);
    raw.pragma('application_id = 0'); // what the previous version wrote
    raw.close();
    const again = Database.open(path);
    expect(again.get<{ application_id: bigint }>(sql`PRAGMA application_id`)?.application_id).toBe(
      BigInt(TESSERA_APPLICATION_ID),
    );
    expect(again.get<{ balance: bigint }>(sql`SELECT balance FROM accounts WHERE id = 'alice'`)?.balance).toBe(7n);
    again.close();
  });
});

describe('damage', () => {
  it('a populated ledger with 16 bytes flipped in one page stops at open with DB_DAMAGED (quick_check), read-write and read-only, unchanged', () => {
    const seed = Number(process.env.TESSERA_TEST_SEED ?? 0x5eed);
    console.log(`damage seed ${seed}`);
    const noise = pseudoRandomBytes(16 * 64, seed);
    const path = join(tempDir(), 'ledger.db');
    const db = Database.open(path);
    db.transaction(() => {
      for (let i = 0; i < 2000; i++)
        db.run(
          sql`INSERT INTO accounts (id, balance) VALUES (${`acct-${i.toString().padStart(6, '0')}`}, ${BigInt(i)})`,
        );
    });
    db.close();
    const bytes = readFileSync(path);
    const pageSize = bytes.readUInt16BE(16);
    const pages = bytes.length / pageSize;
    // A seeded page past the schema page; the 16 bytes cover its b-tree page header.
    const page = 2 + ((noise[0] as number) % (pages - 2));
    for (let i = 0; i < 16; i++)
      bytes[(page - 1) * pageSize + i] = (bytes[(page - 1) * pageSize + i] as number) ^ ((noise[i + 1] as number) | 1);
    writeFileSync(path, bytes);
    const before = digest(path);
    for (const readonly of [false, true]) {
      const e = storageCode(() => Database.open(path, { readonly }));
      expect(e.code, `page ${page} of ${pages}`).toBe('DB_DAMAGED');
      expect(e.message.split('\n')).toHaveLength(1);
      expect(e.message).toMatch(
        /ledger\.db is damaged or is not a Tessera database \(.*\); Tessera has not changed it — restore it from a backup/,
      );
      expect(digest(path)).toBe(before);
    }
    // The full check finds it too (as rows, or as DB_DAMAGED when a page cannot be parsed at all).
    const unchecked = Database.open(path, { readonly: true, quickCheck: false });
    let integrity: string[] | string;
    try {
      integrity = unchecked.integrityCheck();
    } catch (err) {
      integrity = (err as StorageError).code;
    }
    expect(integrity).not.toEqual(['ok']);
    unchecked.close();
  });
});

describe('locks', () => {
  it('a write lock held by another process past the busy timeout gives DB_LOCKED, from a transaction and from a single statement', async () => {
    const path = join(tempDir(), 'ledger.db');
    Database.open(path).close();
    const lock = await holdLock(path);
    try {
      const db = Database.open(path, { busyTimeoutMs: 300 }); // reading under a held write lock is fine in WAL
      const t0 = Date.now();
      const e = storageCode(() => db.transaction(() => db.run(sql`INSERT INTO accounts (id) VALUES ('x')`)));
      const waited = Date.now() - t0;
      expect(e).toEqual({
        code: 'DB_LOCKED',
        message: `another process holds the ledger ${path} (waited 0.3 s); try again when it finishes`,
      });
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(4000);
      expect(storageCode(() => db.run(sql`INSERT INTO accounts (id) VALUES ('y')`)).code).toBe('DB_LOCKED');
      db.close();
    } finally {
      await lock.release();
    }
    const db = Database.open(path);
    db.transaction(() => db.run(sql`INSERT INTO accounts (id) VALUES ('x')`));
    db.close();
  });
});

describe('telling permission, lock, I/O and damage apart', () => {
  const err = (code: string, message: string) => new BetterSqlite3.SqliteError(message, code);
  const eacces = () => {
    throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
  };

  it('maps each SQLite result code to its own StorageError; only damage says "damaged"', () => {
    const path = '/data/node/ledger.db';
    const cases: [string, string, string][] = [
      ['SQLITE_BUSY', 'database is locked', 'DB_LOCKED'],
      ['SQLITE_LOCKED', 'database table is locked', 'DB_LOCKED'],
      ['SQLITE_CORRUPT', 'database disk image is malformed', 'DB_DAMAGED'],
      ['SQLITE_NOTADB', 'file is not a database', 'DB_DAMAGED'],
      ['SQLITE_IOERR_READ', 'disk I/O error', 'DB_IO'],
      ['SQLITE_IOERR_FSYNC', 'disk I/O error', 'DB_IO'],
      ['SQLITE_FULL', 'database or disk is full', 'DB_FULL'],
      ['SQLITE_READONLY', 'attempt to write a readonly database', 'DB_READONLY'],
      ['SQLITE_PERM', 'access permission denied', 'DB_PERMISSION'],
    ];
    for (const [code, message, expected] of cases) {
      const e = storageError(path, err(code, message), { busyTimeoutMs: 5000 });
      expect(e, code).toBeInstanceOf(StorageError);
      expect((e as StorageError).code, code).toBe(expected);
      expect((e as StorageError).message.includes('damaged'), code).toBe(expected === 'DB_DAMAGED');
      expect((e as StorageError).message, code).toContain(path);
    }
    expect(
      (storageError(path, err('SQLITE_BUSY', 'database is locked'), { busyTimeoutMs: 5000 }) as StorageError).message,
    ).toBe(`another process holds the ledger ${path} (waited 5 s); try again when it finishes`);
    // A constraint violation is a bug or a rule, not a storage problem: it keeps its stack.
    const constraint = err('SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed');
    expect(storageError(path, constraint, { busyTimeoutMs: 5000 })).toBe(constraint);
  });

  it('SQLITE_CANTOPEN on a file the user may not open is a permission error (injected EACCES: root can open anything)', () => {
    const path = join(tempDir(), 'ledger.db');
    Database.open(path).close();
    const e = storageError(path, err('SQLITE_CANTOPEN', 'unable to open database file'), {
      busyTimeoutMs: 5000,
      access: eacces,
    });
    expect((e as StorageError).code).toBe('DB_PERMISSION');
    expect((e as StorageError).message).toMatch(/permission denied \(EACCES\); check its owner and permissions/);
    expect((e as StorageError).message).not.toMatch(/damaged/);
    // Through open: the access check refuses before SQLite is asked, and the file is untouched.
    const before = digest(path);
    const opened = storageCode(() => Database.open(path, {}, { access: eacces }));
    expect(opened.code).toBe('DB_PERMISSION');
    expect(opened.message).toBe(
      `cannot read and write ${path}: permission denied (EACCES); check its owner and permissions`,
    );
    expect(digest(path)).toBe(before);
    // And when SQLite itself refuses (an -shm it may not create, …), the probe finds the cause.
    let calls = 0;
    const refusing = () => {
      throw err('SQLITE_CANTOPEN', 'unable to open database file');
    };
    const fromSqlite = storageCode(() =>
      Database.open(path, {}, { connect: refusing, access: () => (calls++ === 0 ? undefined : eacces()) }),
    );
    expect(fromSqlite.code).toBe('DB_PERMISSION');
  });

  it('a database path whose parent is a file (ENOTDIR) names the problem, not damage', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    const e = storageCode(() => Database.open(join(dir, 'file', 'ledger.db')));
    expect(e.code).toBe('DB_UNREADABLE');
    expect(e.message).toMatch(/a parent of it is a file, not a directory/);
    expect(e.message).not.toMatch(/damaged/);
  });

  it('a write through a read-only connection is DB_READONLY, not damage', () => {
    const path = join(tempDir(), 'ledger.db');
    Database.open(path).close();
    const ro = Database.open(path, { readonly: true });
    expect(storageCode(() => ro.transaction(() => ro.run(sql`INSERT INTO accounts (id) VALUES ('x')`)))).toMatchObject({
      code: 'DB_READONLY',
      message: expect.stringMatching(/opened read-only for inspection/),
    });
    ro.close();
  });
});

describe('read-only open', () => {
  it('never creates, migrates or writes: missing file, pending migrations, existing ledger', () => {
    const dir = tempDir();
    const path = join(dir, 'ledger.db');
    expect(storageCode(() => Database.open(path, { readonly: true })).code).toBe('LEDGER_MISSING');
    expect(existsSync(path)).toBe(false);

    // A ledger from an older version (last migration not applied): refused, not upgraded.
    Database.open(path, { migrations: MIGRATIONS.slice(0, -1) }).close();
    const before = digest(path);
    const mtime = statSync(path).mtimeMs;
    const old = storageCode(() => Database.open(path, { readonly: true }));
    expect(old.code).toBe('DB_OUTDATED');
    expect(old.message).toMatch(/older Tessera \(schema migration \d+ not applied yet\)/);
    expect(digest(path)).toBe(before);

    // A current ledger opens and reads; the database file is not written.
    Database.open(path).close();
    const current = digest(path);
    const currentMtime = statSync(path).mtimeMs;
    expect(currentMtime).toBeGreaterThanOrEqual(mtime);
    const ro = Database.open(path, { readonly: true });
    expect(ro.readonly).toBe(true);
    expect(ro.all(sql`SELECT id FROM schema_migrations`)).toHaveLength(MIGRATIONS.length);
    ro.close();
    expect(digest(path)).toBe(current);
    expect(statSync(path).mtimeMs).toBe(currentMtime);
  });
});
