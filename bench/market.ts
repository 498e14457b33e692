/**
 * The market under load (issue 9, "Benchmark"): the market (HTTP API, validator, provider socket,
 * store) runs in a child process; this process runs N simulated providers — lightweight
 * WebSocket clients on loopback, each with its own Ed25519 key, answering the challenge,
 * announcing capabilities, heartbeating and returning correctly signed results whose plain and
 * keyed BLAKE3 are computed with the real hasher — and a funded customer posting tasks over HTTP.
 *
 * Per (store, N): a saturated phase (the customer keeps a backlog: jobs/s is the market's
 * capacity), a steady phase at half that rate (latencies), and a settlement burst (every provider
 * holds its results until all K jobs are assigned, then all are sent at once: receipts/s, end to
 * end and inside the group commits' transactions), with every row that settlement wrote written
 * again by plain batched INSERTs and UPDATEs into the same store as the reference. The saturated
 * window opens after the warm-up and the phase's first receipt, so a slow start (a deep backlog
 * on a large N) is not counted as a rate of zero.
 *
 * Usage: npm run bench:market -- [--quick] [--seed S] [--providers 10,200] [--stores pglite,postgres]
 *   [--pglite-memory] (also PGlite without files) [--profile DIR] (CPU profile of the market process)
 *   npm run bench:market -- --instances 1,2,3 [--pg URL]: several market processes on one PostgreSQL
 *   against a bare PostgreSQL queue (bench/market-cluster.ts).
 * PostgreSQL too when TESSERA_TEST_PG_URL is set (a fresh schema per run, dropped after). Store
 * transactions and statements are counted by wrapping the driver in the market process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Blake3Hasher } from '../src/core/hash/hasher.js';
import { toHex, utf8 } from '../src/core/hex.js';
import { sinkLogger } from '../src/node/log.js';
import { loadBlake3, nodeSha256 } from '../src/node/hash/node-hasher.js';
import { createMarketServer } from '../src/market/market-server.js';
import type { PgRow, SqlDriver } from '../src/market/store/driver.js';
import { MarketStore } from '../src/market/store/market-store.js';
import { openPgDriver } from '../src/market/store/pg-driver.js';
import { openPgliteDriver } from '../src/market/store/pglite-driver.js';
import { sql, type PgQuery } from '../src/market/store/sql.js';
import { attachValidator } from '../src/market/validator/attach.js';
import { machine } from './common.js';
import { seededRandom } from '../test/support/data.js';
import { Customer, Recorder, SimProvider } from './market-sim.js';

// ── the market process ──────────────────────────────────────────────────────

interface ServeArgs {
  /** pglite-memory: PGlite without files (a diagnostic: separates file I/O from the engine's own cost). */
  store: 'pglite' | 'pglite-memory' | 'postgres';
  dir: string;
  pgUrl?: string;
  schema?: string;
}

type ToChild =
  | { type: 'kick' }
  | { type: 'baseline'; since: number }
  | { type: 'stats' }
  | { type: 'settle-stats' }
  | { type: 'close' };
type FromChild =
  | { type: 'ready'; base: string; apiKey: string }
  | { type: 'baseline'; receipts: number; rows: number; groups: number; batch: number; ms: number }
  | { type: 'settle-stats'; commits: number; results: number; receipts: number; ms: number }
  | { type: 'stats'; transactions: number; queries: number; byText: [string, number][] }
  | { type: 'closed'; errors: number };

/**
 * The driver with a count of its transactions and statements (the bench's view of what the market
 * asks of its store), also per statement text (the first 100 characters, whitespace folded).
 */
function countingDriver(
  d: SqlDriver,
): SqlDriver & { stats: { transactions: number; queries: number; byText: Map<string, number> } } {
  const stats = { transactions: 0, queries: 0, byText: new Map<string, number>() };
  return {
    kind: d.kind,
    location: d.location,
    stats,
    transaction(fn) {
      stats.transactions++;
      return d.transaction((c) =>
        fn({
          query(q) {
            stats.queries++;
            const text = q.strings.join('$').replace(/\s+/g, ' ').trim().slice(0, 100);
            stats.byText.set(text, (stats.byText.get(text) ?? 0) + 1);
            return c.query(q);
          },
          exec: (text) => c.exec(text),
        }),
      );
    },
    ...(d.query
      ? {
          query: <R extends PgRow>(q: PgQuery) => {
            stats.queries++;
            const text = q.strings.join('$').replace(/\s+/g, ' ').trim().slice(0, 100);
            stats.byText.set(text, (stats.byText.get(text) ?? 0) + 1);
            return (d.query as NonNullable<SqlDriver['query']>)<R>(q);
          },
        }
      : {}),
    close: () => d.close(),
  };
}

/** The market as `tessera market` assembles it (default validator config), plus the bench's IPC. */
async function serve(args: ServeArgs): Promise<void> {
  const send = (m: FromChild) => process.send?.(m);
  const blake3 = await loadBlake3();
  const clock = { now: () => Date.now() };
  const driver = countingDriver(
    args.store !== 'postgres'
      ? await openPgliteDriver(args.store === 'pglite' ? join(args.dir, 'store') : undefined)
      : await openPgDriver(args.pgUrl as string, { schema: args.schema as string }),
  );
  const store = await MarketStore.open(driver);
  const server = await createMarketServer({ store, clock, blake3, dataDir: args.dir, processMetrics: false });
  let errors = 0;
  const validator = await attachValidator({
    app: server.app,
    store,
    clock,
    blake3,
    sha256: nodeSha256,
    logger: sinkLogger((r) => {
      if (r.level === 'error' && errors++ < 5) console.error(`market ${r.msg}: ${String(r.error)}`);
    }),
  });
  const base = await server.listen('127.0.0.1', 0);
  const { apiKey } = await server.customers.add('bench');
  await server.customers.fund('bench', 10n ** 15n);
  process.on('message', (m: ToChild) => {
    if (m.type === 'kick') validator.kick();
    else if (m.type === 'stats')
      send({
        type: 'stats',
        transactions: driver.stats.transactions,
        queries: driver.stats.queries,
        byText: [...driver.stats.byText],
      });
    else if (m.type === 'settle-stats') send({ type: 'settle-stats', ...validator.settleStats });
    else if (m.type === 'baseline') void baseline(driver, m.since).then(send);
    else if (m.type === 'close') {
      void (async () => {
        await validator.close();
        await server.close();
        await store.close();
        send({ type: 'closed', errors });
        process.disconnect();
      })();
    }
  });
  send({ type: 'ready', base, apiKey });
}

/**
 * The reference for settlement: every row the burst's settlement wrote, written again with plain
 * batched statements in transactions of the settlement's mean group-commit size — the receipt,
 * result and nonce rows and the postings as multi-row INSERTs (new keys), and the job, lease,
 * task, escrow and account rows it changed as one multi-row UPDATE each (to the same values).
 * Receipts of one group commit share its `created_at`, so the distinct values count the group
 * commits (two in the same millisecond count as one).
 */
async function baseline(driver: SqlDriver, since: number): Promise<FromChild> {
  type Any = Record<string, unknown>;
  const read = (q: PgQuery) => driver.transaction((c) => c.query<Any>(q));
  const receipts = await read(
    sql`SELECT idempotency_key, job_id, task_id, provider, receipt, created_at FROM market_receipts WHERE created_at >= ${since} ORDER BY created_at, idempotency_key`,
  );
  const taskIds = JSON.stringify([...new Set(receipts.map((r) => r.task_id as string))]);
  const tasks = sql`(SELECT jsonb_array_elements_text(${taskIds}::jsonb)::uuid)`;
  const results = await read(
    sql`SELECT job_id, task_id, worker_address, epoch, verdict, result_hash, settled_hash, checked, result, received_at FROM job_results WHERE task_id IN ${tasks} ORDER BY seq`,
  );
  const nonces = await read(
    sql`SELECT worker_address, nonce::text AS nonce, seen_at FROM result_nonces WHERE seen_at >= ${since} ORDER BY seen_at`,
  );
  const postings = await read(
    sql`SELECT event_id, account_id, amount, memo, created_at FROM postings WHERE created_at >= ${since} ORDER BY seq`,
  );
  const jobs = await read(sql`SELECT job_id, status, result_hash, updated_at FROM jobs WHERE task_id IN ${tasks}`);
  const leases = await read(
    sql`SELECT l.job_id, l.lease, l.updated_at FROM job_leases l JOIN jobs j ON j.job_id = l.job_id WHERE j.task_id IN ${tasks}`,
  );
  const taskRows = await read(
    sql`SELECT task_id, status, result_hash, worker_address, completed_at, updated_at FROM tasks WHERE task_id IN ${tasks}`,
  );
  const escrows = await read(sql`SELECT task_id, status, settled_at FROM escrows WHERE task_id IN ${tasks}`);
  const accounts = await read(
    sql`SELECT account_id, balance FROM accounts WHERE account_id IN (SELECT DISTINCT account_id FROM postings WHERE created_at >= ${since})`,
  );
  const groups = Math.max(1, new Set(receipts.map((r) => r.created_at)).size);
  const batch = Math.max(1, Math.round(receipts.length / groups));
  const parts = Math.max(1, Math.ceil(receipts.length / batch));
  const part = <T>(xs: readonly T[], i: number) =>
    xs.slice(Math.floor((i * xs.length) / parts), Math.floor(((i + 1) * xs.length) / parts));
  const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  const values = (rows: readonly Any[], row: (r: Any) => PgQuery): PgQuery | undefined =>
    rows.reduce<PgQuery | undefined>((q, r) => (q ? sql`${q}, ${row(r)}` : row(r)), undefined);
  const now = Date.now();
  const t0 = performance.now();
  for (let i = 0; i < parts; i++) {
    await driver.transaction(async (c) => {
      const run = async (rows: readonly Any[], head: (v: PgQuery) => PgQuery, row: (r: Any) => PgQuery) => {
        const v = values(rows, row);
        if (v) await c.query(head(v));
      };
      await run(
        part(nonces, i),
        (v) => sql`INSERT INTO result_nonces (worker_address, nonce, seen_at) VALUES ${v}`,
        (r) => sql`(${`copy-${r.worker_address as string}`}, ${r.nonce as string}::numeric, ${now})`,
      );
      await run(
        part(results, i),
        (v) =>
          sql`INSERT INTO job_results (job_id, task_id, worker_address, epoch, verdict, result_hash, settled_hash, checked, result, received_at) VALUES ${v}`,
        (r) =>
          sql`(${r.job_id as string}::uuid, ${r.task_id as string}::uuid, ${r.worker_address as string}, ${r.epoch as number}, ${r.verdict as string}, ${r.result_hash as string}, ${r.settled_hash as string}, ${r.checked as boolean}, ${json(r.result)}::jsonb, ${now})`,
      );
      await run(
        part(postings, i),
        (v) => sql`INSERT INTO postings (event_id, account_id, amount, memo, created_at) VALUES ${v}`,
        (r) =>
          sql`(${`copy-${r.event_id as string}`}, ${r.account_id as string}, ${String(r.amount)}::bigint, ${r.memo as string}, ${now})`,
      );
      await run(
        part(receipts, i),
        (v) =>
          sql`INSERT INTO market_receipts (idempotency_key, job_id, task_id, provider, receipt, created_at) VALUES ${v}`,
        (r) =>
          sql`(${`copy-${r.idempotency_key as string}`}, ${r.job_id as string}::uuid, ${r.task_id as string}::uuid, ${r.provider as string}, ${json(r.receipt)}::jsonb, ${now})`,
      );
      await run(
        part(jobs, i),
        (v) =>
          sql`UPDATE jobs j SET status = v.status, result_hash = v.result_hash, lease_owner = NULL, lease_until = NULL, updated_at = v.updated_at FROM (VALUES ${v}) AS v(job_id, status, result_hash, updated_at) WHERE j.job_id = v.job_id`,
        (r) =>
          sql`(${r.job_id as string}::uuid, ${r.status as string}, ${r.result_hash as string | null}, ${String(r.updated_at)}::bigint)`,
      );
      await run(
        part(leases, i),
        (v) =>
          sql`UPDATE job_leases l SET lease = v.lease, updated_at = v.updated_at FROM (VALUES ${v}) AS v(job_id, lease, updated_at) WHERE l.job_id = v.job_id`,
        (r) => sql`(${r.job_id as string}::uuid, ${json(r.lease)}::jsonb, ${String(r.updated_at)}::bigint)`,
      );
      await run(
        part(taskRows, i),
        (v) =>
          sql`UPDATE tasks t SET status = v.status, result_hash = v.result_hash, worker_address = v.worker_address, completed_at = v.completed_at, updated_at = v.updated_at FROM (VALUES ${v}) AS v(task_id, status, result_hash, worker_address, completed_at, updated_at) WHERE t.task_id = v.task_id`,
        (r) =>
          sql`(${r.task_id as string}::uuid, ${r.status as string}, ${r.result_hash as string | null}, ${r.worker_address as string | null}, ${r.completed_at === null ? null : String(r.completed_at)}::bigint, ${String(r.updated_at)}::bigint)`,
      );
      await run(
        part(escrows, i),
        (v) =>
          sql`UPDATE escrows e SET status = v.status, settled_at = v.settled_at FROM (VALUES ${v}) AS v(task_id, status, settled_at) WHERE e.task_id = v.task_id`,
        (r) =>
          sql`(${r.task_id as string}::uuid, ${r.status as string}, ${r.settled_at === null ? null : String(r.settled_at)}::bigint)`,
      );
      // Every group commit moves each account it touches: the reference moves them all in each transaction too.
      await run(
        accounts,
        (v) =>
          sql`UPDATE accounts a SET balance = v.balance FROM (VALUES ${v}) AS v(account_id, balance) WHERE a.account_id = v.account_id`,
        (r) => sql`(${r.account_id as string}, ${String(r.balance)}::bigint)`,
      );
    });
  }
  const rows =
    nonces.length +
    results.length +
    postings.length +
    receipts.length +
    jobs.length +
    leases.length +
    taskRows.length +
    escrows.length +
    accounts.length * parts;
  return { type: 'baseline', receipts: receipts.length, rows, groups, batch, ms: performance.now() - t0 };
}

/** The statements run between two counts, per completed job, most frequent first (`--statements`). */
function printStatements(before: [string, number][], after: [string, number][], jobs: number): void {
  const b = new Map(before);
  const rows = after
    .map(([text, n]) => [text, (n - (b.get(text) ?? 0)) / jobs] as const)
    .filter(([, x]) => x > 0)
    .sort((x, y) => y[1] - x[1]);
  console.log(`  statements per job (${jobs} jobs):`);
  for (const [text, x] of rows.slice(0, 40)) console.log(`    ${x.toFixed(2).padStart(6)}  ${text}`);
}

// ── one run: a store and N providers ────────────────────────────────────────

interface Phase {
  load: string;
  jobsPerS: number;
  /** Store transactions per completed job over the phase (heartbeats and failed lease attempts included). */
  txPerJob: number;
  queriesPerJob: number;
  assign: number[];
  receipt: number[];
}

interface RunResult {
  store: string;
  n: number;
  phases: Phase[];
  rssPeakMb: number;
  /** perS: end to end (results sent → receipts received); storePerS: inside the group commits' transactions; baselinePerS: the same rows written plainly, in receipts/s. */
  burst: {
    receipts: number;
    perS: number;
    storePerS: number;
    groups: number;
    batch: number;
    rowsPerReceipt: number;
    baselinePerS: number;
  };
  connectMs: number;
  connectTx: number;
  /** Wall time of each part of the run. */
  marks: string[];
  rejected: number;
  firstReject: string;
  marketErrors: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, pred: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Timing {
  warmMs: number;
  saturatedMs: number;
  steadyMs: number;
  burst: number;
}

async function runOne(
  storeLabel: string,
  serveArgs: ServeArgs,
  n: number,
  seed: number,
  t: Timing,
  blake3: Blake3Hasher,
  profileDir: string | undefined,
): Promise<RunResult> {
  const execArgv = profileDir ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${profileDir}`] : process.execArgv;
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', JSON.stringify(serveArgs)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: FromChild[] = [];
  child.on('message', (m: FromChild) => inbox.push(m));
  const next = async <K extends FromChild['type']>(type: K, ms = 120_000): Promise<Extract<FromChild, { type: K }>> => {
    await waitFor(`the market's "${type}"`, () => inbox.some((m) => m.type === type) || child.exitCode !== null, ms);
    const i = inbox.findIndex((m) => m.type === type);
    if (i < 0) throw new Error(`the market process exited (${child.exitCode}) before "${type}"`);
    return inbox.splice(i, 1)[0] as Extract<FromChild, { type: K }>;
  };
  const pid = child.pid as number;
  const storeStats = async () => {
    child.send({ type: 'stats' } satisfies ToChild);
    return next('stats');
  };
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(pid, 'VmRSS') || 0)), 100);
  const rec = new Recorder();
  const providers: SimProvider[] = [];
  const customers: Customer[] = [];
  try {
    const { base, apiKey } = await next('ready');
    const customer = new Customer(base, apiKey, rec);
    customers.push(customer);
    const rand = seededRandom(seed + n); // the bench's one seeded source of randomness (provider keys)
    for (let i = 0; i < n; i++)
      providers.push(
        new SimProvider(
          Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)),
          blake3,
          rec,
        ),
      );
    const connect0 = await storeStats();
    const tc = performance.now();
    for (let i = 0; i < n; i += 25) await Promise.all(providers.slice(i, i + 25).map((p) => p.connect(base)));
    const connectMs = performance.now() - tc;
    const marks: string[] = [];
    let mark = performance.now();
    const lap = (what: string) => {
      const t = performance.now();
      marks.push(`${what} ${((t - mark) / 1000).toFixed(1)} s`);
      mark = t;
    };
    const connectTx = (await storeStats()).transactions - connect0.transactions;
    const slots = n * 2;

    // Saturated: the customer keeps 2 tasks per job slot open (posted, receipt not yet received).
    const phases: Phase[] = [];
    {
      const st0 = await storeStats();
      const done0 = rec.receiptTimes.length;
      const backlog = Math.max(40, 2 * slots);
      const start = performance.now();
      // The window opens after the warm-up once the pipeline is full (the phase's first receipt), at most 60 s in.
      let from = Infinity;
      let end = Infinity;
      const poster = async () => {
        while (performance.now() < end) {
          if (rec.outstanding >= backlog) await sleep(1);
          else await customer.post();
          const now = performance.now();
          if (
            from === Infinity &&
            now >= start + t.warmMs &&
            (rec.receiptTimes.length > done0 || now >= start + 60_000)
          ) {
            from = now;
            end = from + t.saturatedMs;
          }
          if (!rec.recording && now >= from) rec.recording = true;
        }
      };
      await Promise.all(Array.from({ length: 8 }, poster));
      rec.recording = false;
      const done = rec.receiptTimes.filter((x) => x >= from && x < end).length;
      await waitFor('the saturated phase to drain', () => rec.outstanding === 0, 60_000);
      const st1 = await storeStats();
      const jobs = Math.max(1, rec.receiptTimes.length - done0);
      const txPerJob = (st1.transactions - st0.transactions) / jobs;
      const queriesPerJob = (st1.queries - st0.queries) / jobs;
      if (process.argv.includes('--statements')) printStatements(st0.byText, st1.byText, jobs);
      lap('saturated');
      phases.push({
        load: `saturated (backlog ${backlog})`,
        jobsPerS: done / (t.saturatedMs / 1000),
        txPerJob,
        queriesPerJob,
        assign: rec.assign,
        receipt: rec.receipt,
      });
    }
    // Steady: an open-loop stream at half the saturated rate.
    {
      const st0 = await storeStats();
      const done0 = rec.receiptTimes.length;
      rec.assign = [];
      rec.receipt = [];
      const rate = Math.max(1, Math.floor((phases[0] as Phase).jobsPerS / 2));
      const start = performance.now();
      const from = start + t.warmMs;
      const end = from + t.steadyMs;
      let posted = 0;
      const inflight = new Set<Promise<unknown>>();
      while (performance.now() < end) {
        const now = performance.now();
        rec.recording = now >= from;
        const due = Math.floor(((now - start) * rate) / 1000);
        while (posted < due && inflight.size < 64) {
          posted++;
          const p = customer.post().finally(() => inflight.delete(p));
          inflight.add(p);
        }
        await sleep(2);
      }
      await Promise.all(inflight);
      await waitFor(`the steady phase to drain (${rec.outstanding} outstanding)`, () => rec.outstanding === 0, 60_000);
      rec.recording = false;
      const done = rec.receiptTimes.filter((x) => x >= from && x < end).length;
      const st1 = await storeStats();
      const jobs = Math.max(1, rec.receiptTimes.length - done0);
      const txPerJob = (st1.transactions - st0.transactions) / jobs;
      const queriesPerJob = (st1.queries - st0.queries) / jobs;
      lap('steady');
      phases.push({
        load: `steady ${rate} tasks/s`,
        jobsPerS: done / (t.steadyMs / 1000),
        txPerJob,
        queriesPerJob,
        assign: rec.assign,
        receipt: rec.receipt,
      });
    }
    // Settlement burst: K jobs assigned and held, then every result sent at once.
    const k = t.burst;
    for (const p of providers) {
      p.hold = true;
      p.maxJobs = Math.ceil(k / n);
      p.sendCapabilities();
    }
    for (let i = 0; i < k; i += 16)
      await Promise.all(Array.from({ length: Math.min(16, k - i) }, () => customer.post()));
    const heldCount = () => providers.reduce((s, p) => s + p.held.length, 0);
    // Posting does not wake the dispatcher (only its 1 s sweep and provider frames do); the bench nudges it here, outside any measurement.
    await waitFor(
      `${k} jobs to be assigned`,
      () => {
        child.send({ type: 'kick' } satisfies ToChild);
        return heldCount() >= k;
      },
      120_000,
    );
    // Let the dispatch passes the set-up queued finish, so the burst measures settlement, not the set-up's backlog.
    await sleep(500);
    lap('burst set-up');
    const frames = providers.map((p) => ({ p, frames: p.held.map((j) => p.result(j)) }));
    child.send({ type: 'settle-stats' } satisfies ToChild);
    const s0 = await next('settle-stats');
    const before = rec.receiptTimes.length;
    const rejectedBefore = rec.rejected;
    const wallStart = Date.now();
    const t0 = performance.now();
    for (const { p, frames: fs } of frames) for (const f of fs) p.send(f);
    // A refused result gets no receipt: the burst ends when every result has a receipt or a refusal (or after 180 s).
    const settled = () => rec.receiptTimes.length - before;
    await waitFor('the burst receipts', () => settled() + rec.rejected - rejectedBefore >= k, 180_000).catch(
      (err: unknown) => console.error(`  ${err instanceof Error ? err.message : String(err)}`),
    );
    const burstS = (performance.now() - t0) / 1000;
    const burstReceipts = settled();
    lap('burst');
    child.send({ type: 'settle-stats' } satisfies ToChild);
    const s1 = await next('settle-stats');
    child.send({ type: 'baseline', since: wallStart } satisfies ToChild);
    const b = await next('baseline');
    rssPeak = Math.max(rssPeak, rssMb(pid, 'VmHWM') || 0);
    await Promise.all(providers.map((p) => p.close()));
    child.send({ type: 'close' } satisfies ToChild);
    const closed = await next('closed');
    lap('baseline and close');
    return {
      store: storeLabel,
      n,
      phases,
      rssPeakMb: rssPeak,
      burst: {
        receipts: burstReceipts,
        perS: burstReceipts / burstS,
        storePerS: (s1.receipts - s0.receipts) / ((s1.ms - s0.ms) / 1000),
        groups: b.groups,
        batch: b.batch,
        rowsPerReceipt: b.rows / Math.max(1, b.receipts),
        baselinePerS: b.receipts / (b.ms / 1000),
      },
      connectMs,
      connectTx,
      marks,
      rejected: rec.rejected,
      firstReject: rec.firstReject,
      marketErrors: closed.errors,
    };
  } finally {
    clearInterval(sampler);
    for (const c of customers) c.close();
    for (const p of providers) void p.close();
    if (child.exitCode === null) {
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
      if (child.exitCode === null) child.kill();
    }
  }
}

// ── main ────────────────────────────────────────────────────────────────────

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

const ms = (x: number) => (Number.isNaN(x) ? '—' : x < 10 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`);

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function phaseRows(r: RunResult): string[] {
  return r.phases.map(
    (p) =>
      `| ${r.store} | ${r.n} | ${p.load} | ${p.jobsPerS.toFixed(0)} | ${p.txPerJob.toFixed(1)} / ${p.queriesPerJob.toFixed(0)} | ${ms(quantile(p.assign, 0.5))} / ${ms(quantile(p.assign, 0.99))} | ${ms(quantile(p.receipt, 0.5))} / ${ms(quantile(p.receipt, 0.99))} | ${r.rssPeakMb.toFixed(0)} MB |`,
  );
}

function burstRow(r: RunResult): string {
  const b = r.burst;
  if (b.receipts === 0) return `| ${r.store} | ${r.n} | 0 of the burst settled | — | 0 | — | — | — | — |`;
  const ratio = (x: number) => `${(x / b.baselinePerS).toFixed(x / b.baselinePerS < 0.1 ? 3 : 2)}×`;
  return `| ${r.store} | ${r.n} | ${b.receipts} | ${b.groups} (≈ ${b.batch} per commit) | ${b.perS.toFixed(0)} | ${b.storePerS.toFixed(0)} | ${b.baselinePerS.toFixed(0)} (${b.rowsPerReceipt.toFixed(1)} rows each) | ${ratio(b.perS)} | ${ratio(b.storePerS)} |`;
}

function notesOf(r: RunResult): string {
  const notes = [
    `connect ${r.n} providers ${Math.round(r.connectMs)} ms, ${r.connectTx} store transactions`,
    r.marks.join(', '),
  ];
  if (r.rejected > 0) notes.push(`${r.rejected} results refused (first: ${r.firstReject})`);
  if (r.marketErrors > 0) notes.push(`${r.marketErrors} market errors`);
  return `${r.store} N=${r.n}: ${notes.join('; ')}`;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const seed = Number(flag('--seed') ?? process.env.SEED ?? 0x7e55e2a);
  const ns = (flag('--providers') ?? '10,200').split(',').map(Number);
  const profileDir = flag('--profile');
  const timing: Timing = quick
    ? { warmMs: 300, saturatedMs: 1500, steadyMs: 1500, burst: 200 }
    : { warmMs: 1000, saturatedMs: 15_000, steadyMs: 15_000, burst: 2000 };
  console.log(
    `bench:market${quick ? ' --quick' : ''} seed ${seed} (provider keys); ${machine()}; ${new Date().toISOString()}`,
  );
  const blake3 = await loadBlake3();
  const results: RunResult[] = [];
  const done = (r: RunResult) => {
    results.push(r);
    console.log(
      [
        `  ${r.store} N=${r.n} done (${((performance.now() - started) / 1000).toFixed(1)} s):`,
        ...phaseRows(r),
        burstRow(r),
        notesOf(r),
      ].join('\n    '),
    );
  };
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-market-'));
  try {
    const stores = (flag('--stores') ?? 'pglite,postgres').split(',');
    const embedded = (['pglite', 'pglite-memory'] as const).filter(
      (k) => stores.includes(k) || (k === 'pglite-memory' && process.argv.includes('--pglite-memory')),
    );
    for (const kind of embedded) {
      const label = kind === 'pglite' ? 'PGlite' : 'PGlite (in memory)';
      for (const n of ns) {
        done(await runOne(label, { store: kind, dir: join(dir, `${kind}-${n}`) }, n, seed, timing, blake3, profileDir));
      }
    }
    const url = process.env.TESSERA_TEST_PG_URL;
    if (url && stores.includes('postgres')) {
      const admin = new pg.Client({ connectionString: url });
      try {
        await admin.connect();
      } catch (err) {
        throw new Error(
          `TESSERA_TEST_PG_URL is set but PostgreSQL is not reachable (${err instanceof Error ? err.message : String(err)}); start the server or unset the variable`,
        );
      }
      const version = (
        (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? ''
      ).split(' ')[0];
      try {
        for (const n of ns) {
          const schema = `tessera_bench_${toHex(blake3.hash(utf8(`${seed}:${n}:${Date.now()}`))).slice(0, 12)}`;
          await admin.query(`CREATE SCHEMA ${schema}`);
          try {
            done(
              await runOne(
                `PostgreSQL ${version}`,
                { store: 'postgres', dir: join(dir, `pg-${n}`), pgUrl: url, schema },
                n,
                seed,
                timing,
                blake3,
                profileDir,
              ),
            );
          } finally {
            await admin.query(`DROP SCHEMA ${schema} CASCADE`);
          }
        }
      } finally {
        await admin.end();
      }
    } else {
      console.log('  (TESSERA_TEST_PG_URL not set: PostgreSQL skipped)');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('');
  console.log(
    '| store | N | load | jobs/s | store transactions / statements per job | ready → assigned p50 / p99 | result → receipt p50 / p99 | market RSS peak |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) for (const line of phaseRows(r)) console.log(line);
  console.log('');
  console.log(
    '| store | N | burst | group commits (≈) | settlement receipts/s, end to end | settlement receipts/s, in the store | the same rows written plainly, receipts/s | ratio, end to end | ratio, in the store |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) console.log(burstRow(r));
  console.log('');
  for (const r of results) console.log(notesOf(r));
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (results.some((r) => r.rejected > 0 || r.marketErrors > 0)) process.exitCode = 1;
}

if (process.argv[2] === '--serve') {
  serve(JSON.parse(process.argv[3] as string) as ServeArgs).catch((err: unknown) => {
    console.error(`market process failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
} else if (process.argv.includes('--instances')) {
  // Several market instances on one PostgreSQL: a bench of its own (bench/market-cluster.ts).
  import('./market-cluster.js')
    .then((m) => m.clusterMain())
    .catch((err: unknown) => {
      console.error(
        `bench:market --instances failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      process.exit(1);
    });
} else {
  main().catch((err: unknown) => {
    console.error(`bench:market failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
}
