/**
 * The market with several instances on one PostgreSQL (`npm run bench:market -- --instances 1,2,3`):
 * for each instance count, that many `tessera market --store postgres://…` processes on a fresh
 * database (test/support/market-cluster.ts), the bench's simulated providers spread across them
 * (provider k on instance k mod n) and the customers posting to all of them (the instance of each
 * post drawn from the seed). Measured per instance count:
 *
 * - saturated (the customer keeps a backlog): jobs/s; CPU ms per job of the market processes
 *   (/proc/<pid>/stat utime + stime) and of PostgreSQL (the backends serving the cluster's
 *   database, `pg_stat_activity.datname`, sampled every 200 ms); transactions per job
 *   (`pg_stat_database.xact_commit` of the database);
 * - steady (an open-loop stream at half that rate): ready → assigned p50 / p99, from the job's
 *   `jobs.created_at` (when the instance that split it committed it) to its job frame at the
 *   provider, for jobs posted to the provider's own instance and to another one; result → receipt
 *   p50 / p99, from a provider sending its result to the job's receipt reaching it.
 *
 * The reference, in the same run: a bare PostgreSQL queue in a database of its own — INSERT a job,
 * lease it (`UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`), mark it done; 10
 * workers — jobs/s and the CPU ms per job of its PostgreSQL backends and of its client.
 *
 * Usage: npm run bench:market -- --instances 1,2,3 [--pg URL] [--providers-total 6] [--customers 1] [--quick] [--no-analyze]
 *   [--seed S] [--profile DIR] (a CPU profile of each market process, written when it exits, under DIR/instances-N)
 * --customers N: that many funded customers, each post's customer drawn from the seed (default one,
 * whose funds and escrow rows every instance's posts and payouts then share).
 * PostgreSQL: --pg URL or TESSERA_TEST_PG_URL (rights to create databases; both are dropped after).
 * The PostgreSQL CPU counts only these backends: keep other load off the server for honest numbers.
 */
import pg from 'pg';
import { loadBlake3 } from '../src/node/hash/node-hasher.js';
import { seededRandom } from '../test/support/data.js';
import { cpuMsOf, startMarketCluster, withDatabase, type MarketCluster } from '../test/support/market-cluster.js';
import { machine } from './common.js';
import { Customer, Recorder, SimProvider } from './market-sim.js';

interface Timing {
  warmMs: number;
  saturatedMs: number;
  steadyMs: number;
}

/** What one measured window cost. */
interface Cost {
  jobs: number;
  seconds: number;
  marketCpuMs: number;
  pgCpuMs: number;
  clientCpuMs: number;
  xacts: number;
}

interface ClusterResult {
  instances: number;
  providers: number;
  jobsPerS: number;
  marketMsPerJob: number;
  pgMsPerJob: number;
  /** This process: the simulated customer and providers (HTTP posts, BLAKE3, Ed25519), on the same cores. */
  loadMsPerJob: number;
  txPerJob: number;
  same: number[];
  cross: number[];
  /** Steady phase: from a provider sending its result to the job's receipt reaching it (settle, pay, send). */
  settled: number[];
  steadyRate: number;
  errors: string[];
}

interface QueueResult {
  jobsPerS: number;
  pgMsPerJob: number;
  clientMsPerJob: number;
  txPerJob: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

const ms = (x: number) => (Number.isNaN(x) ? '—' : x < 10 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`);
const fixed = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');

/**
 * CPU of the backends serving one database, over a window: pids from pg_stat_activity every 200 ms,
 * each counted from its first sight (or from 0 when it appeared during the window) to its last.
 */
class BackendCpu {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly admin: pg.Client,
    private readonly database: string,
  ) {}

  private async sample(initial: boolean): Promise<void> {
    const rows = (
      await this.admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [this.database])
    ).rows;
    for (const { pid } of rows) {
      const cpu = cpuMsOf(pid);
      if (cpu === undefined) continue;
      if (!this.first.has(pid)) this.first.set(pid, initial ? cpu : 0);
      this.last.set(pid, cpu);
    }
  }

  async start(): Promise<void> {
    await this.sample(true);
    this.timer = setInterval(() => void this.sample(false).catch(() => undefined), 200);
  }

  async stop(): Promise<number> {
    clearInterval(this.timer);
    await this.sample(false);
    let total = 0;
    for (const [pid, last] of this.last) total += last - (this.first.get(pid) ?? 0);
    return total;
  }
}

async function xactCommit(admin: pg.Client, database: string): Promise<number> {
  const r = await admin.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1', [
    database,
  ]);
  return Number(r.rows[0]?.n ?? 0);
}

/** Measures `run` (which returns the jobs it completed): wall time, CPU of `pids`, of the database's backends and of this process, and commits. */
async function measure(
  admin: pg.Client,
  database: string,
  pids: readonly number[],
  run: () => Promise<number>,
): Promise<Cost> {
  const backends = new BackendCpu(admin, database);
  await backends.start();
  const x0 = await xactCommit(admin, database);
  const m0 = pids.reduce((s, p) => s + (cpuMsOf(p) ?? 0), 0);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const jobs = await run();
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const m1 = pids.reduce((s, p) => s + (cpuMsOf(p) ?? 0), 0);
  const pgCpuMs = await backends.stop();
  // pg_stat_database is fed by each backend at most once a second: a second's lag at both ends of a window cancels out.
  const x1 = await xactCommit(admin, database);
  return { jobs, seconds, marketCpuMs: m1 - m0, pgCpuMs, clientCpuMs: (c1.user + c1.system) / 1000, xacts: x1 - x0 };
}

/**
 * Whether the database is analysed after the warm-up (default; `--no-analyze`: not). The bench's
 * database is seconds old: statements prepared on its empty tables keep plans that scan them
 * whole until autovacuum's first ANALYZE (its naptime is a minute), which lands in some runs'
 * measured window and not in others'. A market's database that has run for a minute is analysed.
 */
const analyzeAfterWarmUp = !process.argv.includes('--no-analyze');

/** ANALYZE on the database at `url` (its statistics fresh, so prepared statements are planned again). */
async function analyze(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}

/** The reference: a bare job queue on PostgreSQL, 10 workers, in a database of its own. */
async function bareQueue(pgUrl: string, admin: pg.Client, t: Timing, seed: number): Promise<QueueResult> {
  const database = `tessera_queue_${(seed >>> 0).toString(16)}_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const url = withDatabase(pgUrl, database);
  const workers: pg.Client[] = [];
  try {
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query(`CREATE TABLE jobs (
      id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued',
      locked_by TEXT, created_at BIGINT NOT NULL, done_at BIGINT)`);
    await setup.query(`CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'queued'`);
    await setup.end();
    for (let i = 0; i < 10; i++) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      workers.push(c);
    }
    let done = 0;
    let stop = false;
    const work = async (c: pg.Client, w: number) => {
      while (!stop) {
        await c.query('INSERT INTO jobs (payload, created_at) VALUES ($1, $2)', [`job from worker ${w}`, Date.now()]);
        const leased = await c.query<{ id: string }>(
          `UPDATE jobs SET status = 'leased', locked_by = $1 WHERE id = (
             SELECT id FROM jobs WHERE status = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id`,
          [`w${w}`],
        );
        const id = leased.rows[0]?.id;
        if (id === undefined) continue;
        await c.query(`UPDATE jobs SET status = 'done', done_at = $2 WHERE id = $1`, [id, Date.now()]);
        done++;
      }
    };
    const running = workers.map((c, w) => work(c, w));
    await sleep(t.warmMs);
    if (analyzeAfterWarmUp) await analyze(url);
    const cost = await measure(admin, database, [], async () => {
      const d0 = done;
      await sleep(t.saturatedMs);
      return done - d0;
    });
    stop = true;
    await Promise.all(running);
    return {
      jobsPerS: cost.jobs / cost.seconds,
      pgMsPerJob: cost.pgCpuMs / cost.jobs,
      clientMsPerJob: cost.clientCpuMs / cost.jobs,
      txPerJob: cost.xacts / cost.jobs,
    };
  } finally {
    await Promise.all(workers.map((c) => c.end().catch(() => undefined)));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

/** One instance count: the cluster, the providers spread across it, a saturated then a steady phase. */
async function runCluster(
  pgUrl: string,
  admin: pg.Client,
  instances: number,
  providersTotal: number,
  customerCount: number,
  seed: number,
  t: Timing,
  profileDir: string | undefined,
): Promise<ClusterResult> {
  const blake3 = await loadBlake3();
  const cluster: MarketCluster = await startMarketCluster({
    pgUrl,
    instances,
    ...(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}/instances-${instances}`] } : {}),
  });
  const rec = new Recorder();
  const providers: SimProvider[] = [];
  const customers: Customer[] = [];
  try {
    // customers[c][i]: customer c posting through instance i.
    const byCustomer: Customer[][] = [];
    for (let c = 0; c < customerCount; c++) {
      const { apiKey } = await cluster.addCustomer(`bench-${c}`, 10n ** 15n);
      const through = cluster.instances.map((m) => new Customer(m.base, apiKey, rec));
      byCustomer.push(through);
      customers.push(...through);
    }
    const rand = seededRandom(seed + instances);
    // Which instance each task was posted to, and each job frame: its provider's instance and when it came.
    const postedTo = new Map<string, number>();
    const frames: { jobId: string; taskId: string; instance: number; at: number }[] = [];
    let recordFrames = false;
    for (let k = 0; k < providersTotal; k++) {
      const p = new SimProvider(
        Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)),
        blake3,
        rec,
      );
      const instance = k % instances;
      p.onJobFrame = (job, at) => {
        if (recordFrames) frames.push({ jobId: job.job_id, taskId: job.task_id, instance, at });
      };
      providers.push(p);
      await p.connect((cluster.instances[instance] as { base: string }).base);
    }
    const post = async () => {
      const i = Math.floor(rand() * instances);
      const c = customerCount > 1 ? Math.floor(rand() * customerCount) : 0;
      postedTo.set(await (byCustomer[c]?.[i] as Customer).post(), i);
    };

    // Saturated: 2 tasks open per job slot (each simulated provider takes 2 jobs at a time).
    const backlog = Math.max(40, 4 * providersTotal);
    let stopPosting = false;
    const poster = async () => {
      while (!stopPosting) {
        if (rec.outstanding >= backlog) await sleep(1);
        else await post();
      }
    };
    const posters = Array.from({ length: 8 }, poster);
    await sleep(t.warmMs);
    if (analyzeAfterWarmUp) await analyze(cluster.url);
    const saturated = await measure(admin, cluster.database, cluster.pids(), async () => {
      const r0 = rec.receiptTimes.length;
      await sleep(t.saturatedMs);
      return rec.receiptTimes.length - r0;
    });
    stopPosting = true;
    await Promise.all(posters);
    const drain = performance.now() + 60_000;
    while (rec.outstanding > 0 && performance.now() < drain) await sleep(10);

    // Steady: an open-loop stream at half the saturated rate; latencies of the jobs posted in the window.
    const jobsPerS = saturated.jobs / saturated.seconds;
    const rate = Math.max(2, Math.floor(jobsPerS / 2));
    recordFrames = true;
    rec.receipt = [];
    rec.recording = true;
    const start = performance.now();
    let posted = 0;
    const inflight = new Set<Promise<void>>();
    while (performance.now() < start + t.steadyMs) {
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      while (posted < due && inflight.size < 64) {
        posted++;
        const p = post().finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await sleep(2);
    }
    await Promise.all(inflight);
    const drain2 = performance.now() + 60_000;
    while (rec.outstanding > 0 && performance.now() < drain2) await sleep(10);
    recordFrames = false;
    rec.recording = false;
    const created = new Map<string, number>();
    const ids = frames.map((f) => f.jobId);
    for (let i = 0; i < ids.length; i += 1000) {
      const rows = await cluster.query<{ job_id: string; created_at: string }>(
        'SELECT job_id, created_at FROM jobs WHERE job_id = ANY($1::uuid[])',
        [ids.slice(i, i + 1000)],
      );
      for (const r of rows) created.set(r.job_id, Number(r.created_at));
    }
    const same: number[] = [];
    const cross: number[] = [];
    for (const f of frames) {
      const at = created.get(f.jobId);
      const to = postedTo.get(f.taskId);
      if (at === undefined || to === undefined) continue;
      (to === f.instance ? same : cross).push(f.at - at);
    }
    const errors = cluster.instances.flatMap((m) =>
      m
        .stderr()
        .split('\n')
        .filter((l) => /"level":"error"/.test(l))
        .map((l) => `instance ${m.index}: ${l.slice(0, 240)}`),
    );
    return {
      instances,
      providers: providersTotal,
      jobsPerS,
      marketMsPerJob: saturated.marketCpuMs / saturated.jobs,
      pgMsPerJob: saturated.pgCpuMs / saturated.jobs,
      loadMsPerJob: saturated.clientCpuMs / saturated.jobs,
      txPerJob: saturated.xacts / saturated.jobs,
      same,
      cross,
      settled: rec.receipt,
      steadyRate: rate,
      errors,
    };
  } finally {
    for (const c of customers) c.close();
    await Promise.all(providers.map((p) => p.close()));
    await cluster.stop();
  }
}

/** `bench:market --instances 1,2,3`. */
export async function clusterMain(): Promise<void> {
  const pgUrl = flag('--pg') ?? process.env.TESSERA_TEST_PG_URL;
  if (!pgUrl) {
    console.error(
      'bench:market --instances needs PostgreSQL: pass --pg postgres://user@host/db or set TESSERA_TEST_PG_URL (a role that may create databases)',
    );
    process.exitCode = 2;
    return;
  }
  const counts = (flag('--instances') ?? '1,2,3').split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) {
    console.error(`--instances must be a list of whole numbers from 1 to 16, e.g. 1,2,3; got "${flag('--instances')}"`);
    process.exitCode = 2;
    return;
  }
  const providersTotal = Number(flag('--providers-total') ?? 6);
  const customerCount = Number(flag('--customers') ?? 1);
  if (!Number.isInteger(customerCount) || customerCount < 1 || customerCount > 64) {
    console.error(`--customers must be a whole number from 1 to 64; got "${flag('--customers')}"`);
    process.exitCode = 2;
    return;
  }
  const quick = process.argv.includes('--quick');
  const profileDir = flag('--profile');
  const seed = Number(flag('--seed') ?? process.env.SEED ?? 0x7e55e2a);
  const t: Timing = quick
    ? { warmMs: 1000, saturatedMs: 4000, steadyMs: 4000 }
    : { warmMs: 3000, saturatedMs: 15_000, steadyMs: 10_000 };
  const admin = new pg.Client({ connectionString: pgUrl });
  try {
    await admin.connect();
  } catch (err) {
    console.error(
      `bench:market --instances: PostgreSQL at ${pgUrl} is not reachable (${err instanceof Error ? err.message : String(err)})`,
    );
    process.exitCode = 2;
    return;
  }
  const version = (
    (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? ''
  ).split(' ')[0];
  console.log(
    `bench:market --instances ${counts.join(',')}${quick ? ' --quick' : ''}${analyzeAfterWarmUp ? '' : ' --no-analyze'} seed ${seed} (provider keys, instance of each post); PostgreSQL ${version}; ${providersTotal} providers; ${customerCount} customer(s); ${machine()}; ${new Date().toISOString()}`,
  );
  try {
    const queue = await bareQueue(pgUrl, admin, t, seed);
    console.log(
      `  bare queue: ${queue.jobsPerS.toFixed(0)} jobs/s, PostgreSQL ${fixed(queue.pgMsPerJob)} ms/job, client ${fixed(queue.clientMsPerJob)} ms/job, ${fixed(queue.txPerJob, 1)} transactions/job`,
    );
    const results: ClusterResult[] = [];
    for (const n of counts) {
      const r = await runCluster(pgUrl, admin, n, providersTotal, customerCount, seed, t, profileDir);
      results.push(r);
      console.log(
        `  ${n} instance(s): ${r.jobsPerS.toFixed(0)} jobs/s, market ${fixed(r.marketMsPerJob)} ms/job, PostgreSQL ${fixed(r.pgMsPerJob)} ms/job, load generator ${fixed(r.loadMsPerJob)} ms/job, ${fixed(r.txPerJob, 1)} transactions/job; steady ${r.steadyRate} tasks/s: result → receipt ${ms(quantile(r.settled, 0.5))} / ${ms(quantile(r.settled, 0.99))}, ready → assigned same ${ms(quantile(r.same, 0.5))} / ${ms(quantile(r.same, 0.99))} (${r.same.length} jobs), cross ${ms(quantile(r.cross, 0.5))} / ${ms(quantile(r.cross, 0.99))} (${r.cross.length} jobs)${r.errors.length ? `; ${r.errors.length} error lines` : ''}`,
      );
      for (const e of r.errors.slice(0, 5)) console.log(`    ${e}`);
    }
    console.log('');
    console.log(
      '| instances | jobs/s | × bare queue | market CPU ms/job | PostgreSQL CPU ms/job | transactions/job | ready → assigned, same instance p50 / p99 | ready → assigned, cross-instance p50 / p99 (jobs) | result → receipt p50 / p99 |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    console.log(
      `| bare queue (10 workers) | ${queue.jobsPerS.toFixed(0)} | 1× | (client ${fixed(queue.clientMsPerJob)}) | ${fixed(queue.pgMsPerJob)} | ${fixed(queue.txPerJob, 1)} | — | — | — |`,
    );
    for (const r of results)
      console.log(
        `| ${r.instances} | ${r.jobsPerS.toFixed(0)} | ${fixed(r.jobsPerS / queue.jobsPerS, 3)}× | ${fixed(r.marketMsPerJob)} | ${fixed(r.pgMsPerJob)} | ${fixed(r.txPerJob, 1)} | ${ms(quantile(r.same, 0.5))} / ${ms(quantile(r.same, 0.99))} | ${r.cross.length ? `${ms(quantile(r.cross, 0.5))} / ${ms(quantile(r.cross, 0.99))} (${r.cross.length})` : '—'} | ${ms(quantile(r.settled, 0.5))} / ${ms(quantile(r.settled, 0.99))} |`,
      );
    console.log('');
    const one = results.find((r) => r.instances === 1);
    const most = results.reduce<ClusterResult | undefined>(
      (a, r) => (a === undefined || r.instances > a.instances ? r : a),
      undefined,
    );
    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
    for (const r of results) {
      const x = r.jobsPerS / queue.jobsPerS;
      console.log(
        `target jobs/s ≥ 0.3× the bare queue, ${r.instances} instance(s): ${fixed(x, 3)}× — ${verdict(x >= 0.3)}`,
      );
    }
    if (one)
      console.log(
        `target market CPU ≤ 1 ms/job at 1 instance: ${fixed(one.marketMsPerJob)} ms — ${verdict(one.marketMsPerJob <= 1)}`,
      );
    if (one && most && most !== one) {
      const cost = (r: ClusterResult) => r.marketMsPerJob + r.pgMsPerJob;
      const k = cost(most) / cost(one);
      console.log(
        `target cost per job (market + PostgreSQL CPU) ${most.instances} ÷ 1 instance ≤ 1.3×: ${fixed(cost(most))} ÷ ${fixed(cost(one))} = ${fixed(k)}× — ${verdict(k <= 1.3)}; transactions/job ${fixed(most.txPerJob, 1)} ÷ ${fixed(one.txPerJob, 1)} = ${fixed(most.txPerJob / one.txPerJob)}×`,
      );
    }
    for (const r of results.filter((x) => x.cross.length > 0)) {
      const p99 = quantile(r.cross, 0.99);
      console.log(
        `target cross-instance ready → assigned p99 ≤ 50 ms, ${r.instances} instances: ${ms(p99)} — ${verdict(p99 <= 50)}`,
      );
    }
    if (results.some((r) => r.errors.length > 0)) process.exitCode = 1;
  } finally {
    await admin.end();
  }
}
