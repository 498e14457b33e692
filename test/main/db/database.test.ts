import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Database } from '../../../src/main/db/database.js';
import { MIGRATIONS } from '../../../src/main/db/migrations.js';
import { identifier, sql } from '../../../src/main/db/sql.js';
import { tempDir } from '../../support/temp-dir.js';

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('Database', () => {
  it('migrates a fresh database through every migration, recording each with its hash', () => {
    const dir = tempDir();
    const db = Database.open(join(dir, 'ledger.db'));
    const rows = db.all<{ id: bigint; name: string; hash: string }>(
      sql`SELECT id, name, hash FROM schema_migrations ORDER BY id`,
    );
    expect(rows.map((r) => Number(r.id))).toEqual(MIGRATIONS.map((m) => m.id));
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
    for (const table of ['accounts', 'postings', 'counters', 'settings', 'receipts', 'courier_receipts']) {
      expect(db.get(sql`SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ${table}`), table).toBeDefined();
    }
    expect(db.integrityCheck()).toEqual(['ok']);
    db.close();
    // Re-opening applies nothing twice.
    const again = Database.open(join(dir, 'ledger.db'));
    expect(again.all(sql`SELECT id FROM schema_migrations`)).toHaveLength(MIGRATIONS.length);
    again.close();
  });

  it('sets WAL, FULL sync, foreign keys, the busy timeout and the application id at open, whatever the SQLite build defaults to', () => {
    // better-sqlite3's build already defaults to synchronous=FULL and foreign_keys=ON; many SQLite
    // builds do not (SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 gives NORMAL). Start from the weakest settings
    // so each PRAGMA at open is observable: dropping any of them turns this red.
    const weak = (p: string, o: BetterSqlite3.Options) => {
      const raw = new BetterSqlite3(p, { ...o, timeout: 0 });
      raw.pragma('synchronous = OFF');
      raw.pragma('foreign_keys = OFF');
      return raw;
    };
    const path = join(tempDir(), 'ledger.db');
    const pragmas = (db: Database) => ({
      journal_mode: db.get<{ journal_mode: string }>(sql`PRAGMA journal_mode`)?.journal_mode,
      synchronous: db.get<{ synchronous: bigint }>(sql`PRAGMA synchronous`)?.synchronous,
      foreign_keys: db.get<{ foreign_keys: bigint }>(sql`PRAGMA foreign_keys`)?.foreign_keys,
      busy_timeout: db.get<{ timeout: bigint }>(sql`PRAGMA busy_timeout`)?.timeout,
      application_id: db.get<{ application_id: bigint }>(sql`PRAGMA application_id`)?.application_id,
    });
    const db = Database.open(path, {}, { connect: weak });
    // 0x54455353 = "TESS", at offset 68 of the file header.
    expect(pragmas(db)).toEqual({
      journal_mode: 'wal',
      synchronous: 2n,
      foreign_keys: 1n,
      busy_timeout: 5000n,
      application_id: 0x54455353n,
    });
    db.close();
    expect(readFileSync(path).subarray(68, 72).toString('latin1')).toBe('TESS');
    const ro = Database.open(path, { readonly: true, busyTimeoutMs: 250 }, { connect: weak });
    expect(pragmas(ro)).toEqual({
      journal_mode: 'wal',
      synchronous: 2n,
      foreign_keys: 1n,
      busy_timeout: 250n,
      application_id: 0x54455353n,
    });
    ro.close();
  });

  it('refuses to start when an applied migration was edited', () => {
    const path = join(tempDir(), 'ledger.db');
    Database.open(path).close();
    const edited = MIGRATIONS.map((m) => (m.id === 2 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    expect(() => Database.open(path, { migrations: edited })).toThrow(
      /migration 2 "receipts" differs from the one applied/,
    );
  });

  it('refuses a database written by a newer version', () => {
    const path = join(tempDir(), 'ledger.db');
    Database.open(path, {
      migrations: [...MIGRATIONS, { id: 99, name: 'future', sql: 'CREATE TABLE future (x INTEGER) STRICT;' }],
    }).close();
    expect(() => Database.open(path)).toThrow(/newer Tessera.*migration 99 "future"/);
  });

  it('applies each migration in its own transaction: a failing one leaves the earlier ones applied', () => {
    const path = join(tempDir(), 'ledger.db');
    const nextId = Math.max(...MIGRATIONS.map((m) => m.id)) + 1;
    const broken = [
      ...MIGRATIONS,
      { id: nextId, name: 'broken', sql: 'CREATE TABLE ok_part (x INTEGER) STRICT; THIS IS NOT SQL;' },
    ];
    expect(() => Database.open(path, { migrations: broken })).toThrow();
    const db = Database.open(path);
    expect(db.all(sql`SELECT id FROM schema_migrations`)).toHaveLength(MIGRATIONS.length);
    expect(db.get(sql`SELECT name FROM sqlite_schema WHERE name = 'ok_part'`)).toBeUndefined();
    db.close();
  });

  it('stops with the path and what to do on a damaged file, and never changes or moves it', () => {
    const dir = tempDir();
    const path = join(dir, 'ledger.db');
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    const before = digest(path);
    expect(() => Database.open(path)).toThrow(
      new RegExp(`${path.replace(/[/.]/g, '\\$&')} is damaged or is not a Tessera database.*has not changed it`),
    );
    expect(digest(path)).toBe(before);
    expect(existsSync(`${path}-wal`)).toBe(false);

    // A real database with a corrupted header page.
    const good = join(dir, 'good.db');
    Database.open(good).close();
    const bytes = readFileSync(good);
    bytes.fill(0xff, 0, 100);
    writeFileSync(good, bytes);
    const corruptDigest = digest(good);
    expect(() => Database.open(good)).toThrow(/is damaged/);
    expect(digest(good)).toBe(corruptDigest);
  });

  it('names a directory given as the database path', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'ledger.db'));
    expect(() => Database.open(join(dir, 'ledger.db'))).toThrow(/is a directory, not a database file/);
  });
});

describe('sql tag', () => {
  it('binds every value and splices fragments and identifiers', () => {
    const evil = "x'); DROP TABLE accounts; --";
    const q = sql`SELECT * FROM ${identifier('accounts')} WHERE id = ${evil} AND ${sql`balance > ${5n}`} AND flag = ${true}`;
    expect(q.text).toBe('SELECT * FROM "accounts" WHERE id = ? AND balance > ? AND flag = ?');
    expect(q.values).toEqual([evil, 5n, 1]);
    const db = Database.open(join(tempDir(), 'l.db'));
    db.run(sql`INSERT INTO accounts (id, balance) VALUES (${evil}, ${1n})`);
    expect(db.get<{ id: string }>(sql`SELECT id FROM accounts WHERE id = ${evil}`)?.id).toBe(evil);
    expect(db.get(sql`SELECT name FROM sqlite_schema WHERE name = 'accounts'`)).toBeDefined();
    db.close();
    expect(() => identifier('a b' as string)).toThrow(/invalid SQL identifier/);
  });
});
