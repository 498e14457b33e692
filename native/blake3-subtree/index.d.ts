/**
 * The BLAKE3 chaining value (32 bytes, not the root) of `data` as the subtree whose first chunk has
 * index `firstChunk` in the whole input; `key` (32 bytes) selects keyed mode, null the plain hash.
 * `data` must be a whole subtree: a power-of-two number of 1 KiB chunks with `firstChunk` a multiple
 * of it, or the rest of the input after such subtrees.
 */
export function chainingValue(data: Uint8Array, firstChunk: number, key: Uint8Array | null): Buffer;
