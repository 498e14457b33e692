/**
 * Pricing benchmark (`npm run bench:pricing`): the cost of one price board update at windows
 * 100 and 10,000 against copy-and-sort, and admission decisions per second.
 * Figures are recorded in docs/PERFORMANCE.md.
 */
import { AdmissionController, type AdmissionConfig } from '../src/core/pricing/admission.js';
import type { Clock } from '../src/core/clock.js';
import { PriceBoard } from '../src/core/pricing/price-board.js';
import { SortedWindow } from '../src/core/pricing/sorted-window.js';
import type { BondLedger } from '../src/core/pricing/sla.js';
import { defaultConfig } from '../src/main/config/load-config.js';
import { jsonLineSink, sinkLogger } from '../src/node/log.js';
import { createMetricsRegistry } from '../src/main/metrics.js';
import { AdmissionService } from '../src/main/services/admission-service.js';
import { machine } from './common.js';

/** Deterministic pseudo-random u64 prices (xorshift64*). */
function prices(n: number, seed = 0x9e3779b97f4a7c15n): BigUint64Array {
  const out = new BigUint64Array(n);
  let x = seed;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < n; i++) {
    x ^= x >> 12n;
    x ^= (x << 25n) & mask;
    x ^= x >> 27n;
    out[i] = (x * 0x2545f4914f6cdd1dn) & mask;
  }
  return out;
}

/** Runs `fn(i)` for i in [0, ops) after a warm-up; returns nanoseconds per op (best of 3). */
function timePerOp(ops: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(ops, 2000); i++) fn(i);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / ops);
  }
  return best;
}

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
let sink = 0n;

function updateCosts(window: number, ops: number) {
  const input = prices(window + 4096);
  const at = (i: number) => input[(window + (i % 4096)) % input.length] as bigint;

  // Ordered window: binary search + one memmove per update; the median is an index lookup.
  const sorted = new SortedWindow(window);
  for (let i = 0; i < window; i++) sorted.push(input[i] as bigint);
  const ours = timePerOp(ops, (i) => {
    sorted.push(at(i));
    sink ^= sorted.percentile(50) as bigint;
  });

  // Copy-and-sort, typed: a BigUint64Array ring, then copy + native sort to read the median.
  const ring = input.slice(0, window);
  let head = 0;
  const typed = timePerOp(Math.max(50, ops / 20), (i) => {
    ring[head] = at(i);
    head = (head + 1) % window;
    const copy = ring.slice().sort();
    sink ^= copy[(window - 1) >> 1] as bigint;
  });

  // Copy-and-sort, plain: an array of bigint, shift/push, then spread + sort with a comparator.
  const plain = Array.from(input.subarray(0, window));
  const naive = timePerOp(Math.max(50, ops / 50), (i) => {
    plain.shift();
    plain.push(at(i));
    const copy = [...plain].sort(cmp);
    sink ^= copy[(window - 1) >> 1] as bigint;
  });
  return { window, ours, typed, naive };
}

const config: AdmissionConfig = {
  guard: { feeThreshold: 1_000_000n, ageLimitMs: 30_000, recoveryPercent: 90, recoveryMs: 60_000 },
  capacityWindowMs: 60_000,
  maxQueuedPerLane: 10_000,
  maxDeferred: 1_000,
};
const clock: Clock = { now: () => Date.now() };
const ledger: BondLedger = { slash: () => true };

/** Decisions per second: a steady stream of jobs, half consumer, half industrial, every fifth deferred. */
function admissionRate(submit: (i: number) => void, drain: (i: number) => void, ops: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    submit(i);
    drain(i);
  }
  return ops / (Number(process.hrtime.bigint() - t) / 1e9);
}

function coreAdmission(ops: number): number {
  const ctl = new AdmissionController(config, { clock, board: new PriceBoard(100), ledger });
  const ids: string[] = [];
  return admissionRate(
    (i) => {
      if (i % 1000 === 0) ctl.capacity.report('provider', 64);
      const industrial = i % 2 === 1;
      const d = ctl.submit({
        id: `j${i}`,
        lane: industrial ? 'industrial' : 'consumer',
        fee: BigInt(1000 + (i % 97)),
        shards: industrial ? 1 + (i % 8) : 1,
      });
      if (d.outcome === 'admitted') ids.push(d.jobId);
      if (d.outcome === 'deferred') ctl.cancel(d.jobId);
    },
    () => {
      if (ids.length > 24) {
        const id = ids.shift() as string;
        ctl.take('consumer');
        ctl.finish(id);
      }
    },
    ops,
  );
}

function serviceAdmission(ops: number): number {
  let bytes = 0;
  const logger = sinkLogger(
    jsonLineSink((line) => {
      bytes += line.length; // formatted like production, written nowhere
    }),
  );
  const service = new AdmissionService({
    config: { ...defaultConfig(), comfort_threshold_p90: 1_000_000n },
    board: new PriceBoard(100),
    ledger,
    registry: createMetricsRegistry(),
    logger,
    clock,
  });
  const ids: string[] = [];
  const rate = admissionRate(
    (i) => {
      if (i % 1000 === 0) service.reportCapacity('provider', 64);
      const industrial = i % 2 === 1;
      const d = service.submit({
        id: `j${i}`,
        lane: industrial ? 'industrial' : 'consumer',
        fee: BigInt(1000 + (i % 97)),
        shards: industrial ? 1 + (i % 8) : 1,
      });
      if (d.outcome === 'admitted') ids.push(d.jobId);
      if (d.outcome === 'deferred') service.cancel(d.jobId);
    },
    () => {
      if (ids.length > 24) {
        service.take('consumer');
        service.finish(ids.shift() as string);
      }
    },
    ops,
  );
  if (bytes === 0) throw new Error('no decisions were logged');
  return rate;
}

const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);

console.log(`pricing benchmark — ${machine()}\n`);
console.log('price board update (record one price, read the median), per update:');
console.log('window   ordered window   copy+sort (BigUint64Array)   copy+sort (bigint[])   speed-up vs typed / plain');
for (const [window, ops] of [
  [100, 200_000],
  [10_000, 20_000],
] as const) {
  const r = updateCosts(window, ops);
  console.log(
    `${String(window).padStart(6)}   ${fmt(r.ours).padStart(14)}   ${fmt(r.typed).padStart(26)}   ${fmt(r.naive).padStart(20)}   ${(r.typed / r.ours).toFixed(0).padStart(6)}× / ${(r.naive / r.ours).toFixed(0)}×`,
  );
}
console.log('\nadmission decisions per second (half consumer, half industrial; shards 1–8 of 64):');
const core = coreAdmission(300_000);
console.log(`  core AdmissionController:                   ${Math.round(core).toLocaleString('en-US')} /s`);
const svc = serviceAdmission(100_000);
console.log(`  AdmissionService (JSON log line + metrics): ${Math.round(svc).toLocaleString('en-US')} /s`);
if (sink === 42n) console.log(''); // keeps the measured work observable
