/**
 * Wake-ups across market instances: how long a task posted on one instance waits before a provider
 * connected to another instance gets its job (ready → assigned), against the same path on one
 * instance, measured in the same run.
 *
 * Two market instances (each with its own store connections, HTTP API, validator and provider
 * socket, default validator settings: sweep every 1 s) share one fresh PostgreSQL schema; one
 * provider is connected to B. Samples alternate at random (seeded) between a task posted through A
 * (cross-instance) and one posted through B (same instance), with a random pause of 0–100 ms
 * before each so the cross-instance posts land anywhere in B's sweep period. A sample is the time
 * from sending `POST /tasks` to the provider receiving the job frame; the provider answers each job
 * and the next sample starts once the result is acknowledged. Two modes, each on a fresh schema:
 * `sweep` — the stores without LISTEN (as before notifications: B hears of A's task at its next
 * sweep) — and `notify` — LISTEN/NOTIFY (B's dispatcher is kicked when A's post commits).
 *
 * Both instances run in this process (one event loop; the notification still goes through the
 * server to B's own listening connection).
 *
 * Usage: TESSERA_TEST_PG_URL=postgres://… npm run bench:wakeup -- [--samples 100] [--seed S] [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createMarketServer } from '../src/market/market-server.js';
import type { SqlDriver } from '../src/market/store/driver.js';
import { MarketStore } from '../src/market/store/market-store.js';
import { openPgDriver } from '../src/market/store/pg-driver.js';
import { attachValidator } from '../src/market/validator/attach.js';
import { loadBlake3, nodeSha256 } from '../src/node/hash/node-hasher.js';
import { sinkLogger } from '../src/node/log.js';
import { seededRandom } from '../test/support/data.js';
import { RawProvider, seedFrom } from '../test/support/raw-provider.js';
import { fmt, machine } from './common.js';

type Mode = 'sweep' | 'notify';

interface Args {
  url: string;
  samples: number;
  seed: number;
}

function parseArgs(argv: readonly string[]): Args {
  const url = process.env.TESSERA_TEST_PG_URL;
  if (!url)
    throw new Error('TESSERA_TEST_PG_URL is not set; give it a PostgreSQL URL (the bench makes and drops a schema)');
  let samples = argv.includes('--quick') ? 30 : 100;
  let seed = Date.now() % 2 ** 31;
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--samples') samples = Number(v);
    if (argv[i] === '--seed') seed = Number(v);
  }
  if (!Number.isSafeInteger(samples) || samples < 2)
    throw new Error(`--samples must be a whole number ≥ 2 (got ${String(samples)})`);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`--seed must be a whole number ≥ 0 (got ${String(seed)})`);
  return { url, samples, seed };
}

/** Nearest-rank percentile of sorted values. */
function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** One mode on a fresh schema: the ready → assigned times (ms) of same-instance and cross-instance posts. */
async function runMode(mode: Mode, a: Args, random: () => number): Promise<{ same: number[]; cross: number[] }> {
  const schema = `tessera_wakeup_${mode}_${a.seed}_${process.pid}`;
  await withAdmin(a.url, (c) => c.query(`CREATE SCHEMA ${schema}`));
  const dir = mkdtempSync(join(tmpdir(), 'tessera-wakeup-'));
  const closers: (() => Promise<unknown>)[] = [];
  let errors = 0;
  const logger = sinkLogger((r) => {
    if (r.level === 'error' && errors++ < 5) console.error(`market ${r.msg}: ${String(r.error)}`);
  });
  try {
    const blake3 = await loadBlake3();
    const clock = { now: () => Date.now() };
    const instance = async (name: string) => {
      const opened = await openPgDriver(a.url, { schema });
      // sweep: the store as before notifications (no LISTEN; a commit wakes only its own process).
      const driver: SqlDriver = mode === 'sweep' ? { ...opened, notifications: undefined } : opened;
      const store = await MarketStore.open(driver);
      closers.push(() => store.close());
      const dataDir = join(dir, name);
      const server = await createMarketServer({ store, clock, blake3, dataDir, processMetrics: false, logger });
      closers.push(() => server.close());
      const validator = await attachValidator({
        app: server.app,
        store,
        clock,
        blake3,
        sha256: nodeSha256,
        digestThreads: 0,
        logger,
      });
      closers.push(() => validator.close());
      return { server, base: await server.listen('127.0.0.1', 0), blake3 };
    };
    const A = await instance('a');
    const B = await instance('b');
    const { apiKey } = await A.server.customers.add('bench');
    await A.server.customers.fund('bench', 10n ** 15n);
    const provider = new RawProvider(B.base, blake3, seedFrom(7));
    await provider.join({ max_jobs: 1 });
    closers.push(async () => provider.close());

    const same: number[] = [];
    const cross: number[] = [];
    let nonce = 1n;
    for (let i = 0; i < 2 * a.samples; i++) {
      // Alternating at random, each path gets `samples` samples.
      const onA = same.length >= a.samples || (cross.length < a.samples && random() < 0.5);
      await new Promise((r) => setTimeout(r, random() * 100));
      const seen = provider.jobs().length;
      const t0 = performance.now();
      const res = await fetch(`${onA ? A.base : B.base}/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: `wake-up ${i}`, max_tokens: 1 },
          reward: '1.0',
        }),
      });
      if (res.status !== 201) throw new Error(`POST /tasks answered ${res.status}: ${await res.text()}`);
      const job = await provider.nextJob(seen);
      (onA ? cross : same).push(performance.now() - t0);
      provider.sendJson(provider.honestResult(job, blake3, nonce++));
      await provider.ackFor(job.job_id);
    }
    return { same, cross };
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await withAdmin(a.url, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    if (errors > 0) console.error(`${mode}: the market logged ${errors} errors`);
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const random = seededRandom(a.seed);
  console.log(`wake-ups across market instances — seed ${a.seed}, ${a.samples} samples per path and mode`);
  console.log(machine());
  console.log('ready → assigned (POST /tasks sent → job frame at a provider on instance B), ms');
  console.log('mode    path                n    p50     p99     max     cross/same p50  p99');
  for (const mode of ['sweep', 'notify'] as const) {
    const { same, cross } = await runMode(mode, a, random);
    const s = [...same].sort((x, y) => x - y);
    const c = [...cross].sort((x, y) => x - y);
    const row = (path: string, v: number[], ratio = '') =>
      console.log(
        `${mode.padEnd(8)}${path.padEnd(20)}${String(v.length).padEnd(5)}${fmt(pct(v, 0.5), 1).padEnd(8)}${fmt(pct(v, 0.99), 1).padEnd(8)}${fmt(v.at(-1) as number, 1).padEnd(8)}${ratio}`,
      );
    row('same instance (B)', s);
    row(
      'cross (A → B)',
      c,
      `${fmt(pct(c, 0.5) / pct(s, 0.5), 1)}×`.padEnd(16) + `${fmt(pct(c, 0.99) / pct(s, 0.99), 1)}×`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
