import { createRequire } from 'node:module';
import { BLAKE3_KEY_BYTES } from '../../core/hash/hasher.js';

/**
 * BLAKE3 subtree chaining values at a chunk offset, the piece a split hash needs and the npm
 * BLAKE3 bindings lack (they only finalize a whole input as the root).
 */
export interface SubtreeHasher {
  /**
   * The chaining value (32 bytes, not the root) of `data` as the subtree whose first chunk has
   * index `firstChunk`, on this thread; `key` (32 bytes) for keyed mode, null for the plain hash.
   */
  chainingValue(data: Uint8Array, firstChunk: number, key: Uint8Array | null): Uint8Array;
  /**
   * The chaining values (32 bytes each, concatenated) of the segments of the first `length` bytes
   * of a file (by path) or of a byte array, segments of `segmentBytes` (the last holds the rest),
   * hashed on `threads` native threads off the JavaScript thread. `length` must exceed one segment.
   */
  chainingValues(
    source: string | Uint8Array,
    length: number,
    segmentBytes: number,
    threads: number,
    key: Uint8Array | null,
  ): Promise<Uint8Array>;
}

interface SubtreeBinding {
  chainingValue(data: Uint8Array, firstChunk: number, key: Uint8Array | null): Buffer;
  chainingValues(
    source: string | Uint8Array,
    length: number,
    segmentBytes: number,
    threads: number,
    key: Uint8Array | null,
  ): Promise<Buffer>;
}

let cached: SubtreeHasher | null | undefined;

function checkKey(key: Uint8Array | null): void {
  if (key !== null && key.length !== BLAKE3_KEY_BYTES)
    throw new RangeError(`a BLAKE3 key is ${BLAKE3_KEY_BYTES} bytes, got ${key.length}`);
}

/**
 * The native subtree hasher (native/blake3-subtree, the official BLAKE3 C code built at install),
 * or undefined where it was not built (no C compiler) or TESSERA_BLAKE3=wasm asks for the fallback:
 * callers then hash each input whole on one thread.
 */
export function loadSubtreeHasher(): SubtreeHasher | undefined {
  if (cached === undefined) {
    cached = null;
    if (process.env.TESSERA_BLAKE3 !== 'wasm') {
      try {
        const binding = createRequire(import.meta.url)('@tessera/blake3-subtree') as SubtreeBinding;
        cached = {
          chainingValue(data, firstChunk, key) {
            checkKey(key);
            return new Uint8Array(binding.chainingValue(data, firstChunk, key));
          },
          async chainingValues(source, length, segmentBytes, threads, key) {
            checkKey(key);
            return new Uint8Array(await binding.chainingValues(source, length, segmentBytes, threads, key));
          },
        };
      } catch {
        cached = null;
      }
    }
  }
  return cached ?? undefined;
}
