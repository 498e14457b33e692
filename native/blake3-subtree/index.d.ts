/**
 * The BLAKE3 chaining value (32 bytes, not the root) of `data` as the subtree whose first chunk has
 * index `firstChunk` in the whole input; `key` (32 bytes) selects keyed mode, null the plain hash.
 * `data` must be a whole subtree: a power-of-two number of 1 KiB chunks with `firstChunk` a multiple
 * of it, or the rest of the input after such subtrees.
 */
export function chainingValue(data: Uint8Array, firstChunk: number, key: Uint8Array | null): Buffer;

/**
 * The chaining values (32 bytes each, concatenated) of the first `length` bytes of a file (by path)
 * or of a byte array, cut into segments of `segmentBytes` (a power of two, at least 1024; the last
 * segment holds the rest; `length` must exceed one segment), hashed on `threads` native threads
 * off the JavaScript thread. Merge them with rootFromSegments. Leave a byte array unchanged until
 * the promise settles. A file error rejects with the libuv code (ENOENT, EISDIR, …) as `code`.
 */
export function chainingValues(
  source: string | Uint8Array,
  length: number,
  segmentBytes: number,
  threads: number,
  key: Uint8Array | null,
): Promise<Buffer>;
