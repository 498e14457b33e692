/**
 * Store throughput for the practice market's needs: per task, one task insert with escrow, one
 * job insert (admitted), one lease through the validator's statement and one close of the job
 * (four transactions), on PGlite and, when
 * TESSERA_TEST_PG_URL is set, on PostgreSQL. Usage: npx tsx bench/market-store.ts [tasks]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCOUNTS } from '../src/market/store/accounts-repo.js';
import type { SqlDriver } from '../src/market/store/driver.js';
import { MarketStore } from '../src/market/store/market-store.js';
import { openPgDriver } from '../src/market/store/pg-driver.js';
import { openPgliteDriver } from '../src/market/store/pglite-driver.js';
import pg from 'pg';

const N = Number(process.argv[2] ?? 500);

async function run(name: string, driver: SqlDriver, concurrency: number): Promise<void> {
  const store = await MarketStore.open(driver);
  const customerId = randomUUID();
  await store.transaction(async (tx) => {
    await tx.customers.insert({ customerId, name: `bench-${customerId}`, keyHash: customerId, createdAt: 0 });
    await tx.accounts.ensure(ACCOUNTS.customer(customerId), 'customer');
    await tx.accounts.post(
      'fund',
      [
        { account: ACCOUNTS.mint, amount: -BigInt(N) * 10n },
        { account: ACCOUNTS.customer(customerId), amount: BigInt(N) * 10n },
      ],
      'fund',
      0,
    );
  });
  let next = 0;
  const t0 = performance.now();
  const worker = async (w: number) => {
    for (;;) {
      const i = next++;
      if (i >= N) return;
      const taskId = randomUUID();
      const jobId = randomUUID();
      const now = Date.now();
      await store.transaction(async (tx) => {
        await tx.tasks.insert({
          taskId,
          customerId,
          challengeType: 'synthetic',
          payload: { matrix_size: 8, iterations: 1 },
          reward: 10n,
          deadline: null,
          status: 'pending',
          inputKind: 'payload',
          gpuRequired: false,
          lane: 'consumer',
          createdAt: now,
        });
        if (!(await tx.escrow.hold(taskId, customerId, 10n, now))) throw new Error('funds');
      });
      await store.transaction(async (tx) => {
        await tx.jobs.insert([{ jobId, taskId, sliceIndex: 0, lane: 'consumer', gpuRequired: false, offer: 1n }], now);
        await tx.validator.admit(jobId, now);
      });
      const job = await store.transaction((tx) =>
        tx.validator.leaseFor({
          owner: `w${w}`,
          lanes: ['consumer'],
          hardwareGpu: false,
          ask: 0n,
          now,
          leaseMs: 60_000,
        }),
      );
      if (job) await store.transaction((tx) => tx.jobs.failOpen(taskId, 'bench', now));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const s = (performance.now() - t0) / 1000;
  console.log(`| ${name} | ${concurrency} | ${N} | ${(N / s).toFixed(0)} | ${((N * 4) / s).toFixed(0)} |`);
  await store.close();
}

{
  console.log('| store | concurrency | tasks | tasks/s (insert+job+lease+close) | transactions/s |');
  console.log('|---|---|---|---|---|');
}
const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-market-'));
try {
  await run('PGlite (files)', await openPgliteDriver(join(dir, 'store')), 1);
  await run('PGlite (files)', await openPgliteDriver(join(dir, 'store')), 8);
  const url = process.env.TESSERA_TEST_PG_URL;
  if (url) {
    const schema = `tessera_bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      await run('PostgreSQL 15', await openPgDriver(url, { schema }), 1);
      await run('PostgreSQL 15', await openPgDriver(url, { schema, max: 8 }), 8);
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
