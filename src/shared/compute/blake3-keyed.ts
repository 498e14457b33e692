/**
 * The host half of BLAKE3's keyed_hash mode for the GPU kernel: the key as chaining-value
 * words, the merge of per-segment keyed chaining values, and a slow TypeScript reference used
 * by the GPU self-check. keyed_hash (spec §2.3 and table 3) is the default hash with the
 * 32-byte key in place of the IV as the initial chaining value of every chunk and every
 * parent, and the KEYED_HASH flag on every compression.
 * Spec: https://github.com/BLAKE3-team/BLAKE3-specs/blob/master/blake3.pdf
 */
import {
  BLOCK_LEN,
  CHUNK_END,
  CHUNK_LEN,
  CHUNK_START,
  chainingValueBytes,
  compress,
  PARENT,
  ROOT,
  type ChainingValue,
} from '../../core/hash/blake3-tree.js';

/** The KEYED_HASH domain flag (spec table 3). */
export const KEYED_HASH = 1 << 4;

/** Bytes in a BLAKE3 key. */
export const KEY_LEN = 32;

/** The 32-byte key as eight little-endian words (the keyed mode's initial chaining value). */
export function keyWords(key: Uint8Array): Uint32Array {
  if (key.length !== KEY_LEN) throw new RangeError(`a BLAKE3 key is ${KEY_LEN} bytes, got ${key.length}`);
  const w = new Uint32Array(8);
  for (let i = 0; i < 8; i++)
    w[i] =
      ((key[i * 4] as number) |
        ((key[i * 4 + 1] as number) << 8) |
        ((key[i * 4 + 2] as number) << 16) |
        ((key[i * 4 + 3] as number) << 24)) >>>
      0;
  return w;
}

function keyedParent(key: Uint32Array, left: ChainingValue, right: ChainingValue, root: boolean): ChainingValue {
  const block = new Uint32Array(16);
  block.set(left, 0);
  block.set(right, 8);
  return compress(key, block, 0, BLOCK_LEN, PARENT | KEYED_HASH | (root ? ROOT : 0));
}

/**
 * The keyed root digest of an input hashed in segments (the keyed twin of `rootFromSegments`:
 * full segments merge eagerly, then the stack folds onto the last one, whose final merge is the root).
 */
export function keyedRootFromSegments(cvs: readonly ChainingValue[], key: Uint32Array): Uint8Array {
  if (cvs.length < 2) throw new RangeError('keyedRootFromSegments needs at least two segment chaining values');
  const stack: ChainingValue[] = [];
  for (let i = 0; i < cvs.length - 1; i++) {
    let cv = cvs[i] as ChainingValue;
    let n = i + 1;
    while ((n & 1) === 0) {
      cv = keyedParent(key, stack.pop() as ChainingValue, cv, false);
      n >>>= 1;
    }
    stack.push(cv);
  }
  let right = cvs[cvs.length - 1] as ChainingValue;
  while (stack.length > 0) {
    const left = stack.pop() as ChainingValue;
    right = keyedParent(key, left, right, stack.length === 0);
  }
  return chainingValueBytes(right);
}

function blockWords(bytes: Uint8Array, offset: number, len: number): Uint32Array {
  const w = new Uint32Array(16);
  for (let i = 0; i < len; i++) w[i >> 2] = (w[i >> 2] as number) | ((bytes[offset + i] as number) << ((i & 3) * 8));
  return w;
}

/** Keyed BLAKE3 (32-byte digest) of `data` in plain TypeScript. Slow; for self-checks and tests. */
export function blake3KeyedReference(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = keyWords(key);
  const chunks = Math.max(1, Math.ceil(data.length / CHUNK_LEN));
  const chunkCv = (i: number, root: boolean): ChainingValue => {
    const chunk = data.subarray(i * CHUNK_LEN, (i + 1) * CHUNK_LEN);
    const blocks = Math.max(1, Math.ceil(chunk.length / BLOCK_LEN));
    let cv: ChainingValue = k;
    for (let b = 0; b < blocks; b++) {
      const len = Math.min(BLOCK_LEN, chunk.length - b * BLOCK_LEN);
      let flags = KEYED_HASH | (b === 0 ? CHUNK_START : 0);
      if (b === blocks - 1) flags |= CHUNK_END | (root ? ROOT : 0);
      cv = compress(cv, blockWords(chunk, b * BLOCK_LEN, len), i, len, flags);
    }
    return cv;
  };
  if (chunks === 1) return chainingValueBytes(chunkCv(0, true));
  let level: ChainingValue[] = [];
  for (let i = 0; i < chunks; i++) level.push(chunkCv(i, false));
  while (level.length > 1) {
    const next: ChainingValue[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(
        right ? keyedParent(k, level[i] as ChainingValue, right, level.length === 2) : (level[i] as ChainingValue),
      );
    }
    level = next;
  }
  return chainingValueBytes(level[0] as ChainingValue);
}
