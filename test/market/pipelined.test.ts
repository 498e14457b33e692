import { afterAll, describe, expect, it } from 'vitest';
import { pipelined, type SqlDriver } from '../../src/market/store/driver.js';
import { sql } from '../../src/market/store/sql.js';
import { PG_URL_ENV, pgHarness } from './store-harness.js';
import { writesDuring } from '../support/socket-writes.js';

/**
 * The PostgreSQL driver's round trips (pg-driver.ts): a transaction's BEGIN leaves with its first
 * statement, and `pipelined` sends independent statements in one write that the server runs in
 * the order given — what cut the market's round trips per job (docs/PERFORMANCE.md, "Third round").
 */
const url = process.env[PG_URL_ENV];
const h = url ? pgHarness(url) : undefined;
afterAll(async () => {
  await h?.cleanup();
});

describe.skipIf(!h)('PostgreSQL round trips (pg-driver.ts)', () => {
  async function open(): Promise<SqlDriver> {
    const harness = h as NonNullable<typeof h>;
    const driver = await harness.open(await harness.newLocation());
    await driver.transaction((c) => c.exec('CREATE TABLE t (n integer PRIMARY KEY)'));
    return driver;
  }

  it('sends statements given together in one write, run by the server in the order given', async () => {
    const driver = await open();
    try {
      const { result, writes } = await writesDuring(() =>
        driver.transaction((c) =>
          pipelined(
            c,
            () => c.query(sql`INSERT INTO t (n) VALUES (${1})`),
            () => c.query(sql`INSERT INTO t (n) VALUES (${2})`),
            () => c.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM t`),
          ),
        ),
      );
      // The third statement ran after the two inserts (it sees both rows).
      expect(result[2]).toEqual([{ n: 2 }]);
      // BEGIN and the three statements in one write, COMMIT in a second.
      expect(writes).toBe(2);
    } finally {
      await driver.close();
    }
  });

  it('fails with the first failure and commits nothing of the transaction', async () => {
    const driver = await open();
    try {
      await expect(
        driver.transaction((c) =>
          pipelined(
            c,
            () => c.query(sql`INSERT INTO t (n) VALUES (${1})`),
            () => c.query(sql`INSERT INTO t (n) VALUES (${1})`),
            () => c.query(sql`INSERT INTO t (n) VALUES (${3})`),
          ),
        ),
      ).rejects.toThrow(/duplicate key/);
      expect(await driver.transaction((c) => c.query(sql`SELECT n FROM t`))).toEqual([]);
      // The connection is usable again: the next transaction commits.
      await driver.transaction((c) => c.query(sql`INSERT INTO t (n) VALUES (${7})`));
      expect(await driver.transaction((c) => c.query(sql`SELECT n FROM t`))).toEqual([{ n: 7 }]);
    } finally {
      await driver.close();
    }
  });

  it('sends a last write with COMMIT (atCommit): one write for both, and its failure commits nothing', async () => {
    const driver = await open();
    try {
      const { writes } = await writesDuring(() =>
        driver.transaction(async (c) => {
          await c.query(sql`INSERT INTO t (n) VALUES (${1})`);
          c.atCommit?.(sql`INSERT INTO t (n) VALUES (${2})`);
        }),
      );
      // BEGIN with the first statement, then the last write with COMMIT.
      expect(writes).toBe(2);
      expect(await driver.transaction((c) => c.query(sql`SELECT n FROM t ORDER BY n`))).toEqual([{ n: 1 }, { n: 2 }]);
      await expect(
        driver.transaction(async (c) => {
          await c.query(sql`INSERT INTO t (n) VALUES (${3})`);
          c.atCommit?.(sql`INSERT INTO t (n) VALUES (${1})`);
        }),
      ).rejects.toThrow(/duplicate key/);
      expect(await driver.transaction((c) => c.query(sql`SELECT n FROM t ORDER BY n`))).toEqual([{ n: 1 }, { n: 2 }]);
      await driver.transaction((c) => c.query(sql`INSERT INTO t (n) VALUES (${4})`));
      expect(await driver.transaction((c) => c.query(sql`SELECT count(*)::int AS n FROM t`))).toEqual([{ n: 3 }]);
    } finally {
      await driver.close();
    }
  });
});
