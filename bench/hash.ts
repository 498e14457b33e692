/**
 * npm run bench:hash — `tessera hash` and the worker pool against b3sum, in one run on the same files.
 * Prints throughput and ratios (>1 means Tessera is faster). Not a test: figures go to docs/PERFORMANCE.md.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { loadBlake3 } from '../src/node/hash/node-hasher.js';
import { HashWorkerPool } from '../src/main/services/worker-pool.js';
import { hashSplit } from '../src/node/hash/split-file.js';
import { loadSubtreeHasher } from '../src/node/hash/subtree-hasher.js';
import { benchDir, ensureCliBuilt, fmt, machine, peakRssMb, timeCommand } from './common.js';

const MiB = 1 << 20;
const cores = availableParallelism();
const quick = process.argv.includes('--quick');
/** `--split-only`: only case 1b (one 256 MiB file on all threads). */
const splitOnly = process.argv.includes('--split-only');

function ensureFile(path: string, bytes: number, seed: number): string {
  if (existsSync(path) && statSync(path).size === bytes) return path;
  const block = new Uint8Array(64 * MiB);
  let x = seed >>> 0 || 1;
  const words = new Uint32Array(block.buffer);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes;) {
    const n = Math.min(block.length, bytes - done);
    block[0] = (done / block.length) & 0xff; // blocks differ, so nothing deduplicates
    writeSync(fd, block, 0, n);
    done += n;
  }
  closeSync(fd);
  return path;
}

const cli = ensureCliBuilt();
const node = process.execPath;
console.log(`bench:hash on ${machine()}, ${new Date().toISOString()}`);
console.log(`b3sum: ${execFileSync('b3sum', ['--version'], { encoding: 'utf8' }).trim()}\n`);

// 1. One 256 MiB file, one thread each.
const big = ensureFile(join(benchDir, 'single-256MiB.bin'), 256 * MiB, 1);
const ref1 = timeCommand('b3sum', ['--num-threads', '1', big]);
const ours1 = timeCommand(node, [cli, 'hash', '--threads', '1', big]);
const nodeStart = timeCommand(node, ['-e', '0']);
const hasher = await loadBlake3();
const { hashFileSync } = await import('../src/node/hash/hash-file.js');
hashFileSync(hasher, big);
const inproc = Array.from({ length: 5 }, () => {
  const t = performance.now();
  hashFileSync(hasher, big);
  return performance.now() - t;
}).sort((a, b) => a - b)[2] as number;
console.log('single 256 MiB file, 1 thread');
console.log(`  b3sum --num-threads 1     ${fmt(ref1, 1)} ms  (${fmt(256 / (ref1 / 1000), 0)} MiB/s)`);
console.log(
  `  tessera hash --threads 1  ${fmt(ours1, 1)} ms  (whole command; Node itself starts in ${fmt(nodeStart, 1)} ms)`,
);
console.log(`  in-process streaming hash ${fmt(inproc, 1)} ms  (what a running node pays per file)`);
console.log(`  ratio (command)    ${fmt(ref1 / ours1)}x   target >= 1.0x`);
console.log(`  ratio (in-process) ${fmt(ref1 / inproc)}x\n`);

ensureFile(join(benchDir, 'many-0.bin'), 4 * MiB, 100);

// 1b. The same file on all threads: b3sum splits it along BLAKE3's tree, and so does tessera
// hash (subtrees on native threads, merged into the root).
const refAll = timeCommand('b3sum', ['--num-threads', String(cores), big]);
// b3sum memory-maps a file; on a busy VM its page faults can cost more than the hashing, which
// flatters the ratio. Its read path (one thread: b3sum 1.2 reads without mmap on one thread only)
// shows how much.
const refRead = timeCommand('b3sum', ['--no-mmap', big]);
const oursAll = timeCommand(node, [cli, 'hash', '--threads', String(cores), big]);
const cliStart = timeCommand(node, [cli, 'hash', '--threads', '1', join(benchDir, 'many-0.bin')]);
const subtree = loadSubtreeHasher();
console.log(`single 256 MiB file, ${cores} threads (all)`);
console.log(`  b3sum --num-threads ${cores}      ${fmt(refAll, 1)} ms  (${fmt(256 / (refAll / 1000), 0)} MiB/s)`);
console.log(`  b3sum --no-mmap (1 thread)  ${fmt(refRead, 1)} ms  (reads instead of mapping the file)`);
console.log(`  tessera hash of a 4 MiB file ${fmt(cliStart, 1)} ms  (Node and the CLI starting, nearly no hashing)`);
console.log(
  `  tessera hash --threads ${cores}   ${fmt(oursAll, 1)} ms  (whole command; Node itself starts in ${fmt(nodeStart, 1)} ms)`,
);
if (!subtree) {
  console.log('  native/blake3-subtree is not built: tessera hash used one thread for the file\n');
} else {
  const splitMs = async (threads: number) => {
    const once = async () => {
      const t = performance.now();
      await hashSplit({ source: big, byteLength: 256 * MiB, key: null, threads, subtree });
      return performance.now() - t;
    };
    await once();
    const runs: number[] = [];
    for (let rep = 0; rep < 5; rep++) runs.push(await once());
    return runs.sort((a, b) => a - b)[2] as number;
  };
  const byThreads: [number, number, number][] = [];
  for (let threads = 1; threads <= cores; threads++) {
    byThreads.push([threads, await splitMs(threads), timeCommand('b3sum', ['--num-threads', String(threads), big])]);
  }
  const inprocAll = (byThreads[byThreads.length - 1] as [number, number, number])[1];
  console.log(`  split in a running node    ${fmt(inprocAll, 1)} ms`);
  console.log(`  ratio (command)                    ${fmt(refAll / oursAll)}x`);
  console.log(
    `  ratio (command, Node start aside)  ${fmt(refAll / Math.max(1, oursAll - nodeStart))}x   target >= 0.9x`,
  );
  console.log(`  ratio (command, CLI start aside)   ${fmt(refAll / Math.max(1, oursAll - cliStart))}x`);
  console.log(`  ratio (in-process)                 ${fmt(refAll / inprocAll)}x`);
  console.log('  MB/s by threads, split in a running node | b3sum (same run):');
  for (const [threads, ms, ref] of byThreads) {
    console.log(
      `    ${String(threads).padStart(2)} thread(s)  ${fmt((256 * MiB) / 1e6 / (ms / 1000), 0)} | ${fmt((256 * MiB) / 1e6 / (ref / 1000), 0)} MB/s`,
    );
  }
  console.log('');
}
if (splitOnly) process.exit(0);

// 2. 64 files of 4 MiB, N = cores threads each.
const many = Array.from({ length: 64 }, (_, i) => ensureFile(join(benchDir, `many-${i}.bin`), 4 * MiB, 100 + i));
const refN = timeCommand('b3sum', ['--num-threads', String(cores), ...many]);
const oursN = timeCommand(node, [cli, 'hash', '--threads', String(cores), ...many]);
const filePool = new HashWorkerPool(cores);
await Promise.all(many.slice(0, cores).map((f) => filePool.hashFile(f))); // warm workers, as in a running node
const poolFileRuns: number[] = [];
for (let rep = 0; rep < 5; rep++) {
  const t = performance.now();
  await Promise.all(many.map((f) => filePool.hashFile(f)));
  poolFileRuns.push(performance.now() - t);
}
await filePool.close();
const poolFilesMs = poolFileRuns.sort((a, b) => a - b)[2] as number;
console.log(`64 files of 4 MiB, ${cores} threads`);
console.log(`  b3sum --num-threads ${cores}          ${fmt(refN, 1)} ms`);
console.log(
  `  tessera hash --threads ${cores}       ${fmt(oursN, 1)} ms  (whole command, includes Node and worker start-up)`,
);
console.log(`  worker pool in a running node  ${fmt(poolFilesMs, 1)} ms`);
console.log(`  ratio (command)    ${fmt(refN / oursN)}x   target >= 0.9x`);
console.log(`  ratio (in-process) ${fmt(refN / poolFilesMs)}x\n`);

// 3. 1 MiB in-memory slices through the pool vs hashed on the calling thread.
const sliceCount = quick ? 128 : 512;
const slices = () => Array.from({ length: sliceCount }, (_, i) => new Uint8Array(MiB).fill(i & 0xff));
const pool = new HashWorkerPool(cores);
await Promise.all(
  slices()
    .slice(0, cores * 2)
    .map((s) => pool.hashBytes(s)),
); // warm the workers
const poolRuns: number[] = [];
const threadRuns: number[] = [];
for (let rep = 0; rep < 3; rep++) {
  let input = slices();
  let t = performance.now();
  await Promise.all(input.map((s) => pool.hashBytes(s)));
  poolRuns.push(performance.now() - t);
  input = slices();
  t = performance.now();
  for (const s of input) hasher.hash(s);
  threadRuns.push(performance.now() - t);
}
await pool.close();
const poolMs = poolRuns.sort((a, b) => a - b)[1] as number;
const threadMs = threadRuns.sort((a, b) => a - b)[1] as number;
console.log(`${sliceCount} slices of 1 MiB`);
console.log(
  `  pool of ${cores} workers (buffers transferred)  ${fmt(poolMs, 1)} ms  (${fmt(sliceCount / (poolMs / 1000), 0)} slices/s)`,
);
console.log(
  `  in-thread                                ${fmt(threadMs, 1)} ms  (${fmt(sliceCount / (threadMs / 1000), 0)} slices/s)`,
);
console.log(`  ratio ${fmt(threadMs / poolMs)}x   target >= 0.8x\n`);

// 4. Peak RSS hashing a 2 GiB file.
if (!quick) {
  const huge = ensureFile(join(benchDir, 'huge-2GiB.bin'), 2048 * MiB, 7);
  const rss = peakRssMb(node, [cli, 'hash', huge]);
  const rssPool = peakRssMb(node, [cli, 'hash', '--threads', '2', huge, many[0] as string]);
  console.log('2 GiB file');
  console.log(`  peak RSS, tessera hash (one file)        ${fmt(rss, 1)} MB   target <= 150 MB`);
  console.log(`  peak RSS, tessera hash (worker pool)     ${fmt(rssPool, 1)} MB`);
}
