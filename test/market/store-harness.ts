import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { SqlDriver } from '../../src/market/store/driver.js';
import { openPgDriver } from '../../src/market/store/pg-driver.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';

/** How a store test file reaches its database: a fresh location per call, opened as often as a test needs. */
export interface StoreHarness {
  name: string;
  /** A new, empty location (a PGlite directory or a fresh PostgreSQL schema), removed by `cleanup`. */
  newLocation(): Promise<string>;
  open(location: string): Promise<SqlDriver>;
  cleanup(): Promise<void>;
}

/** The environment variable that names a PostgreSQL server for the pg store tests. */
export const PG_URL_ENV = 'TESSERA_TEST_PG_URL';

export function pgliteHarness(makeDir: () => string): StoreHarness {
  return {
    name: 'pglite',
    newLocation: async () => makeDir(),
    open: (dir) => openPgliteDriver(dir),
    cleanup: async () => undefined,
  };
}

/** Each run gets its own schemas (tessera_test_<random>), dropped at the end, so runs never collide. */
export function pgHarness(url: string): StoreHarness {
  const schemas: string[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    async newLocation() {
      const schema = `tessera_test_${randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
      schemas.push(schema);
      return schema;
    },
    open: (schema) => openPgDriver(url, { schema, max: 16 }),
    async cleanup() {
      if (schemas.length === 0) return;
      await admin(async (c) => {
        for (const s of schemas.splice(0)) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      });
    },
  };
}

/** Empties every market table of a migrated store (CASCADE reaches tables later migrations add) and zeroes the system accounts (between tests). */
export async function resetStore(driver: SqlDriver): Promise<void> {
  await driver.transaction(async (c) => {
    await c.exec(`TRUNCATE jobs, task_slices, escrows, tasks, postings, customers CASCADE;
      DELETE FROM accounts WHERE kind IN ('customer', 'worker') OR account_id LIKE 'escrow:%';
      UPDATE accounts SET balance = 0;`);
  });
}
