import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { toHex } from '../../core/hex.js';
import { WorkloadError } from '../../core/workloads/workload.js';

/** Read size for streamed files: large enough for BLAKE3's multi-chunk SIMD path, small enough to stay in cache. */
const READ_BYTES = 1 << 21;
let readBuffer: Buffer | undefined;

/**
 * Streams a file through BLAKE3 with one reused read buffer, so memory stays flat for any
 * file size. Synchronous: call it from a worker thread, or from a CLI hashing a single input.
 */
export function hashFileSync(hasher: Blake3Hasher, path: string | Buffer): { digest: string; bytes: number } {
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).isDirectory()) throw new WorkloadError('BAD_SLICE', `${path} is a directory, not a slice file`);
    readBuffer ??= Buffer.allocUnsafeSlow(READ_BYTES);
    const h = hasher.create();
    let total = 0;
    for (;;) {
      const n = readSync(fd, readBuffer, 0, READ_BYTES, null);
      if (n === 0) break;
      h.update(n === READ_BYTES ? readBuffer : readBuffer.subarray(0, n));
      total += n;
    }
    return { digest: toHex(h.digest()), bytes: total };
  } finally {
    closeSync(fd);
  }
}
