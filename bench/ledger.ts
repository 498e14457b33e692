/**
 * npm run bench:ledger — settlement and courier throughput, measured in one run:
 *  1. receipts applied per second in Real mode (FULL sync, one transaction per receipt, as the
 *     node does) vs plain INSERTs of the same rows with the same durability settings;
 *  2. a courier flush of 100k receipts to a local market (receipts/s, peak RSS);
 *  3. heap growth during a flush of 1M pending receipts vs 100k (streaming: target ≤ 1.2×).
 * Pass --quick for a short run. Figures go to docs/PERFORMANCE.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { makeReceipt } from '../src/core/ledger/receipt.js';
import { Database } from '../src/main/db/database.js';
import { CourierRepo } from '../src/main/db/repos/courier-repo.js';
import { sql } from '../src/main/db/sql.js';
import { openLedger } from '../src/main/node-context.js';
import { receiptPayload } from '../src/main/db/repos/receipt-repo.js';
import { CourierMarket } from '../test/fixtures/courier-market.js';
import { benchDir, fmt, machine, root } from './common.js';

const quick = process.argv.includes('--quick');
const dir = join(benchDir, 'ledger');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
console.log(`bench:ledger on ${machine()}, ${new Date().toISOString()} (files on ${dir})\n`);

// 1. Settlement throughput vs plain INSERTs.
const n = quick ? 1000 : 5000;
const ctx = await openLedger({ dataDir: join(dir, 'settle') });
ctx.settlement.fund('buyer', 10n ** 15n);
ctx.settlement.setMode('real');
const receipts = Array.from({ length: n }, (_, i) => makeReceipt({ job_id: `job-${i}`, buyer: 'buyer', provider: 'provider', quote_price: BigInt(1 + (i % 100)), issued_at: Date.now() }, ctx.blake3));
let t = performance.now();
const results = ctx.settlement.applyBatch(receipts);
const applyMs = performance.now() - t;
if (results.some((r) => r.outcome !== 'applied')) throw new Error('bench: not every receipt applied');
ctx.close();

const plain = Database.open(join(dir, 'plain.db'));
t = performance.now();
for (const r of receipts) {
  plain.run(sql`INSERT INTO receipts (idempotency_key, payload, status, recorded_at) VALUES (${r.idempotency_key}, ${receiptPayload(r)}, 'applied', ${Date.now()})`);
}
const plainMs = performance.now() - t;
plain.close();
const applyRate = n / (applyMs / 1000);
const plainRate = n / (plainMs / 1000);
console.log(`settlement, ${n} receipts, Real mode, synchronous=FULL, one transaction each`);
console.log(`  applied (receipt + 2 postings + balances + counters)  ${fmt(applyRate, 0)} receipts/s`);
console.log(`  plain INSERT of the same rows (autocommit)           ${fmt(plainRate, 0)} rows/s`);
console.log(`  ratio ${fmt(applyRate / plainRate)}x   target >= 0.5x\n`);

// 2 and 3. Courier flushes, each in its own process so RSS and heap are the flusher's own.
async function flushBench(count: number) {
  const dataDir = join(dir, `courier-${count}`);
  const setup = await openLedger({ dataDir });
  const bundle = join(dir, 'bundle.bin');
  writeFileSync(bundle, Buffer.alloc(256, 7));
  const stored = setup.courier.send(bundle, 'bench');
  const repo = new CourierRepo(setup.db);
  setup.db.transaction(() => {
    for (let i = 1; i < count; i++) repo.insert({ id: uuidv7(), bundle_hash: stored.bundle_hash, bytes: stored.bytes, sender: 'bench', created_at: Date.now() });
  });
  setup.close();
  const market = await new CourierMarket({ reward: 1n }).start();
  try {
    // Asynchronous spawn: the market answers from this process's event loop meanwhile.
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(root, 'bench/ledger-flush-child.ts'), dataDir, market.url]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`flush child failed: ${err}`);
    return JSON.parse(out) as { pending: number; acknowledged: number; seconds: number; receiptsPerSecond: number; heapGrowthMb: number; peakRssMb: number; error: string | null };
  } finally {
    await market.close();
  }
}

const small = await flushBench(quick ? 10_000 : 100_000);
console.log(`courier flush of ${small.pending} receipts to a local market (batches of 500)`);
console.log(`  ${fmt(small.receiptsPerSecond, 0)} receipts/s, ${fmt(small.seconds, 1)} s, peak RSS ${fmt(small.peakRssMb, 1)} MB, heap growth ${fmt(small.heapGrowthMb, 1)} MB, acknowledged ${small.acknowledged}\n`);
if (!quick) {
  const big = await flushBench(1_000_000);
  console.log(`courier flush of ${big.pending} receipts`);
  console.log(`  ${fmt(big.receiptsPerSecond, 0)} receipts/s, ${fmt(big.seconds, 1)} s, peak RSS ${fmt(big.peakRssMb, 1)} MB, heap growth ${fmt(big.heapGrowthMb, 1)} MB, acknowledged ${big.acknowledged}`);
  console.log(`  heap growth 1M / 100k = ${fmt(big.heapGrowthMb / small.heapGrowthMb)}x   target <= 1.2x`);
}
