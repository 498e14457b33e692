import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect } from 'vitest';
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

/**
 * The embedded store (each location a directory `makeDir` gives) and, when TESSERA_TEST_PG_URL is
 * set, PostgreSQL; their schemas are dropped after the file (afterAll). Call at a test file's top level.
 */
export function storeHarnesses(makeDir: () => string): StoreHarness[] {
  const harnesses = [pgliteHarness(makeDir)];
  const url = process.env[PG_URL_ENV];
  if (url) harnesses.push(pgHarness(url));
  afterAll(async () => {
    for (const h of harnesses) await h.cleanup();
  });
  return harnesses;
}

/** A kind of store whose every `open` is a new, empty database. */
export interface FreshDatabase {
  name: string;
  open(): Promise<SqlDriver>;
}

/**
 * An in-memory PGlite per `open` and, when TESSERA_TEST_PG_URL is set, a fresh PostgreSQL schema
 * per `open` (dropped after the file, afterAll). Call at a test file's top level.
 */
export function freshDatabases(): FreshDatabase[] {
  const out: FreshDatabase[] = [{ name: 'pglite', open: () => openPgliteDriver(undefined) }];
  const url = process.env[PG_URL_ENV];
  if (url) {
    const h = pgHarness(url);
    afterAll(() => h.cleanup());
    out.push({ name: 'postgres', open: async () => h.open(await h.newLocation()) });
  }
  return out;
}

/**
 * Ends a backend of the PostgreSQL server at `url` and waits (up to 10 s) until it is gone, as a
 * restarted server, a crashed host or a cut connection would; its admin connection opens at the
 * first call and ends after the suite (afterAll). Call inside a describe block.
 */
export function backendKiller(url: string): (pid: number) => Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  let connected = false;
  afterAll(() => (connected ? admin.end() : undefined));
  return async (pid) => {
    if (!connected) {
      await admin.connect();
      connected = true;
    }
    const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1, 10000) AS ok', [pid]);
    expect(rows[0]?.ok).toBe(true);
  };
}
