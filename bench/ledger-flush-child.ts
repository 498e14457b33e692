/**
 * Child process of bench:ledger: flushes the courier queue of a data dir to a market and
 * reports throughput, peak RSS and heap growth during the flush as one JSON line.
 *   tsx bench/ledger-flush-child.ts <dataDir> <marketUrl>
 */
import { openLedger } from '../src/main/ledger.js';

const [dataDir, market] = process.argv.slice(2) as [string, string];
const ctx = await openLedger({
  dataDir,
  verifyReceipts: false,
  courier: { batchSize: 500, maxBatchBytes: 64 << 20, maxAttempts: 10, backoffBaseMs: 10 },
});
const pending = ctx.courier.countPending();
global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
let heapMax = heapBefore;
const t = performance.now();
const summary = await ctx.courier.flush(market, () => {
  heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
});
const seconds = (performance.now() - t) / 1000;
ctx.close();
process.stdout.write(
  `${JSON.stringify({
    pending,
    acknowledged: summary.accepted + summary.duplicate,
    error: summary.error ?? null,
    seconds,
    receiptsPerSecond: pending / seconds,
    heapGrowthMb: (heapMax - heapBefore) / 2 ** 20,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
