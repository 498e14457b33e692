import type { Blake3Hasher } from '../hash/hasher.js';
import { fromHex, toHex } from '../hex.js';
import { computeResultBytes, type ComputeResult } from './compute-result.js';

/** Prefix of a leaf's hash input. */
export const MERKLE_LEAF_PREFIX = 0x00;
/** Prefix of an inner node's hash input. */
export const MERKLE_NODE_PREFIX = 0x01;

const LEAF = Uint8Array.of(MERKLE_LEAF_PREFIX);
const NODE = Uint8Array.of(MERKLE_NODE_PREFIX);

/** BLAKE3(0x00 ‖ bytes). */
export function merkleLeafHash(bytes: Uint8Array, blake3: Blake3Hasher): Uint8Array {
  const h = blake3.create();
  h.update(LEAF);
  h.update(bytes);
  return h.digest();
}

/** BLAKE3(0x01 ‖ left ‖ right). */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array, blake3: Blake3Hasher): Uint8Array {
  const h = blake3.create();
  h.update(NODE);
  h.update(left);
  h.update(right);
  return h.digest();
}

/**
 * Merkle root of `leaves` in order (docs/compute-result-encoding.md): leaves hashed with a 0x00
 * prefix, nodes with 0x01, built level by level pairing left to right; an odd node at the end
 * of a level is promoted unchanged (never duplicated, so [a, b, c] and [a, b, c, c] differ).
 * The prefixes keep a leaf from ever being read as a node (second preimages). Throws a
 * RangeError for an empty list: a task has at least one slice and an empty batch is not sealed.
 */
export function merkleRoot(leaves: readonly Uint8Array[], blake3: Blake3Hasher): Uint8Array {
  if (leaves.length === 0) throw new RangeError('a Merkle root needs at least one leaf');
  let level = leaves.map((l) => merkleLeafHash(l, blake3));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2)
      next.push(merkleNodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array, blake3));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
    level = next;
  }
  return level[0] as Uint8Array;
}

/** A completed task's result_hash: hex Merkle root over its slices' 32-byte BLAKE3 digests (hex), in slice order. */
export function taskResultHash(sliceHashes: readonly string[], blake3: Blake3Hasher): string {
  const leaves = sliceHashes.map((h, i) => {
    if (!/^[0-9a-f]{64}$/.test(h)) throw new RangeError(`slice ${i} hash must be 64 lower-case hex characters`);
    return fromHex(h);
  });
  return toHex(merkleRoot(leaves, blake3));
}

/** A batch's compute_root: hex Merkle root over its ComputeResults' canonical bytes (computeResultBytes), in batch order. */
export function computeRoot(results: readonly ComputeResult[], blake3: Blake3Hasher): string {
  return toHex(merkleRoot(results.map(computeResultBytes), blake3));
}
