/**
 * npm run bench:ledger — settlement and courier throughput, measured in one run:
 *  1. receipts applied per second in Real mode (FULL sync, batches of SETTLEMENT_BATCH_SIZE
 *     receipts per transaction, as `settlement apply` does) vs a plain batched INSERT of the
 *     same receipt rows (one transaction per batch of the same size, same durability settings;
 *     the target ratio), and, for reference, vs plain INSERTs of every row settlement stores
 *     for them (receipt, its two postings, the two balances), batched the same;
 *  2. a courier flush of 100k receipts to a local market (receipts/s, peak RSS);
 *  3. heap growth during a flush of 1M pending receipts vs 100k (streaming: target ≤ 1.2×).
 * Pass --quick for a short run, --settlement-only to stop after 1. Figures go to docs/PERFORMANCE.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { makeReceipt, type Receipt } from '../src/core/ledger/receipt.js';
import { Database } from '../src/main/db/database.js';
import { CourierRepo } from '../src/main/db/repos/courier-repo.js';
import { sql } from '../src/main/db/sql.js';
import { openLedger } from '../src/main/ledger.js';
import { receiptPayload } from '../src/main/db/repos/receipt-repo.js';
import { SETTLEMENT_BATCH_SIZE } from '../src/main/services/settlement-service.js';
import { CourierMarket } from '../test/fixtures/courier-market.js';
import { benchDir, fmt, machine, root } from './common.js';

const quick = process.argv.includes('--quick');
const dir = join(benchDir, 'ledger');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
console.log(`bench:ledger on ${machine()}, ${new Date().toISOString()} (files on ${dir})\n`);

// 1. Settlement throughput vs plain batched INSERTs. Each of the three is run once on a
// throwaway database first (one batch: statements prepared, code compiled), then measured.
const n = quick ? 5000 : 50_000;
const hasherCtx = await openLedger({ dataDir: join(dir, 'hasher') });
const blake3 = hasherCtx.blake3;
hasherCtx.close();
const makeReceipts = (count: number, tag: string) =>
  Array.from({ length: count }, (_, i) =>
    makeReceipt(
      {
        job_id: `${tag}-${i}`,
        buyer: 'buyer',
        provider: 'provider',
        quote_price: BigInt(1 + (i % 100)),
        issued_at: Date.now(),
      },
      blake3,
    ),
  );

async function applyMs(name: string, receipts: readonly Receipt[]): Promise<number> {
  const ctx = await openLedger({ dataDir: join(dir, name) });
  ctx.settlement.fund('buyer', 10n ** 15n);
  ctx.settlement.setMode('real');
  const t = performance.now();
  const results = ctx.settlement.applyBatch(receipts);
  const ms = performance.now() - t;
  if (results.some((r) => r.outcome !== 'applied')) throw new Error('bench: not every receipt applied');
  ctx.close();
  return ms;
}

/** Plain INSERTs in transactions of SETTLEMENT_BATCH_SIZE; `write` writes one batch. */
function plainMs(
  name: string,
  receipts: readonly Receipt[],
  write: (db: Database, batch: readonly Receipt[], first: number) => void,
): number {
  const db = Database.open(join(dir, `${name}.db`));
  const t = performance.now();
  for (let i = 0; i < receipts.length; i += SETTLEMENT_BATCH_SIZE) {
    const batch = receipts.slice(i, i + SETTLEMENT_BATCH_SIZE);
    db.transaction(() => write(db, batch, i));
  }
  const ms = performance.now() - t;
  db.close();
  return ms;
}

/** The receipt rows alone. */
const receiptRows = (db: Database, batch: readonly Receipt[]) => {
  for (const r of batch) {
    db.run(
      sql`INSERT INTO receipts (idempotency_key, payload, status, recorded_at) VALUES (${r.idempotency_key}, ${receiptPayload(r)}, 'applied', ${Date.now()})`,
    );
  }
};

/** Every row settlement stores for the batch, written plainly: receipts, two postings each, two balances. */
const storedRows = (db: Database, batch: readonly Receipt[], first: number) => {
  const now = Date.now();
  db.run(
    sql`INSERT INTO accounts (id, balance) VALUES ('buyer', ${-first}) ON CONFLICT(id) DO UPDATE SET balance = excluded.balance`,
  );
  db.run(
    sql`INSERT INTO accounts (id, balance) VALUES ('provider', ${first}) ON CONFLICT(id) DO UPDATE SET balance = excluded.balance`,
  );
  for (const r of batch) {
    db.run(
      sql`INSERT INTO receipts (idempotency_key, payload, status, recorded_at, applied_at) VALUES (${r.idempotency_key}, ${receiptPayload(r)}, 'applied', ${now}, ${now})`,
    );
  }
  for (const r of batch) {
    const event = `receipt:${r.idempotency_key}`;
    db.run(sql`INSERT INTO postings (event_id, account, amount, kind, memo, created_at) VALUES (${event}, 'buyer', ${-r.quote_price}, 'transfer', ${`job ${r.job_id}`}, ${now}),
      (${event}, 'provider', ${r.quote_price}, 'transfer', ${`job ${r.job_id}`}, ${now})`);
  }
};

const warm = makeReceipts(SETTLEMENT_BATCH_SIZE, 'warm');
await applyMs('settle-warm', warm);
plainMs('plain-warm', warm, receiptRows);
plainMs('rows-warm', warm, storedRows);
const receipts = makeReceipts(n, 'job');
const appliedMs = await applyMs('settle', receipts);
const receiptRowsMs = plainMs('plain', receipts, receiptRows);
const storedRowsMs = plainMs('rows', receipts, storedRows);

const applyRate = n / (appliedMs / 1000);
const plainRate = n / (receiptRowsMs / 1000);
const rowsRate = n / (storedRowsMs / 1000);
console.log(
  `settlement, ${n} receipts, Real mode, synchronous=FULL, ${SETTLEMENT_BATCH_SIZE} receipts per transaction`,
);
console.log(`  applied (receipt + 2 postings + balances + counters)                  ${fmt(applyRate, 0)} receipts/s`);
console.log(
  `  plain INSERT of the receipt rows, one transaction per ${SETTLEMENT_BATCH_SIZE}            ${fmt(plainRate, 0)} rows/s`,
);
console.log(
  `  plain INSERT of every row settlement stores (receipt, postings, balances) ${fmt(rowsRate, 0)} receipts/s`,
);
console.log(
  `  ratio ${fmt(applyRate / plainRate)}x   target >= 0.5x (vs every stored row: ${fmt(applyRate / rowsRate)}x)\n`,
);
if (process.argv.includes('--settlement-only')) process.exit(0);

// 2 and 3. Courier flushes, each in its own process so RSS and heap are the flusher's own.
async function flushBench(count: number) {
  const dataDir = join(dir, `courier-${count}`);
  const setup = await openLedger({ dataDir });
  const bundle = join(dir, 'bundle.bin');
  writeFileSync(bundle, Buffer.alloc(256, 7));
  const stored = setup.courier.send(bundle, 'bench');
  const repo = new CourierRepo(setup.db);
  setup.db.transaction(() => {
    for (let i = 1; i < count; i++)
      repo.insert({
        id: uuidv7(),
        bundle_hash: stored.bundle_hash,
        bytes: stored.bytes,
        sender: 'bench',
        created_at: Date.now(),
      });
  });
  setup.close();
  const market = await new CourierMarket({ reward: 1n }).start();
  try {
    // Asynchronous spawn: the market answers from this process's event loop meanwhile.
    const child = spawn(process.execPath, [
      '--expose-gc',
      '--import',
      'tsx',
      join(root, 'bench/ledger-flush-child.ts'),
      dataDir,
      market.url,
    ]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`flush child failed: ${err}`);
    return JSON.parse(out) as {
      pending: number;
      acknowledged: number;
      seconds: number;
      receiptsPerSecond: number;
      heapGrowthMb: number;
      peakRssMb: number;
      error: string | null;
    };
  } finally {
    await market.close();
  }
}

const small = await flushBench(quick ? 10_000 : 100_000);
console.log(`courier flush of ${small.pending} receipts to a local market (batches of 500)`);
console.log(
  `  ${fmt(small.receiptsPerSecond, 0)} receipts/s, ${fmt(small.seconds, 1)} s, peak RSS ${fmt(small.peakRssMb, 1)} MB, heap growth ${fmt(small.heapGrowthMb, 1)} MB, acknowledged ${small.acknowledged}\n`,
);
if (!quick) {
  const big = await flushBench(1_000_000);
  console.log(`courier flush of ${big.pending} receipts`);
  console.log(
    `  ${fmt(big.receiptsPerSecond, 0)} receipts/s, ${fmt(big.seconds, 1)} s, peak RSS ${fmt(big.peakRssMb, 1)} MB, heap growth ${fmt(big.heapGrowthMb, 1)} MB, acknowledged ${big.acknowledged}`,
  );
  console.log(`  heap growth 1M / 100k = ${fmt(big.heapGrowthMb / small.heapGrowthMb)}x   target <= 1.2x`);
}
