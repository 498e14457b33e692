import { mkdirSync } from 'node:fs';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import type { PgRow, SqlConn, SqlDriver } from './driver.js';
import { compile } from './sql.js';
import { MarketStoreError } from './errors.js';
import { errorMessage } from '../../core/errors.js';

const PARSERS = { [types.INT8]: (x: string) => BigInt(x) };

/**
 * The embedded driver: PGlite (PostgreSQL compiled to WebAssembly) in this process, its files in
 * `dataDir` (or in memory when `dataDir` is undefined). One connection: transactions run one at
 * a time, which is what makes `FOR UPDATE SKIP LOCKED` trivially correct here.
 */
export async function openPgliteDriver(dataDir: string | undefined): Promise<SqlDriver> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  let db: PGlite;
  try {
    db = await PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), parsers: PARSERS });
  } catch (err) {
    throw new MarketStoreError(
      'STORE_UNREADABLE',
      `cannot open the embedded market store in ${dataDir ?? 'memory'} (${errorMessage(err)}); move the directory away or choose another --data-dir`,
      { cause: err },
    );
  }
  return {
    kind: 'pglite',
    location: dataDir ?? 'memory',
    transaction: (fn) => db.transaction((tx) => fn(connOf(tx))),
    close: () => db.close(),
  };
}

function connOf(tx: Transaction): SqlConn {
  return {
    async query<R extends PgRow>(q: Parameters<SqlConn['query']>[0]): Promise<R[]> {
      const { text, values } = compile(q);
      return (await tx.query<R>(text, values)).rows;
    },
    async exec(text) {
      await tx.exec(text);
    },
  };
}
