import { closeSync, openSync, readSync } from 'node:fs';
import {
  CHUNK_LEN,
  chainingValueFromBytes,
  keyedMode,
  largestSegmentSize,
  PLAIN_MODE,
  planSegments,
  rootFromSegments,
  type ChainingValue,
  type SegmentSpan,
} from '../../core/hash/blake3-tree.js';
import { WorkloadError } from '../../core/workloads/workload.js';
import type { SubtreeHasher } from './subtree-hasher.js';

const MiB = 1 << 20;

/**
 * Inputs at least this large are split across threads. Below it one thread finishes before a
 * second one has started (a worker thread takes 30–50 ms to start; one core hashes ~5 GB/s).
 */
export const SPLIT_MIN_BYTES = 16 * MiB;

/**
 * Segment size for `byteLength` bytes on `threads` threads: about eight segments per thread so
 * a slow thread leaves little tail, between 1 and 16 MiB (a power-of-two number of chunks, as the
 * BLAKE3 tree requires), so each read stays small and each segment keeps the SIMD paths busy.
 */
export function splitSegmentBytes(byteLength: number, threads: number): number {
  const target = Math.min(16 * MiB, Math.max(MiB, Math.floor(byteLength / (threads * 8))));
  return largestSegmentSize(target);
}

/** Reads one segment of a file into `buffer` (grown when too small) and returns its chaining value. */
export function hashFileSegmentSync(
  subtree: SubtreeHasher,
  path: string,
  span: SegmentSpan,
  key: Uint8Array | null,
  buffer: { bytes: Buffer | undefined },
): Uint8Array {
  if (span.offset % CHUNK_LEN !== 0 || span.firstChunk !== span.offset / CHUNK_LEN) throw new RangeError(`segment at ${span.offset} does not start at chunk ${span.firstChunk}`);
  if (!buffer.bytes || buffer.bytes.length < span.length) buffer.bytes = Buffer.allocUnsafeSlow(span.length);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < span.length) {
      const n = readSync(fd, buffer.bytes, got, span.length - got, span.offset + got);
      if (n === 0) throw new WorkloadError('BAD_SLICE', `${path} became shorter while it was being hashed; hash it again once it is no longer written to`);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return subtree.chainingValue(buffer.bytes.subarray(0, span.length), span.firstChunk, key);
}

/** A thread that hashes segments elsewhere (a worker): resolves to the segment's chaining value. */
export type SegmentLane = (span: SegmentSpan) => Promise<Uint8Array>;

/**
 * BLAKE3 (plain, or keyed under `key`) of the first `byteLength` bytes of a file, split into
 * subtrees at their chunk counters: the calling thread and every lane take segments from one
 * queue, and the chaining values are merged into the root here. Needs at least two segments
 * (`byteLength` above one segment); smaller inputs are hashed whole.
 */
export async function hashFileSplit(opts: {
  path: string;
  byteLength: number;
  key: Uint8Array | null;
  subtree: SubtreeHasher;
  lanes: readonly SegmentLane[];
  segmentBytes?: number;
}): Promise<Uint8Array> {
  const { path, byteLength, key, subtree, lanes } = opts;
  const segmentBytes = opts.segmentBytes ?? splitSegmentBytes(byteLength, lanes.length + 1);
  const spans = planSegments(byteLength, segmentBytes);
  if (spans.length < 2) throw new RangeError(`${byteLength} bytes fit in one ${segmentBytes}-byte segment; hash them whole`);
  const cvs: ChainingValue[] = new Array<ChainingValue>(spans.length);
  let next = 0;
  let failed = false;
  const take = (): number | undefined => (failed || next >= spans.length ? undefined : next++);
  const guard = async (loop: () => Promise<void>) => {
    try {
      await loop();
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  const remote = (lane: SegmentLane) =>
    guard(async () => {
      for (let i = take(); i !== undefined; i = take()) cvs[i] = chainingValueFromBytes(await lane(spans[i] as SegmentSpan));
    });
  const local = () =>
    guard(async () => {
      const buffer: { bytes: Buffer | undefined } = { bytes: undefined };
      for (let i = take(); i !== undefined; i = take()) {
        cvs[i] = chainingValueFromBytes(hashFileSegmentSync(subtree, path, spans[i] as SegmentSpan, key, buffer));
        await new Promise((r) => setImmediate(r)); // let the lanes' answers in, so their next segment is posted at once
      }
    });
  // Lanes first: the calling thread's first synchronous segment must not delay their start.
  await Promise.all([...lanes.map(remote), local()]);
  return rootFromSegments(cvs, key ? keyedMode(key) : PLAIN_MODE);
}
