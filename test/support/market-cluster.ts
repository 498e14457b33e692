/**
 * Several `tessera market --store postgres://…` instances on one fresh PostgreSQL database, each
 * a separate OS process on its own port: the harness of the cluster e2e test and of
 * `npm run bench:market -- --instances …`.
 *
 * The database is made for the cluster (`tessera_cluster_<random>`) and dropped by `stop()`, so
 * its `pg_stat_database` row and its backends (`pg_stat_activity.datname`) belong to the cluster
 * alone. It is migrated once here, before any instance starts. Each instance is ready when it
 * prints its "market listening on" line. With `watch`, statement-level triggers on the tables that
 * record progress send a NOTIFY per change, and `waitFor` re-reads the store on each one: the test
 * waits on what the instances commit, not on a timer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { systemClock } from '../../src/node/clock.js';
import { CustomerService } from '../../src/market/services/customer-service.js';
import { openMarketStore, type MarketStore } from '../../src/market/store/market-store.js';
import { root, tsxLoader } from '../cli/run.js';
import { freePort, tail } from '../e2e/tessera-process.js';

/** The line `tessera market` prints once it accepts connections. */
const LISTENING = /market listening on (http:\/\/\S+)/;
/** The NOTIFY channel the `watch` triggers send on. */
const CHANGE_CHANNEL = 'tessera_cluster_change';
/** Tables whose changes wake `waitFor` (statement-level triggers: one NOTIFY per statement at most). */
const WATCHED = ['tasks', 'jobs', 'market_receipts', 'postings', 'batches', 'job_results'] as const;

export interface MarketInstance {
  readonly index: number;
  readonly base: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  alive(): boolean;
  stdout(): string;
  stderr(): string;
}

export interface MarketClusterOptions {
  /** A PostgreSQL URL with rights to create databases (TESSERA_TEST_PG_URL). */
  pgUrl: string;
  instances: number;
  /** Extra arguments for every `tessera market` (e.g. ['--verify-fraction', '1']). */
  marketArgs?: readonly string[];
  /** Install the change triggers `waitFor` listens to (off for benchmarks: they cost a NOTIFY per statement). */
  watch?: boolean;
  /** How long one instance may take to print its listening line (default 60 s). */
  startTimeoutMs?: number;
  /** Extra Node.js options for every instance (e.g. ['--cpu-prof', '--cpu-prof-dir=DIR'] for a CPU profile written at exit). */
  nodeArgs?: readonly string[];
}

export interface MarketCluster {
  /** The cluster's own database and the URL every instance was given. */
  readonly database: string;
  readonly url: string;
  readonly instances: readonly MarketInstance[];
  /** The live instances' pids (for CPU from /proc/<pid>/stat). */
  pids(): number[];
  /** Sends `signal` to instance `i` and resolves when it has exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** A customer made and funded in the cluster's store (amount in micro-CPC). */
  addCustomer(name: string, amount: bigint): Promise<{ apiKey: string; customerId: string }>;
  /** One query on the cluster's database. */
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /**
   * Resolves with `read()`'s value once `pred` holds: read once now and again after each change
   * the triggers report (needs `watch`); rejects after `ms` with the last value.
   */
  waitFor<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean, ms: number): Promise<T>;
  /** SIGTERM to every instance still running (SIGKILL after 10 s), then drops the database and the data dirs. */
  stop(): Promise<void>;
}

/** The same server URL naming another database (the path is the database; the query, e.g. ?host=, is kept). */
export function withDatabase(url: string, database: string): string {
  const m = /^(postgres(?:ql)?:\/\/[^/?#]*)(\/[^?#]*)?(.*)$/.exec(url);
  if (!m) throw new Error(`not a PostgreSQL URL: "${url}" (expected postgres://user@host/db)`);
  return `${m[1]}/${database}${m[3] ?? ''}`;
}

/** CPU time of a process so far, ms (utime + stime from /proc/<pid>/stat); undefined once it is gone. */
export function cpuMsOf(pid: number, ticksPerS = 100): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state (field 3): utime is 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / ticksPerS;
  } catch {
    return undefined;
  }
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

interface Spawned {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<void>;
}

function spawnMarket(args: string[], nodeArgs: readonly string[] = []): Spawned {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', tsxLoader, `${root}/src/cli/bin.ts`, 'market', ...args],
    {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, out: () => out, err: () => err, exit };
}

/** Resolves with the listening URL, or rejects when the process exits first or after `ms`. */
function listening(s: Spawned, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = LISTENING.exec(s.out());
      if (m) {
        done();
        resolve(m[1] as string);
      }
    };
    const onExit = () => {
      done();
      reject(new Error(`tessera market exited before listening: ${tail(s.err(), 600)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`tessera market printed no listening line within ${ms} ms: ${tail(s.err(), 600)}`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      s.child.stdout?.off('data', check);
      s.child.off('exit', onExit);
    };
    s.child.stdout?.on('data', check);
    s.child.once('exit', onExit);
    check();
  });
}

/** Starts `opts.instances` market processes on a fresh database; `stop()` removes all of it. */
export async function startMarketCluster(opts: MarketClusterOptions): Promise<MarketCluster> {
  const database = `tessera_cluster_${randomBytes(6).toString('hex')}`;
  const url = withDatabase(opts.pgUrl, database);
  await admin(opts.pgUrl, (c) => c.query(`CREATE DATABASE ${database}`));
  const dir = join(tmpdir(), database);
  mkdirSync(dir, { recursive: true });
  const spawned: Spawned[] = [];
  const instances: MarketInstance[] = [];
  let listener: pg.Client | undefined;
  let db: pg.Pool | undefined;
  let store: MarketStore | undefined;
  const wakers = new Set<() => void>();

  const stop = async () => {
    await Promise.all(
      spawned.map(async (s) => {
        if (s.child.exitCode !== null || s.child.signalCode !== null) return;
        s.child.kill('SIGTERM');
        const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
        await s.exit;
        clearTimeout(timer);
      }),
    );
    await listener?.end().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await db?.end().catch(() => undefined);
    await admin(opts.pgUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // Migrated once, here: instances then start on a ready schema (the customers are made through it too).
    store = await openMarketStore({ dataDir: join(dir, 'setup'), url });
    const customers = new CustomerService({ store, clock: systemClock });
    db = new pg.Pool({ connectionString: url, max: 4 });
    if (opts.watch) {
      await db.query(`CREATE FUNCTION tessera_cluster_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('${CHANGE_CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$`);
      for (const t of WATCHED)
        await db.query(
          `CREATE TRIGGER ${t}_cluster_notify AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION tessera_cluster_notify()`,
        );
      listener = new pg.Client({ connectionString: url });
      await listener.connect();
      listener.on('notification', () => {
        for (const w of wakers) w();
      });
      await listener.query(`LISTEN ${CHANGE_CHANNEL}`);
    }

    // Started together; each is ready when it prints its listening line.
    const startOne = async (i: number): Promise<MarketInstance> => {
      const dataDir = join(dir, `market-${i}`);
      // A port free a moment ago may be taken before the instance binds it (`--port` takes no 0): another try then.
      for (let attempt = 1; ; attempt++) {
        const port = await freePort();
        const s = spawnMarket(
          ['--port', String(port), '--data-dir', dataDir, '--store', url, ...(opts.marketArgs ?? [])],
          opts.nodeArgs,
        );
        spawned.push(s);
        try {
          const base = await listening(s, opts.startTimeoutMs ?? 60_000);
          return {
            index: i,
            base,
            pid: s.child.pid as number,
            dataDir,
            child: s.child,
            alive: () => s.child.exitCode === null && s.child.signalCode === null,
            stdout: s.out,
            stderr: s.err,
          };
        } catch (err) {
          if (attempt < 3 && /is in use/.test(s.err())) continue;
          throw err;
        }
      }
    };
    instances.push(...(await Promise.all(Array.from({ length: opts.instances }, (_, i) => startOne(i)))));
    const pool = db;
    return {
      database,
      url,
      instances,
      pids: () => instances.filter((x) => x.alive()).map((x) => x.pid),
      async kill(i, signal = 'SIGKILL') {
        const s = spawned.find((x) => x.child === instances[i]?.child);
        if (!s) throw new Error(`no market instance ${i} (the cluster has ${instances.length})`);
        if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
        await s.exit;
      },
      async addCustomer(name, amount) {
        const { customer, apiKey } = await customers.add(name);
        await customers.fund(name, amount);
        return { apiKey, customerId: customer.customerId };
      },
      query: async <T extends pg.QueryResultRow>(text: string, values?: unknown[]) =>
        (await pool.query<T>(text, values)).rows,
      waitFor<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean, ms: number): Promise<T> {
        if (!opts.watch) return Promise.reject(new Error('waitFor needs a cluster started with watch: true'));
        return new Promise<T>((resolve, reject) => {
          let last: T | undefined;
          let reading = false;
          let again = false;
          let settled = false;
          const finish = (fn: () => void) => {
            settled = true;
            clearTimeout(timer);
            wakers.delete(wake);
            fn();
          };
          const wake = () => {
            if (settled) return;
            if (reading) {
              again = true;
              return;
            }
            reading = true;
            read().then(
              (v) => {
                reading = false;
                last = v;
                if (pred(v)) finish(() => resolve(v));
                else if (again) {
                  again = false;
                  wake();
                }
              },
              (err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))),
            );
          };
          const timer = setTimeout(
            () =>
              finish(() =>
                reject(
                  new Error(
                    `timed out after ${ms} ms waiting for ${what}; last value ${JSON.stringify(last, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
                  ),
                ),
              ),
            ms,
          );
          wakers.add(wake);
          wake();
        });
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
