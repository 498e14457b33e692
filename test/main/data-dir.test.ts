import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { receiptToJson } from '../../src/core/ledger/receipt.js';
import { StorageError } from '../../src/main/db/errors.js';
import { openLedger } from '../../src/main/ledger.js';
import { root, tessera } from '../cli/run.js';
import { tempDir } from '../support/temp-dir.js';
import { receipt, signedReceipt, TEST_MARKET, testMarketSigner } from './ledger-fixtures.js';

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const INSPECTIONS = [['settlement', 'status'], ['courier', 'list'], ['price-board', 'show'], ['metrics']];

async function rejects(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(StorageError);
    return err as StorageError;
  }
  throw new Error('expected a StorageError');
}

/** A data dir with a ledger, an identity and one stored bundle (written with the CLI). */
function populated(dir: string): string {
  const dd = join(dir, 'node');
  const bundle = join(dir, 'bundle.bin');
  writeFileSync(bundle, 'carried bytes');
  expect(tessera(['courier', 'send', bundle, 'alice', '--data-dir', dd]).code).toBe(0);
  expect(tessera(['settlement', 'fund', 'buyer', '10', '--data-dir', dd]).code).toBe(0);
  return dd;
}

describe('inspection commands are read-only', () => {
  it('on a missing data dir each fails with one line, exit 2, and creates nothing', () => {
    const dir = tempDir();
    const dd = join(dir, 'nowhere');
    for (const cmd of INSPECTIONS) {
      const r = tessera([...cmd, '--data-dir', dd]);
      expect([r.code, r.stderr], cmd.join(' ')).toEqual([
        2,
        `tessera: no data directory at ${dd}; nothing has been stored yet (pass --data-dir to inspect another one)\n`,
      ]);
      expect(existsSync(dd), cmd.join(' ')).toBe(false);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('on an existing ledger the ledger file keeps its bytes and mtime, no -wal/-shm holds data, and nothing else is created', () => {
    const dd = populated(tempDir());
    const db = join(dd, 'ledger.db');
    // Without an identity, a read-write open would create one: its absence afterwards shows no command opened for writing.
    rmSync(join(dd, 'identity.pem'));
    const entries = readdirSync(dd).sort();
    expect(entries).toEqual(['bundles', 'ledger.db']);
    const before = { digest: digest(db), mtime: statSync(db).mtimeMs };
    for (const cmd of INSPECTIONS) {
      const r = tessera([...cmd, '--data-dir', dd]);
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(0);
      expect({ digest: digest(db), mtime: statSync(db).mtimeMs }, cmd.join(' ')).toEqual(before);
      // A reader of a WAL database may leave an empty -wal and the -shm index; never any data.
      if (existsSync(`${db}-wal`)) expect(statSync(`${db}-wal`).size, cmd.join(' ')).toBe(0);
      expect(
        readdirSync(dd)
          .filter((n) => !n.startsWith('ledger.db-'))
          .sort(),
        cmd.join(' '),
      ).toEqual(entries);
    }
  });

  it('openLedger({ readonly }) does not create the identity when there is none', async () => {
    const dd = populated(tempDir());
    rmSync(join(dd, 'identity.pem'));
    const ctx = await openLedger({ dataDir: dd, readonly: true });
    expect(ctx.identity.present).toBe(false);
    expect([...ctx.courier.list(false)]).toHaveLength(1);
    ctx.close();
    expect(existsSync(join(dd, 'identity.pem'))).toBe(false);
  });
});

describe('a missing or empty ledger beside an identity or bundles', () => {
  it('stops with LEDGER_MISSING naming the path (missing, 0 bytes, deleted with an orphan -wal); --fresh-ledger starts an empty one', async () => {
    const dir = tempDir();
    const dd = populated(dir);
    const db = join(dd, 'ledger.db');
    const receipts = join(dir, 'r.jsonl');
    writeFileSync(receipts, `${JSON.stringify(receiptToJson(receipt('job-1', 1n)))}\n`);

    // Missing.
    rmSync(db);
    const missing = tessera(['settlement', 'apply', receipts, '--data-dir', dd]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `tessera: ${db} is missing but this data directory already has a node identity (${join(dd, 'identity.pem')}), 1 stored courier bundle (${join(dd, 'bundles')}); a new ledger would lose its history and could apply receipts twice — restore ledger.db from a backup, or pass --fresh-ledger to start an empty ledger here\n`,
    );
    expect(existsSync(db)).toBe(false);
    expect((await rejects(openLedger({ dataDir: dd }))).code).toBe('LEDGER_MISSING');
    expect((await rejects(openLedger({ dataDir: dd, readonly: true }))).code).toBe('LEDGER_MISSING');
    expect(existsSync(db)).toBe(false);

    // 0 bytes.
    writeFileSync(db, '');
    const empty = tessera(['courier', 'flush', '--market', 'http://127.0.0.1:9', '--data-dir', dd]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/ledger\.db is empty \(0 bytes\) but this data directory already has a node identity/);
    expect(statSync(db).size).toBe(0);

    // Deleted while an orphan WAL is present: refused even with --fresh-ledger, the WAL untouched.
    rmSync(db);
    writeFileSync(`${db}-wal`, 'frames of a ledger that is gone');
    const orphan = tessera(['settlement', 'mode', 'real', '--data-dir', dd]);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toMatch(
      /ledger\.db is missing but this data directory already has .*an orphan write-ahead log \(.*ledger\.db-wal\)/,
    );
    const orphanFresh = tessera(['settlement', 'mode', 'real', '--fresh-ledger', '--data-dir', dd]);
    expect(orphanFresh.code).toBe(2);
    expect(orphanFresh.stderr).toMatch(
      /its write-ahead log .*ledger\.db-wal is still there; .*move .*ledger\.db-wal .* away yourself/,
    );
    expect(readFileSync(`${db}-wal`, 'utf8')).toBe('frames of a ledger that is gone');
    expect(existsSync(db)).toBe(false);
    rmSync(`${db}-wal`);

    // The explicit flag starts a new, empty ledger.
    const fresh = tessera(['settlement', 'fund', 'buyer', '5', '--fresh-ledger', '--data-dir', dd]);
    expect([fresh.code, fresh.stderr]).toEqual([0, '']);
    expect(JSON.parse(tessera(['settlement', 'status', '--json', '--data-dir', dd]).stdout).balances).toEqual([
      { account: 'buyer', balance: '5' },
    ]);
  });

  it('a fresh data dir, or one with only a config file, needs no flag', async () => {
    const dd = join(tempDir(), 'node');
    mkdirSync(dd);
    writeFileSync(join(dd, 'config.toml'), '');
    const ctx = await openLedger({ dataDir: dd });
    ctx.close();
    expect(existsSync(join(dd, 'ledger.db'))).toBe(true);
  });
});

describe('a foreign SQLite file as ledger.db', () => {
  it('is refused by every command, byte for byte unchanged, with no -wal', () => {
    const dd = join(tempDir(), 'node');
    mkdirSync(dd);
    const db = join(dd, 'ledger.db');
    const raw = new BetterSqlite3(db);
    raw.exec(
      "CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT); INSERT INTO photos (path) VALUES ('/home/ada/cat.jpg')",
    );
    raw.close();
    const before = digest(db);
    for (const cmd of [
      ['settlement', 'fund', 'buyer', '1'],
      ['settlement', 'status'],
      ['courier', 'list'],
    ]) {
      const r = tessera([...cmd, '--data-dir', dd]);
      expect(r.code, cmd.join(' ')).toBe(2);
      expect(r.stderr, cmd.join(' ')).toBe(
        `tessera: ${db} is a SQLite database that is not a Tessera ledger (tables: photos); Tessera has not changed it — move it away or choose another --data-dir\n`,
      );
      expect(digest(db)).toBe(before);
      expect(existsSync(`${db}-wal`)).toBe(false);
    }
  });
});

describe('a write lock held by another process', () => {
  it('settlement apply and courier flush wait the stated time, then fail with one DB_LOCKED line', async () => {
    const dir = tempDir();
    const dd = populated(dir);
    const db = join(dd, 'ledger.db');
    const receipts = join(dir, 'r.jsonl');
    writeFileSync(receipts, `${JSON.stringify(receiptToJson(signedReceipt('job-1', 1n)))}\n`);
    expect(tessera(['market-key', 'trust', TEST_MARKET, testMarketSigner.nodeId, '--data-dir', dd]).code).toBe(0);
    const holder = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/fixtures/hold-lock.ts'), db], {
      cwd: root,
    });
    const exited = new Promise<void>((resolve) => holder.on('exit', () => resolve()));
    try {
      expect(
        await new Promise<string>((resolve) => createInterface({ input: holder.stdout }).once('line', resolve)),
      ).toBe('locked');
      const env = { TESSERA_DB_BUSY_TIMEOUT_MS: '400' };
      for (const cmd of [
        ['settlement', 'apply', receipts],
        ['courier', 'flush', '--market', 'http://127.0.0.1:9', '--max-attempts', '1'],
      ]) {
        const r = tessera([...cmd, '--data-dir', dd], { env });
        expect([r.code, r.stderr], cmd.join(' ')).toEqual([
          2,
          `tessera: another process holds the ledger ${db} (waited 0.4 s); try again when it finishes\n`,
        ]);
      }
      // Inspection reads past the writer (WAL).
      expect(tessera(['settlement', 'status', '--data-dir', dd], { env }).code).toBe(0);
    } finally {
      holder.stdin.end();
      await exited;
    }
    expect(tessera(['settlement', 'apply', receipts, '--data-dir', dd]).code).toBe(0);
  });
});
