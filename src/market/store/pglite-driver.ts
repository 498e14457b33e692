import { existsSync, mkdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import type { PgRow, SqlConn, SqlDriver, SqlNotifications } from './driver.js';
import { compile } from './sql.js';
import { MarketStoreError } from './errors.js';
import { hasPgData, unpackPgImage } from './pglite-image.js';
import { errorMessage } from '../../core/errors.js';

/**
 * BIGINT → bigint; BYTEA both ways through Buffer's hex codec (PGlite's own codec goes byte by
 * byte: 1 MiB of slice bytes took ~2 s to write and ~0.4 s to read, against ~0.1 s and ~0.05 s).
 * BYTEA reads back as a Buffer, as with pg.
 */
const PARSERS = {
  [types.INT8]: (x: string) => BigInt(x),
  [types.BYTEA]: (x: string) => Buffer.from(x.slice(2), 'hex'),
};
const SERIALIZERS = {
  [types.BYTEA]: (x: unknown) => {
    if (!(x instanceof Uint8Array)) throw new TypeError('a BYTEA parameter must be a Uint8Array');
    return `\\x${Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex')}`;
  },
};

/**
 * How the embedded store is tuned. `server` keeps PostgreSQL's defaults (`tessera market`);
 * `light` is the practice market's: a handful of tables and one task every two seconds need
 * none of PostgreSQL's 128 MB of shared buffers, which it touches at start (an opened store's
 * RSS fell from ~270 MB to ~150 MB; docs/PERFORMANCE.md, "Memory and the first minute").
 */
export type PgliteProfile = 'server' | 'light';

/** The settings of the `light` profile, given on PostgreSQL's command line (the data dir's postgresql.conf is left as it is). */
export const LIGHT_PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '2MB',
  work_mem: '1MB',
  maintenance_work_mem: '2MB',
  temp_buffers: '1MB',
};

/** A step of opening the embedded store, for progress shown to people. */
export type PgliteOpenStep = 'unpacking' | 'initdb' | 'opening';

export interface PgliteDriverOptions {
  /** Default `server`. */
  profile?: PgliteProfile;
  /**
   * A prebuilt, empty data directory (gzip tar) unpacked into a new `dataDir` instead of running
   * initdb (seconds of CPU and ~450 MB more peak RSS); when the file is missing or cannot be
   * unpacked, initdb runs as before.
   */
  image?: string;
  /** Told as each step starts. */
  onStep?: (step: PgliteOpenStep) => void;
  /** Told when the image could not be used (the store is then made by initdb). */
  onImageFailed?: (err: unknown) => void;
}

/**
 * The embedded driver: PGlite (PostgreSQL compiled to WebAssembly) in this process, its files in
 * `dataDir` (or in memory when `dataDir` is undefined). One connection: transactions run one at
 * a time, which is what makes `FOR UPDATE SKIP LOCKED` trivially correct here.
 */
export async function openPgliteDriver(
  dataDir: string | undefined,
  options: PgliteDriverOptions = {},
): Promise<SqlDriver> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  let initdb = dataDir === undefined || !hasPgData(dataDir);
  if (initdb && dataDir !== undefined && options.image !== undefined && existsSync(options.image)) {
    options.onStep?.('unpacking');
    try {
      await unpackPgImage(options.image, dataDir);
      initdb = false;
    } catch (err) {
      options.onImageFailed?.(err);
      mkdirSync(dataDir, { recursive: true });
    }
  }
  options.onStep?.(initdb ? 'initdb' : 'opening');
  const create = () =>
    PGlite.create({
      ...(dataDir === undefined ? {} : { dataDir }),
      parsers: PARSERS,
      serializers: SERIALIZERS,
      ...(options.profile === 'light' ? { startParams: [...PGlite.defaultStartParams, ...lightStartParams()] } : {}),
    });
  let db: PGlite;
  try {
    db = options.profile === 'light' ? await withBaselineWasm(create) : await create();
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
    notifications: pgliteNotifications(db),
    close: () => db.close(),
  };
}

/**
 * LISTEN/NOTIFY inside PGlite: its `listen` hears what this process's transactions notify, once
 * they commit, like a PostgreSQL server would. The store is one process's, so its channels need no
 * schema prefix; they are plain lower-case identifiers (PGlite's `unlisten` does not quote names).
 */
function pgliteNotifications(db: PGlite): SqlNotifications {
  return {
    channel: (name) => `tessera_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`,
    listen: async (channel, fn) => {
      const off = await db.listen(channel, fn);
      return async () => {
        if (!db.closed) await off();
      };
    },
    // One process, no connection to lose.
    onDidResubscribe: () => () => undefined,
    pid: undefined,
  };
}

/**
 * Runs `create` with PGlite's WebAssembly compiled by V8's baseline compiler only (Liftoff, no
 * tier-up to TurboFan). The flag is read when a module is compiled, so it is set around PGlite's
 * compile and restored after: the module keeps baseline code for good, other modules compiled
 * later are untouched. PostgreSQL's hot paths optimised by TurboFan cost ~80 MB of code in
 * this process; a practice market's few queries a second do not need them, and on 2 cores the
 * start is faster without the background compile (measured: docs/PERFORMANCE.md, "Memory and
 * the first minute"). Where the flag cannot be set, or the baseline compiler refuses the
 * module, PGlite starts as usual.
 */
async function withBaselineWasm(create: () => Promise<PGlite>): Promise<PGlite> {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('liftoff-only'));
  if (given || !setV8Flag('--liftoff-only')) return create();
  try {
    return await create();
  } catch {
    setV8Flag('--no-liftoff-only');
    return create();
  } finally {
    setV8Flag('--no-liftoff-only');
  }
}

function setV8Flag(flag: string): boolean {
  try {
    setFlagsFromString(flag);
    return true;
  } catch {
    return false;
  }
}

function lightStartParams(): string[] {
  return Object.entries(LIGHT_PGLITE_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
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
