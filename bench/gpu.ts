/**
 * npm run bench:gpu — BLAKE3 throughput by slice size on the GPU host (Dawn, whatever adapter
 * this machine has) against the CPU worker pool, printed as ratios (>1 means the GPU is faster).
 * Not a test: figures go to docs/PERFORMANCE.md. `--quick` stops at 16 MiB; `--max-mib N` caps sizes.
 * A software adapter (llvmpipe, SwiftShader) takes no work in a node, so it is measured only
 * with `--allow-software` (the figures are then informational). A second table compares a market
 * job's two digests in one pass (plain + keyed, `digestBytes`) with the plain digest alone.
 */
import { availableParallelism } from 'node:os';
import { toHex } from '../src/core/hex.js';
import { GPU_MIN_SPEEDUP } from '../src/core/workloads/gpu-dispatch.js';
import { loadNativeBlake3 } from '../src/node/hash/node-hasher.js';
import { openDawnChannel } from '../src/main/gpu/dawn-host.js';
import { GpuHashService } from '../src/main/gpu/gpu-hash-service.js';
import { createMetricsRegistry } from '../src/main/metrics.js';
import { HashWorkerPool } from '../src/main/services/worker-pool.js';
import { fmt, machine } from './common.js';

const KiB = 1 << 10;
const MiB = 1 << 20;
const quick = process.argv.includes('--quick');
const allowSoftware = process.argv.includes('--allow-software');
const maxArg = process.argv.indexOf('--max-mib');
const maxBytes = maxArg > 0 ? Number(process.argv[maxArg + 1]) * MiB : quick ? 16 * MiB : 256 * MiB;
const SIZES = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB].filter((s) => s <= maxBytes);
const cores = availableParallelism();

/** Timed repetitions: enough to cover ~256 MiB of work at small sizes, at least 3 at large ones. */
const repsFor = (bytes: number) => Math.min(64, Math.max(3, Math.ceil((256 * MiB) / bytes / 4)));

function input(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const words = new Uint32Array(out.buffer);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

console.log(`bench:gpu on ${machine()}, ${new Date().toISOString()}`);
const gpu = new GpuHashService({
  openHost: () => openDawnChannel(),
  registry: createMetricsRegistry(),
  initTimeoutMs: 120_000,
  jobTimeoutMs: 600_000,
});
const caps = await gpu.start();
if (!gpu.ready || !caps.adapter) {
  console.log('no WebGPU adapter (Dawn found none): nothing to compare; every job would run on the CPU pool');
  await gpu.close();
  process.exit(0);
}
const a = caps.adapter;
if (a.software && !allowSoftware) {
  console.log(
    `the only adapter is a software one (${a.device || a.description}): a node gives it no work (GpuHash runs on the CPU); pass --allow-software to measure it anyway`,
  );
  await gpu.close();
  process.exit(0);
}
console.log(
  `adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ')} (${a.featureLevel}${a.software ? ', SOFTWARE adapter: figures are informational' : ''})`,
);
console.log(`kernel segment: ${gpu.segmentBytes / MiB} MiB; CPU pool: ${cores} workers, ${cores} slices at once\n`);

const pool = new HashWorkerPool(cores);
const cpu = loadNativeBlake3();
await Promise.all(Array.from({ length: cores * 2 }, () => pool.hashBytes(new Uint8Array(MiB)))); // warm the workers

console.log('slice size | GPU MB/s | CPU pool MB/s | GPU / CPU pool | Transcode/Inference on GPU?');
console.log('---------- | -------- | ------------- | -------------- | ---------------------------');
const rows: string[] = [];
for (const bytes of SIZES) {
  const data = input(bytes);
  const want = toHex(cpu.hash(data));
  if ((await gpu.hashBytes(data)) !== want) throw new Error(`GPU digest differs from the CPU at ${bytes} bytes`);
  const reps = repsFor(bytes);
  const gpuTimes: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await gpu.hashBytes(data);
    gpuTimes.push(performance.now() - t);
  }
  const cpuTimes: number[] = [];
  for (let r = 0; r < Math.max(3, Math.ceil(reps / cores)); r++) {
    const copies = Array.from({ length: cores }, () => data.slice()); // the pool takes each buffer over
    const t = performance.now();
    await Promise.all(copies.map((c) => pool.hashBytes(c)));
    cpuTimes.push(performance.now() - t);
  }
  const gpuMBs = bytes / 1e6 / (median(gpuTimes) / 1000);
  const cpuMBs = (bytes * cores) / 1e6 / (median(cpuTimes) / 1000);
  const ratio = gpuMBs / cpuMBs;
  const size = bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
  const row = `${size.padStart(10)} | ${fmt(gpuMBs, 0).padStart(8)} | ${fmt(cpuMBs, 0).padStart(13)} | ${`${fmt(ratio)}x`.padStart(14)} | ${ratio >= GPU_MIN_SPEEDUP ? 'yes' : 'no'}`;
  rows.push(row);
  console.log(row);
}
console.log(
  `\nRatios above ${GPU_MIN_SPEEDUP}x send Transcode/Inference slices of that size to a hardware GPU (start-up calibration); GpuHash always uses a ready hardware GPU. A software adapter gets work only with allowSoftwareAdapter (tests, benchmarks).`,
);

// A market GpuHash job makes both digests (plain + keyed under the assignment key) in one pass:
// the same upload and dispatches, each block compressed twice. Runs alternate so load hits both.
const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff);
console.log('\nslice size | plain alone MB/s | plain + keyed, one pass MB/s | one pass / plain');
console.log('---------- | ---------------- | ---------------------------- | ----------------');
for (const bytes of SIZES) {
  const data = input(bytes);
  const both = await gpu.digestBytes(data, key);
  if (both.resultHash !== toHex(cpu.hash(data)) || both.proof !== toHex(cpu.keyed(key, data)))
    throw new Error(`GPU keyed digests differ from the CPU at ${bytes} bytes`);
  const plainTimes: number[] = [];
  const bothTimes: number[] = [];
  for (let r = 0; r < repsFor(bytes); r++) {
    let t = performance.now();
    await gpu.hashBytes(data);
    plainTimes.push(performance.now() - t);
    t = performance.now();
    await gpu.digestBytes(data, key);
    bothTimes.push(performance.now() - t);
  }
  const plainMBs = bytes / 1e6 / (median(plainTimes) / 1000);
  const bothMBs = bytes / 1e6 / (median(bothTimes) / 1000);
  const size = bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
  console.log(
    `${size.padStart(10)} | ${fmt(plainMBs, 0).padStart(16)} | ${fmt(bothMBs, 0).padStart(28)} | ${`${fmt(bothMBs / plainMBs)}x`.padStart(16)}`,
  );
}
await pool.close();
await gpu.close();
