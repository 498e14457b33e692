/**
 * The escrow hold of POST /tasks on PostgreSQL: hold transactions per second (a task row and its
 * escrow hold, one transaction, as TaskService.create runs it) from 1/2/4/8 concurrent clients,
 * each client a customer of its own. Two layouts in the same run:
 *
 *   single row   the reference: every hold credits one `escrow` account (the layout before market
 *                migration 9), with otherwise the same statements as today's hold;
 *   per customer today's `escrow:<customer_id>` accounts (EscrowRepo.hold).
 *
 * While each run goes, a separate connection samples `pg_locks WHERE NOT granted` for the bench's
 * own connections every 5 ms: how many wait on a lock at any moment.
 *
 * Usage: TESSERA_TEST_PG_URL=postgres://… npm run bench:escrow -- [--clients 1,2,4,8] [--holds 300] [--rounds 2]
 * (--holds: transactions per client per run). Each run gets a fresh schema, dropped at the end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ACCOUNTS, AccountsRepo } from '../src/market/store/accounts-repo.js';
import type { SqlConn } from '../src/market/store/driver.js';
import { EscrowRepo } from '../src/market/store/escrow-repo.js';
import { MarketStore } from '../src/market/store/market-store.js';
import { openPgDriver } from '../src/market/store/pg-driver.js';
import { sql } from '../src/market/store/sql.js';
import { TasksRepo } from '../src/market/store/tasks-repo.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1,2,4,8' },
    holds: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '2' },
  },
});
const url = process.env.TESSERA_TEST_PG_URL;
if (!url) {
  console.error(
    'bench:escrow needs PostgreSQL: set TESSERA_TEST_PG_URL (e.g. postgres:///postgres?host=/var/run/postgresql)',
  );
  process.exit(2);
}
const CLIENTS = (args.clients ?? '').split(',').map(Number);
const HOLDS = Number(args.holds);
const ROUNDS = Number(args.rounds);
if (CLIENTS.some((n) => !Number.isInteger(n) || n < 1) || !(HOLDS >= 1) || !(ROUNDS >= 1)) {
  console.error('--clients must be positive integers separated by commas; --holds and --rounds positive integers');
  process.exit(2);
}
const APP = `tessera-bench-escrow-${randomBytes(3).toString('hex')}`;
const appUrl = `${url}${url.includes('?') ? '&' : '?'}application_name=${APP}`;

type Layout = 'single row' | 'per customer';

/** The hold as it was with one escrow account: the same legs and rows, the credit to `escrow`. */
async function singleRowHold(c: SqlConn, taskId: string, customerId: string, amount: bigint, now: number) {
  if (
    !(await new AccountsRepo(c).post(
      `escrow:${taskId}`,
      [
        { account: ACCOUNTS.customer(customerId), amount: -amount },
        { account: ACCOUNTS.legacyEscrow, amount },
      ],
      'escrow',
      now,
    ))
  )
    throw new Error('funds');
  await c.query(
    sql`INSERT INTO escrows (task_id, customer_id, amount, status, created_at) VALUES (${taskId}, ${customerId}, ${amount}, 'held', ${now})`,
  );
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

interface Run {
  perSecond: number;
  waitMean: number;
  waitMax: number;
}

async function run(layout: Layout, clients: number): Promise<Run> {
  const schema = `tessera_bench_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  const driver = await openPgDriver(appUrl, { schema, max: clients });
  const store = await MarketStore.open(driver);
  const sampler = new pg.Client({ connectionString: url });
  await sampler.connect();
  try {
    const customers = await store.transaction(async (tx) => {
      const ids: string[] = [];
      for (let i = 0; i < clients; i++) {
        const id = randomUUID();
        await tx.customers.insert({ customerId: id, name: `bench-${id}`, keyHash: id, createdAt: 0 });
        await tx.accounts.post(
          `fund:${id}`,
          [
            { account: ACCOUNTS.mint, amount: -BigInt(HOLDS) * 10n },
            { account: ACCOUNTS.customer(id), amount: BigInt(HOLDS) * 10n },
          ],
          'fund',
          0,
        );
        ids.push(id);
      }
      return ids;
    });
    const samples: number[] = [];
    let sampling = true;
    const sampleLoop = (async () => {
      while (sampling) {
        const r = await sampler.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.application_name = $1`,
          [APP],
        );
        samples.push(Number(r.rows[0]?.n ?? 0));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const t0 = performance.now();
    await Promise.all(
      customers.map(async (customerId) => {
        for (let i = 0; i < HOLDS; i++) {
          const taskId = randomUUID();
          const now = Date.now();
          await driver.transaction(async (c) => {
            await new TasksRepo(c).insert({
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
            if (layout === 'single row') await singleRowHold(c, taskId, customerId, 10n, now);
            else if (!(await new EscrowRepo(c).hold(taskId, customerId, 10n, now))) throw new Error('funds');
          });
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    sampling = false;
    await sampleLoop;
    // The books of the run: everything held, nothing lost.
    const audit = await store.transaction((tx) => tx.accounts.audit());
    const held = await store.transaction((tx) => tx.accounts.escrowTotal());
    if (audit.total !== 0n || audit.unbalancedEvents.length > 0 || held !== BigInt(clients * HOLDS) * 10n)
      throw new Error(`the books of the ${layout} run do not balance: ${JSON.stringify(audit, (_, v) => String(v))}`);
    return {
      perSecond: (clients * HOLDS) / seconds,
      waitMean: samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length),
      waitMax: Math.max(0, ...samples),
    };
  } finally {
    await sampler.end();
    await store.close();
    await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  }
}

console.log(`bench:escrow — ${HOLDS} holds per client per run, ${ROUNDS} round(s), mean of the rounds`);
console.log(
  '| clients | single row (reference) holds/s | per customer holds/s | ratio | lock waiters single row (mean / max) | lock waiters per customer (mean / max) |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const clients of CLIENTS) {
  const acc: Record<Layout, Run[]> = { 'single row': [], 'per customer': [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternated, so drift in the machine's load falls on both layouts alike.
    for (const layout of r % 2 ? (['per customer', 'single row'] as const) : (['single row', 'per customer'] as const))
      acc[layout].push(await run(layout, clients));
  }
  const mean = (rs: Run[], k: keyof Run) => rs.reduce((a, b) => a + b[k], 0) / rs.length;
  const max = (rs: Run[]) => Math.max(...rs.map((x) => x.waitMax));
  const s = acc['single row'];
  const p = acc['per customer'];
  console.log(
    `| ${clients} | ${mean(s, 'perSecond').toFixed(0)} | ${mean(p, 'perSecond').toFixed(0)} | ${(mean(p, 'perSecond') / mean(s, 'perSecond')).toFixed(2)}× | ${mean(s, 'waitMean').toFixed(2)} / ${max(s)} | ${mean(p, 'waitMean').toFixed(2)} / ${max(p)} |`,
  );
}
