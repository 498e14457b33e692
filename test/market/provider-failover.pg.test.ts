import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { fromHex } from '../../src/core/hex.js';
import { createSliceDigester } from '../../src/core/market/assignment-proof.js';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import type { JobExecution } from '../../src/main/services/provider-service.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { silentLogger } from '../../src/node/log.js';
import { seededRandom } from '../support/data.js';
import { clock, postTask } from '../support/market.js';
import { fundedCustomer, openMarket, type MarketInstance } from '../support/market-harness.js';
import { signal, startProvider, whenNode, type Provider } from '../support/provider.js';
import { tempDir } from '../support/temp-dir.js';
import { PG_URL_ENV, pgHarness, type StoreHarness } from './store-harness.js';

/**
 * Two market instances on one PostgreSQL store; a provider holding a job through the first one.
 * The first instance goes away while the job runs, so its result is finished while the node is
 * disconnected. The node fails over to the other instance — given both URLs, or knowing the
 * other only from the first one's welcome — and its result is sent there once, accepted, and
 * paid. PGlite is one process, so two instances need PostgreSQL: set TESSERA_TEST_PG_URL.
 */
const SEED = 0xf0f0;
console.log(`provider failover (postgres) test seed ${SEED}`);
const url = process.env[PG_URL_ENV];
const pgh: StoreHarness | undefined = url ? pgHarness(url) : undefined;
afterAll(() => pgh?.cleanup());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** An instance on `schema` (closed after the test; its close, as an operator's, stops validator, HTTP server, store connection). */
async function instance(schema: string, h: StoreHarness, peerUrls?: () => Promise<string[]>): Promise<MarketInstance> {
  const m = await openMarket({
    store: () => h.open(schema),
    clock,
    logger: silentLogger,
    config: { practice: false, batchMs: 0, sweepMs: 100, heartbeatMs: 100, checkFraction: 0 },
    marketId: 'failover-market',
    ...(peerUrls ? { validator: { peerUrls } } : {}),
  });
  cleanups.push(() => m.close());
  return m;
}

describe('a provider fails over to another market instance (postgres)', () => {
  if (!url || !pgh) {
    it.skip(`skipped: set ${PG_URL_ENV} to a PostgreSQL URL (e.g. postgres://root@/postgres?host=/var/run/postgresql) to run two market instances on one database`, () =>
      undefined);
    return;
  }
  const h = pgh;

  const cases = [
    'given both URLs',
    "knowing the second only from the first one's welcome",
    // The welcome reads the provider's leases while another transaction (the leader's lease sweep,
    // a heartbeat) holds them locked: it must still name them, or the finished result is never sent.
    'given both URLs, its lease locked by another transaction at the welcome',
  ] as const;
  for (const how of cases) {
    it(`${how}: its result finished while disconnected is paid by the other instance on the first try`, async () => {
      const schema = await h.newLocation();
      // The second instance first, so the first can name it in its welcome.
      const b = await instance(schema, h);
      const learned = how === "knowing the second only from the first one's welcome";
      const a = await instance(schema, h, learned ? async () => [b.base] : undefined);
      // Customers live in the store: one added through either instance can post to both.
      const alice = await fundedCustomer(a.server);
      const blake3 = await loadBlake3();

      // The job runs until the test opens the gate: when the connection to the first instance drops.
      const started = signal();
      const gate = signal();
      const execute = async (job: { assignment_key: string }, bytes: Uint8Array): Promise<JobExecution> => {
        started.resolve();
        await gate.promise;
        const d = createSliceDigester(fromHex(job.assignment_key, 'assignment_key'), blake3);
        d.update(bytes);
        return { ...d.digest(), bytes: bytes.length, backend: 'cpu' };
      };
      const submitted = { a: 0, b: 0 };
      for (const [name, inst] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const real = inst.validator.submitResult.bind(inst.validator);
        vi.spyOn(inst.validator, 'submitResult').mockImplementation((...args) => {
          submitted[name]++;
          return real(...args);
        });
      }

      const welcomes: { job_id: string; epoch: number }[][] = [];
      const join = b.validator.join.bind(b.validator);
      vi.spyOn(b.validator, 'join').mockImplementation(async (...args) => {
        const leased = await join(...args);
        welcomes.push(leased);
        return leased;
      });

      const p: Provider = await startProvider(
        learned ? [a.base] : [a.base, b.base],
        tempDir('tessera-failover-pg-node-'),
        { execute, random: seededRandom(SEED), backoff: { baseMs: 20, capMs: 200 } },
      );
      cleanups.push(() => p.close());
      const first = await whenNode(p, 'the welcome of the first instance', () =>
        p.service.status().state === 'connected' ? p.service.market.endpoint : undefined,
      );
      expect(first.url).toBe(a.base);
      expect(p.service.market.learnedUrls).toEqual(learned ? [b.base] : []);

      const posted = await postTask(
        { base: a.base, ...alice },
        { challenge_type: 'inference', payload: { model_id: 'm', prompt: 'failover', max_tokens: 1 }, reward: '1.0' },
      );
      expect(posted.status).toBe(201);
      await started.promise;

      // The first instance stops; the moment the node notices, the job finishes (before any reconnect can happen).
      const jobs = new ProviderJobsRepo(p.ledger.db);
      let droppedAt = 0;
      const offState = p.service.market.onDidChangeState((s) => {
        if (s !== 'disconnected' || droppedAt !== 0) return;
        droppedAt = performance.now();
        gate.resolve();
      });
      // At the second welcome the result is finished and kept, not yet acknowledged by any instance.
      const welcomedAgain = new Promise<{ url: string; status: string | undefined; ms: number }>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`no second welcome within 30 s; node state ${p.service.status().state}`));
        }, 30_000);
        const off = p.service.market.onDidConnect((e) => {
          off();
          clearTimeout(timer);
          resolve({ url: e.url, status: jobs.recent(1)[0]?.status, ms: performance.now() - droppedAt });
        });
      });
      const locker = how.includes('locked') ? new pg.Client({ connectionString: url }) : undefined;
      if (locker) {
        await locker.connect();
        cleanups.push(() => locker.end());
        await locker.query('BEGIN');
        const { rows } = await locker.query(`SELECT job_id FROM ${schema}.job_leases FOR UPDATE`);
        expect(rows).toHaveLength(1);
      }
      await a.close();
      const again = await welcomedAgain;
      offState();
      await locker?.query('ROLLBACK');
      const [job] = jobs.recent(1);
      // The second instance's welcome named the lease: the node sent its result there.
      expect(welcomes).toEqual([[{ job_id: job?.jobId, epoch: 1 }]]);
      console.log(`failover (${how}): welcomed by the other instance ${again.ms.toFixed(1)} ms after the drop`);
      expect(again.url).toBe(b.base);
      expect(again.status).toBe('submitted');

      await whenNode(p, 'the result accepted and paid', () => {
        const [row] = jobs.recent(1);
        return row?.status === 'accepted' && (jobs.earningsByDay(0)[0]?.paid ?? 0n) > 0n;
      });
      // Sent once, to the second instance, and accepted: paid on the first try.
      expect(submitted).toEqual({ a: 0, b: 1 });
      expect(p.service.status().endpoint).toBe(b.base);
    }, 120_000);
  }
});
