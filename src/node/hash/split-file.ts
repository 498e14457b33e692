import {
  chainingValueFromBytes,
  keyedMode,
  largestSegmentSize,
  PLAIN_MODE,
  rootFromSegments,
  type ChainingValue,
} from '../../core/hash/blake3-tree.js';
import { WorkloadError } from '../../core/workloads/workload.js';
import type { SubtreeHasher } from './subtree-hasher.js';

const KiB = 1 << 10;
const MiB = 1 << 20;

/**
 * Inputs at least this large are split across threads; below it the threads' start and the
 * merge cost more than they save (one core hashes ~5 GB/s, 16 MiB in ~3 ms).
 */
export const SPLIT_MIN_BYTES = 16 * MiB;

/**
 * Segment size for `byteLength` bytes on `threads` threads: about eight segments per thread so
 * a slow thread leaves little tail, from 256 KiB to 2 MiB (a power-of-two number of chunks, as the
 * BLAKE3 tree requires). A segment is read whole before it is hashed, so a small one stays in the
 * core's cache: 16 MiB segments measured 1.5–2× slower than 2 MiB ones.
 */
export function splitSegmentBytes(byteLength: number, threads: number): number {
  return largestSegmentSize(Math.min(2 * MiB, Math.max(256 * KiB, Math.floor(byteLength / (threads * 8)))));
}

/**
 * BLAKE3 (plain, or keyed under `key`) of the first `byteLength` bytes of a file (by path) or of a
 * byte array, split along BLAKE3's tree: segments (whole subtrees at their chunk counters) are
 * hashed on `threads` native threads and their chaining values merged into the root here.
 * Needs `byteLength` above one segment; smaller inputs are hashed whole.
 */
export async function hashSplit(opts: {
  source: string | Uint8Array;
  byteLength: number;
  key: Uint8Array | null;
  threads: number;
  subtree: SubtreeHasher;
  segmentBytes?: number;
}): Promise<Uint8Array> {
  const { source, byteLength, key, threads, subtree } = opts;
  const segmentBytes = opts.segmentBytes ?? splitSegmentBytes(byteLength, threads);
  let packed: Uint8Array;
  try {
    packed = await subtree.chainingValues(source, byteLength, segmentBytes, threads, key);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A file that shrank mid-hash is the input's fault, like a short read; fs errors keep their code.
    if (typeof source === 'string' && code === undefined && /became shorter/.test(String(err))) {
      throw new WorkloadError(
        'BAD_SLICE',
        `${source} became shorter while it was being hashed; hash it again once nothing writes to it`,
      );
    }
    throw err;
  }
  const cvs: ChainingValue[] = [];
  for (let off = 0; off < packed.length; off += 32) cvs.push(chainingValueFromBytes(packed.subarray(off, off + 32)));
  return rootFromSegments(cvs, key ? keyedMode(key) : PLAIN_MODE);
}
