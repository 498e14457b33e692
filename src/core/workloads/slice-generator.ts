import type { Sha256 } from '../hash/hasher.js';
import { utf8 } from '../hex.js';
import { Xoshiro128 } from './synthetic.js';

/**
 * Deterministic slice bytes: xoshiro128** seeded with SHA-256("tessera-slice:" + seed),
 * each output written as 4 little-endian bytes. Yields chunks of at most `chunkBytes`.
 */
export function* generateSlice(
  seed: string,
  size: number,
  sha256: Sha256,
  chunkBytes = 1 << 20,
): Generator<Uint8Array> {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new Error(`slice size must be a whole number of bytes, got ${size}`);
  const rng = new Xoshiro128(sha256(utf8(`tessera-slice:${seed}`)));
  const step = Math.max(4, chunkBytes - (chunkBytes % 4));
  for (let done = 0; done < size;) {
    const n = Math.min(step, size - done);
    const chunk = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = rng.next();
      chunk[i] = v & 0xff;
      if (i + 1 < n) chunk[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) chunk[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) chunk[i + 3] = v >>> 24;
    }
    done += n;
    yield chunk;
  }
}
