/**
 * The market as a service of several instances: three `tessera market --store postgres://…`
 * processes on one PostgreSQL database, a `tessera provide` process on each, two customers
 * posting payload tasks and uploaded-slice tasks to all of them; once some jobs are paid and
 * others are in flight, one instance is killed with SIGKILL. Then every task must complete, every
 * job be paid exactly once, escrow end at 0, every receipt be acknowledged, batch numbers be
 * unique and gap-free, and the books balance.
 *
 * Needs PostgreSQL (TESSERA_TEST_PG_URL; CI sets it). Seeded (SEED=…; printed). Every wait is on
 * a signal: a process's own output line, or a NOTIFY from the cluster's change triggers
 * (test/support/market-cluster.ts). Each check is a soft assertion, so a failing run reports
 * every guarantee that did not hold, not only the first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_URL_ENV } from '../market/store-harness.js';
import { root, tsxLoader } from '../cli/run.js';
import { pseudoRandomBytes, seededRandom } from '../support/data.js';
import { startMarketCluster, type MarketCluster } from '../support/market-cluster.js';
import { tempDir } from '../support/temp-dir.js';
import { tail } from './tessera-process.js';

const PG_URL = process.env[PG_URL_ENV];
const SEED = Number(process.env.SEED ?? 0xc1a5);
const INSTANCES = 3;
/** Tasks posted before the kill, and after it (to the surviving instances). */
const WAVE1 = 18;
const WAVE2 = 6;
/** The kill comes once this many jobs are paid (receipts stored). */
const PAID_BEFORE_KILL = 6;
const MICRO = 1_000_000n;

if (!PG_URL)
  console.log(`market-cluster: skipped — ${PG_URL_ENV} is not set (the test needs a PostgreSQL server; CI sets it)`);

/** A `tessera provide` child process and what it printed. */
interface ProviderProcess {
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** The instance it was pointed at. */
  readonly market: string;
  out(): string;
  err(): string;
  /** Resolves with the provider's address once it prints a status line saying it is connected. */
  connected: Promise<string>;
  /** Resolves at the next status line saying it is connected through one of `endpoints`. */
  connectedVia(endpoints: readonly string[]): Promise<void>;
}

/**
 * `tessera provide` given every instance's URL, its own instance first (`markets[0]`): when that
 * instance dies the client fails over to the next URL by itself.
 */
function startProvide(markets: readonly string[], dataDir: string): ProviderProcess {
  const market = markets.join(',');
  const child = spawn(
    process.execPath,
    [
      '--import',
      tsxLoader,
      `${root}/src/cli/bin.ts`,
      'provide',
      '--market',
      market,
      '--data-dir',
      dataDir,
      '--threads',
      '1',
    ],
    { cwd: root, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const watchers: { test: (line: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const text of lines) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      for (const w of watchers.splice(0))
        if (w.test(line)) w.resolve();
        else watchers.push(w);
    }
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`tessera provide --market ${market} exited (${code ?? signal}): ${tail(err, 600)}`)),
    ),
  );
  exited.catch(() => undefined);
  const until = (test: (line: Record<string, unknown>) => boolean): Promise<void> =>
    Promise.race([new Promise<void>((resolve) => watchers.push({ test, resolve })), exited]);
  const connected = (async () => {
    let address = '';
    await until((l) => {
      if (l.state !== 'connected' || typeof l.address !== 'string') return false;
      address = l.address;
      return true;
    });
    return address;
  })();
  connected.catch(() => undefined);
  return {
    child,
    dataDir,
    market,
    out: () => out,
    err: () => err,
    connected,
    connectedVia: (endpoints) => {
      // Status names the endpoint as its socket URL (and the address, for a DNS name): compared by host:port.
      const hosts = endpoints.map((e) => new URL(e).host);
      return until(
        (l) => l.state === 'connected' && hosts.includes(new URL(String(l.endpoint).split(' ')[0] as string).host),
      );
    },
  };
}

async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

type Api = (
  method: string,
  path: string,
  body?: unknown,
  bytes?: Uint8Array,
) => Promise<{ status: number; json: Record<string, unknown> }>;

function api(base: string, key: string): Api {
  return async (method, path, body, bytes) => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    let payload: string | Uint8Array | undefined;
    if (bytes) {
      headers['content-type'] = 'application/octet-stream';
      payload = bytes;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${base}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
}

function expectStatus(r: { status: number; json: unknown }, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.json)}`);
}

describe.skipIf(!PG_URL)('three market instances on one PostgreSQL, one killed with SIGKILL mid-run', () => {
  let cluster: MarketCluster | undefined;
  const providers: ProviderProcess[] = [];
  afterAll(async () => {
    await Promise.all(providers.map((p) => killProcess(p.child)));
    await cluster?.stop();
  });

  it(
    'every task completes, every job is paid once, escrow ends at 0, receipts are acknowledged, batches are gap-free, books balance',
    { timeout: 180_000 },
    async () => {
      console.log(`market-cluster seed ${SEED}`);
      const rand = seededRandom(SEED);
      const pick = (n: number) => Math.floor(rand() * n);
      const t0 = Date.now();
      const lap = (what: string) => console.log(`  ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
      const c = await startMarketCluster({ pgUrl: PG_URL as string, instances: INSTANCES, watch: true });
      cluster = c;
      lap(`${INSTANCES} instances listening on ${c.database}: ${c.instances.map((i) => i.base).join(' ')}`);

      const funded = 1000n * MICRO;
      const customers = [await c.addCustomer('cluster-a', funded), await c.addCustomer('cluster-b', funded)];
      const dir = tempDir('tessera-market-cluster-');
      const bases = c.instances.map((i) => i.base);
      for (let i = 0; i < INSTANCES; i++)
        providers.push(startProvide([...bases.slice(i), ...bases.slice(0, i)], join(dir, `provider-${i}`)));
      const addresses = await Promise.all(providers.map((p) => p.connected));
      lap(`providers connected, one per instance: ${addresses.join(' ')}`);

      // ── tasks: payload tasks and uploaded-slice tasks, each request to an instance drawn from the seed ──
      const taskIds: string[] = [];
      let rewards = 0n;
      const post = async (live: readonly number[], n: number) => {
        for (let k = 0; k < n; k++) {
          const customer = customers[pick(customers.length)] as { apiKey: string };
          const at = () =>
            api((c.instances[live[pick(live.length)] as number] as { base: string }).base, customer.apiKey);
          const i = taskIds.length;
          if (pick(3) === 0) {
            // Slices uploaded through one instance, submitted through another: what a round-robin load balancer does.
            const created = await at()('POST', '/tasks', {
              challenge_type: 'rendering',
              payload: { scene_file: 'https://example.org/s.blend', resolution: '64x64', frames: 2 },
              reward: '3.0',
              input: 'slices',
            });
            expectStatus(created, 201, `create draft ${i}`);
            const id = created.json.task_id as string;
            const slices = 2 + pick(2);
            for (let n = 0; n < slices; n++) {
              const bytes = pseudoRandomBytes(1024 + pick(4096), SEED * 1000 + i * 10 + n);
              expectStatus(
                await at()('PUT', `/tasks/${id}/slices/${n}`, undefined, bytes),
                201,
                `slice ${n} of task ${i}`,
              );
            }
            expectStatus(await at()('POST', `/tasks/${id}/submit`), 200, `submit task ${i}`);
            taskIds.push(id);
            rewards += 3n * MICRO;
          } else {
            const r = await at()('POST', '/tasks', {
              challenge_type: 'inference',
              payload: { model_id: 'cluster', prompt: `task ${i} ${pick(1e9)}`, max_tokens: 8 },
              reward: '2.0',
            });
            expectStatus(r, 201, `post task ${i}`);
            taskIds.push(r.json.task_id as string);
            rewards += 2n * MICRO;
          }
        }
      };
      await post([0, 1, 2], WAVE1);
      lap(`${WAVE1} tasks posted to all instances`);

      // ── kill -9 one instance once some jobs are paid and others are in flight ──
      const paid = await c.waitFor(
        `${PAID_BEFORE_KILL} paid jobs`,
        async () => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM market_receipts'))[0]?.n),
        (n) => n >= PAID_BEFORE_KILL,
        40_000,
      );
      const victim = pick(INSTANCES);
      const survivors = [0, 1, 2].filter((i) => i !== victim);
      const inFlight = await c.query<{ status: string; n: string }>(
        'SELECT status, count(*) AS n FROM jobs GROUP BY status ORDER BY status',
      );
      const moved = (providers[victim] as ProviderProcess).connectedVia(
        survivors.map((i) => (c.instances[i] as { base: string }).base),
      );
      await c.kill(victim, 'SIGKILL');
      lap(
        `instance ${victim} killed (SIGKILL) with ${paid} jobs paid; jobs by status then: ${inFlight.map((r) => `${r.status} ${r.n}`).join(', ')}`,
      );
      // The killed instance's provider fails over by itself to a surviving instance's URL.
      const survivorUrls = survivors.map((i) => (c.instances[i] as { base: string }).base);
      await moved;
      lap(`provider ${victim} failed over by itself to ${survivorUrls.join(' or ')}`);
      await post(survivors, WAVE2);
      lap(`${WAVE2} more tasks posted to the surviving instances`);

      // ── the end state: all tasks done and every receipt acknowledged (bounded; the checks below say what did not hold) ──
      const total = WAVE1 + WAVE2;
      const progress = async () => {
        const [r] = await c.query<{ completed: string; failed: string; undelivered: string; receipts: string }>(
          `SELECT (SELECT count(*) FROM tasks WHERE status = 'completed') AS completed,
                (SELECT count(*) FROM tasks WHERE status = 'failed') AS failed,
                (SELECT count(*) FROM market_receipts) AS receipts,
                (SELECT count(*) FROM market_receipts WHERE delivered_at IS NULL) AS undelivered`,
        );
        return {
          completed: Number(r?.completed),
          failed: Number(r?.failed),
          receipts: Number(r?.receipts),
          undelivered: Number(r?.undelivered),
        };
      };
      const finished = await c
        .waitFor(
          'every task completed and every receipt acknowledged',
          progress,
          (p) => p.completed + p.failed === total && p.undelivered === 0,
          45_000,
        )
        .then(
          () => 'finished',
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        );
      lap(`end state: ${finished}`);

      // ── the guarantees ──
      const q = c.query.bind(c);
      const tasks = await q<{ status: string; n: string }>(
        'SELECT status, count(*) AS n FROM tasks GROUP BY status ORDER BY status',
      );
      expect
        .soft(Object.fromEntries(tasks.map((t) => [t.status, Number(t.n)])), 'every task completes')
        .toEqual({ completed: total });

      const jobsNotPaidOnce = await q<{ job_id: string; status: string; receipts: string }>(
        `SELECT j.job_id, j.status, count(r.idempotency_key) AS receipts FROM jobs j LEFT JOIN market_receipts r ON r.job_id = j.job_id
       GROUP BY j.job_id, j.status HAVING count(r.idempotency_key) <> 1 OR j.status <> 'done' ORDER BY j.job_id`,
      );
      expect
        .soft(
          jobsNotPaidOnce.map((j) => `${j.job_id} ${j.status} ${j.receipts} receipts`),
          'every job is done and paid exactly once',
        )
        .toEqual([]);
      const acceptedTwice = await q<{ job_id: string }>(
        `SELECT job_id FROM job_results WHERE verdict = 'accepted' GROUP BY job_id HAVING count(*) > 1`,
      );
      expect.soft(acceptedTwice, 'no job has two accepted results').toEqual([]);
      const [workerPay] = await q<{ credited: string | null; receipts: string | null }>(
        // What a receipt pays is in the worker's account, or held back in its bond (docs/verification.md).
        `SELECT (SELECT sum(balance) FROM accounts WHERE kind IN ('worker', 'bond')) AS credited,
              (SELECT sum((receipt->>'quote_price')::bigint) FROM market_receipts) AS receipts`,
      );
      expect
        .soft(
          workerPay?.credited ?? '0',
          'workers are credited (worker account plus bond) exactly what their receipts say',
        )
        .toBe(workerPay?.receipts ?? '0');

      const [escrow] = await q<{ balance: string | null; held: string }>(
        `SELECT (SELECT coalesce(sum(balance), 0) FROM accounts WHERE account_id = 'escrow' OR account_id LIKE 'escrow:%') AS balance,
              (SELECT count(*) FROM escrows WHERE status = 'held') AS held`,
      );
      expect
        .soft({ balance: escrow?.balance, held: Number(escrow?.held) }, 'escrow ends at 0')
        .toEqual({ balance: '0', held: 0 });

      const undelivered = await q<{ provider: string; n: string }>(
        'SELECT provider, count(*) AS n FROM market_receipts WHERE delivered_at IS NULL GROUP BY provider ORDER BY provider',
      );
      expect
        .soft(
          undelivered.map((u) => `${u.provider}: ${u.n}`),
          'every receipt is acknowledged',
        )
        .toEqual([]);

      const batches = (await q<{ n: number }>('SELECT n FROM batches ORDER BY n')).map((b) => b.n);
      expect.soft(batches, 'batch numbers are 1, 2, 3, … without gaps').toEqual(batches.map((_, i) => i + 1));
      const badCounts = await q<{ n: number }>(
        `SELECT b.n FROM batches b LEFT JOIN job_results r ON r.batch_n = b.n GROUP BY b.n, b.result_count HAVING count(r.seq) <> b.result_count`,
      );
      expect.soft(badCounts, 'each batch holds exactly the results it counts').toEqual([]);
      const duplicateBatchErrors = c.instances.flatMap((m) =>
        m
          .stderr()
          .split('\n')
          .filter((l) => /batches_pkey|duplicate key/.test(l))
          .map((l) => `instance ${m.index}: ${l.slice(0, 200)}`),
      );
      expect.soft(duplicateBatchErrors, 'no instance sealed a batch number another had sealed').toEqual([]);

      const [books] = await q<{ total: string; mint: string }>(
        `SELECT (SELECT sum(balance) FROM accounts) AS total, (SELECT balance FROM accounts WHERE account_id = 'mint') AS mint`,
      );
      expect
        .soft(books, 'balances sum to 0 and the mint issued exactly what was funded')
        .toEqual({ total: '0', mint: String(-2n * funded) });
      const drift = await q<{ account_id: string }>(
        `SELECT a.account_id FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) AS s FROM postings GROUP BY account_id) p USING (account_id)
       WHERE a.balance <> coalesce(p.s, 0)`,
      );
      expect.soft(drift, "every account's balance is the sum of its postings").toEqual([]);
      const [spent] = await q<{ spent: string }>(
        `SELECT ${2n * funded} - sum(balance) AS spent FROM accounts WHERE kind = 'customer'`,
      );
      expect.soft(spent?.spent, 'the customers paid exactly the rewards of their tasks').toBe(String(rewards));
      lap('checked');
    },
  );
});
