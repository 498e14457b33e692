import { randomUUID } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Clock } from '../../core/clock.js';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { toHex } from '../../core/hex.js';
import type { MarketStore } from '../store/market-store.js';

/** How many bytes of a slice one `task_slice_chunks` row holds (the last chunk of a slice may be shorter). */
export const SLICE_CHUNK_BYTES = 1024 * 1024;

export interface SliceChunkDeps {
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
}

/** What `writeSliceChunks` stored: the upload its chunks are under, the byte count and the BLAKE3 of the bytes. */
export interface WrittenSlice {
  uploadId: string;
  bytes: number;
  blake3: string;
}

/**
 * Streams `source` into the store as the chunks of a new upload of slice n of `taskId`, hashing
 * with BLAKE3 on the way; at most one chunk is held in memory. `check` sees the running byte
 * count before each piece is taken and returns the error that stops the upload (a limit). The
 * chunks belong to no slice until the caller's `slices.put` names the upload; on any failure
 * here they are dropped before this rejects (and if even that fails, they are old chunks no
 * slice points at, which `slices.dropAbandoned` removes at the next start).
 */
export async function writeSliceChunks(
  deps: SliceChunkDeps,
  target: { taskId: string; n: number },
  source: Readable,
  check: (bytesSoFar: number) => Error | undefined = () => undefined,
): Promise<WrittenSlice> {
  const uploadId = randomUUID();
  const hash = deps.blake3.create();
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      const stop = check(bytes);
      if (stop) return done(stop);
      hash.update(chunk);
      done(null, chunk);
    },
  });
  let held: Buffer[] = [];
  let heldBytes = 0;
  let chunkNo = 0;
  let stored = 0;
  // The chunk being written: a failure elsewhere in the pipeline (a limit) can come while it is, and
  // its chunks are dropped only once it has settled (else it would commit after the drop).
  let writing: Promise<unknown> = Promise.resolve();
  const store = (data: Buffer): Promise<void> => {
    const chunk = { uploadId, taskId: target.taskId, n: target.n, chunkNo: chunkNo++, byteOffset: stored, data };
    stored += data.length;
    const done = deps.store.transaction((tx) => tx.slices.putChunk(chunk, deps.clock.now()));
    writing = done.catch(() => undefined);
    return done;
  };
  const sink = new Writable({
    write(piece: Buffer, _enc, done) {
      held.push(piece);
      heldBytes += piece.length;
      if (heldBytes < SLICE_CHUNK_BYTES) return done();
      void (async () => {
        let all = Buffer.concat(held, heldBytes);
        while (all.length >= SLICE_CHUNK_BYTES) {
          await store(all.subarray(0, SLICE_CHUNK_BYTES));
          all = all.subarray(SLICE_CHUNK_BYTES);
        }
        held = all.length > 0 ? [all] : [];
        heldBytes = all.length;
      })().then(() => done(), done);
    },
    final(done) {
      if (heldBytes === 0) return done();
      store(Buffer.concat(held, heldBytes)).then(() => done(), done);
    },
  });
  try {
    await pipeline(source, meter, sink);
  } catch (err) {
    await writing;
    await deps.store.transaction((tx) => tx.slices.dropUpload(uploadId)).catch(() => undefined);
    throw err;
  }
  return { uploadId, bytes, blake3: toHex(hash.digest()) };
}
