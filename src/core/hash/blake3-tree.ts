/**
 * BLAKE3 compression and tree merging in plain TypeScript, following the BLAKE3 specification
 * (https://github.com/BLAKE3-team/BLAKE3-specs/blob/master/blake3.pdf, §2 and §5.1).
 *
 * Hosts that hash on a GPU compute the chaining values of large subtrees there and merge the
 * few that remain here; the same functions also give a slow, dependency-free reference hash.
 */

/** Bytes in a BLAKE3 chunk (a leaf of the tree). */
export const CHUNK_LEN = 1024;
/** Bytes in a BLAKE3 block (one compression). */
export const BLOCK_LEN = 64;

/** Domain-separation flags (spec table 3). */
export const CHUNK_START = 1;
export const CHUNK_END = 2;
export const PARENT = 4;
export const ROOT = 8;
export const KEYED_HASH = 16;

/** The BLAKE3 IV (the SHA-256 IV), also the key of the default hash mode. */
export const IV: readonly number[] = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** Message word permutation applied between rounds (spec table 2). */
export const MSG_PERMUTATION: readonly number[] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/** Message word indices used by each of the 7 rounds (the permutation applied 0…6 times). */
export const MSG_SCHEDULE: readonly (readonly number[])[] = (() => {
  const rounds: number[][] = [];
  let s = Array.from({ length: 16 }, (_, i) => i);
  for (let r = 0; r < 7; r++) {
    rounds.push(s);
    const prev = s;
    s = MSG_PERMUTATION.map((p) => prev[p] as number);
  }
  return rounds;
})();

/** A chaining value: 8 little-endian 32-bit words. */
export type ChainingValue = Uint32Array;

/** The key words a tree is hashed under and the mode's flag: the IV and 0 for the plain hash. */
export interface TreeMode {
  readonly key: ArrayLike<number>;
  readonly flags: number;
}

/** The plain (default) hash mode. */
export const PLAIN_MODE: TreeMode = { key: IV, flags: 0 };

/** Keyed mode (spec §2.3): the 32-byte key's little-endian words replace the IV, every compression carries KEYED_HASH. */
export function keyedMode(key: Uint8Array): TreeMode {
  if (key.length !== 32) throw new RangeError(`a BLAKE3 key is 32 bytes, got ${key.length}`);
  const words = new Uint32Array(8);
  for (let i = 0; i < 8; i++)
    words[i] =
      ((key[i * 4] as number) |
        ((key[i * 4 + 1] as number) << 8) |
        ((key[i * 4 + 2] as number) << 16) |
        ((key[i * 4 + 3] as number) << 24)) >>>
      0;
  return { key: words, flags: KEYED_HASH };
}

function rotr(x: number, n: number): number {
  return ((x >>> n) | (x << (32 - n))) >>> 0;
}

/**
 * The BLAKE3 compression function, truncated to the 8 words that form a chaining value (or,
 * with the ROOT flag and counter 0, the 32-byte default-length digest).
 */
export function compress(
  cv: ArrayLike<number>,
  block: ArrayLike<number>,
  counter: number,
  blockLen: number,
  flags: number,
): ChainingValue {
  const v = new Uint32Array(16);
  for (let i = 0; i < 8; i++) v[i] = cv[i] as number;
  for (let i = 0; i < 4; i++) v[8 + i] = IV[i] as number;
  v[12] = counter >>> 0;
  v[13] = Math.floor(counter / 0x1_0000_0000) >>> 0;
  v[14] = blockLen;
  v[15] = flags;
  const g = (a: number, b: number, c: number, d: number, x: number, y: number) => {
    v[a] = (v[a] as number) + (v[b] as number) + x;
    v[d] = rotr((v[d] as number) ^ (v[a] as number), 16);
    v[c] = (v[c] as number) + (v[d] as number);
    v[b] = rotr((v[b] as number) ^ (v[c] as number), 12);
    v[a] = (v[a] as number) + (v[b] as number) + y;
    v[d] = rotr((v[d] as number) ^ (v[a] as number), 8);
    v[c] = (v[c] as number) + (v[d] as number);
    v[b] = rotr((v[b] as number) ^ (v[c] as number), 7);
  };
  for (const s of MSG_SCHEDULE) {
    const m = (i: number) => block[s[i] as number] as number;
    g(0, 4, 8, 12, m(0), m(1));
    g(1, 5, 9, 13, m(2), m(3));
    g(2, 6, 10, 14, m(4), m(5));
    g(3, 7, 11, 15, m(6), m(7));
    g(0, 5, 10, 15, m(8), m(9));
    g(1, 6, 11, 12, m(10), m(11));
    g(2, 7, 8, 13, m(12), m(13));
    g(3, 4, 9, 14, m(14), m(15));
  }
  const out = new Uint32Array(8);
  for (let i = 0; i < 8; i++) out[i] = (v[i] as number) ^ (v[i + 8] as number);
  return out;
}

/** Reads up to 64 bytes as 16 little-endian words, zero-padded. */
function blockWords(bytes: Uint8Array, offset: number, len: number): Uint32Array {
  const w = new Uint32Array(16);
  for (let i = 0; i < len; i++) w[i >> 2] = (w[i >> 2] as number) | ((bytes[offset + i] as number) << ((i & 3) * 8));
  return w;
}

/**
 * Chaining value of one chunk (at most 1024 bytes) whose index in the input is `counter`.
 * With `root` (the input is this single chunk) the result is the digest's words.
 */
export function chunkChainingValue(
  chunk: Uint8Array,
  counter: number,
  root = false,
  mode: TreeMode = PLAIN_MODE,
): ChainingValue {
  if (chunk.length > CHUNK_LEN) throw new RangeError(`a chunk holds at most ${CHUNK_LEN} bytes, got ${chunk.length}`);
  const blocks = Math.max(1, Math.ceil(chunk.length / BLOCK_LEN));
  let cv: ChainingValue = Uint32Array.from(mode.key);
  for (let b = 0; b < blocks; b++) {
    const len = Math.min(BLOCK_LEN, chunk.length - b * BLOCK_LEN);
    let flags = mode.flags | (b === 0 ? CHUNK_START : 0);
    if (b === blocks - 1) flags |= CHUNK_END | (root ? ROOT : 0);
    cv = compress(cv, blockWords(chunk, b * BLOCK_LEN, len), counter, len, flags);
  }
  return cv;
}

/** Chaining value of a parent node; with `root`, the digest's words. */
export function parentChainingValue(
  left: ChainingValue,
  right: ChainingValue,
  root = false,
  mode: TreeMode = PLAIN_MODE,
): ChainingValue {
  const block = new Uint32Array(16);
  block.set(left, 0);
  block.set(right, 8);
  return compress(mode.key, block, 0, BLOCK_LEN, mode.flags | PARENT | (root ? ROOT : 0));
}

/**
 * Chaining value of the subtree over `data`, whose first chunk has index `firstChunk` in the
 * whole input: the left subtree holds the largest power-of-two number of chunks, which is the
 * same as reducing pairwise level by level and carrying an odd last node up unchanged.
 * With `root` (data is the whole input) the result is the digest's words.
 */
export function subtreeChainingValue(
  data: Uint8Array,
  firstChunk = 0,
  root = false,
  mode: TreeMode = PLAIN_MODE,
): ChainingValue {
  const chunks = Math.max(1, Math.ceil(data.length / CHUNK_LEN));
  if (chunks === 1) return chunkChainingValue(data, firstChunk, root, mode);
  let level: ChainingValue[] = [];
  for (let i = 0; i < chunks; i++)
    level.push(chunkChainingValue(data.subarray(i * CHUNK_LEN, (i + 1) * CHUNK_LEN), firstChunk + i, false, mode));
  while (level.length > 1) {
    const next: ChainingValue[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(
        right
          ? parentChainingValue(level[i] as ChainingValue, right, root && level.length === 2, mode)
          : (level[i] as ChainingValue),
      );
    }
    level = next;
  }
  return level[0] as ChainingValue;
}

/**
 * The root digest of an input hashed in segments. Every segment but the last is a complete
 * subtree of the same power-of-two number of chunks; the last holds the rest (at least one
 * byte, or nothing when it is the only segment). Needs at least two segments: a single
 * segment is the whole tree and its root is finalised where it was hashed. `mode` is the one the
 * segments were hashed under (plain or keyed).
 */
export function rootFromSegments(cvs: readonly ChainingValue[], mode: TreeMode = PLAIN_MODE): Uint8Array {
  if (cvs.length < 2) throw new RangeError('rootFromSegments needs at least two segment chaining values');
  // Full segments merge eagerly like chunks in the incremental hasher's CV stack: after the
  // n-th one, merge once per trailing zero bit of n. The last segment always follows them,
  // so none of these merges is the root.
  const stack: ChainingValue[] = [];
  for (let i = 0; i < cvs.length - 1; i++) {
    let cv = cvs[i] as ChainingValue;
    let n = i + 1;
    while ((n & 1) === 0) {
      cv = parentChainingValue(stack.pop() as ChainingValue, cv, false, mode);
      n >>>= 1;
    }
    stack.push(cv);
  }
  let right = cvs[cvs.length - 1] as ChainingValue;
  while (stack.length > 0) {
    const left = stack.pop() as ChainingValue;
    right = parentChainingValue(left, right, stack.length === 0, mode);
  }
  return chainingValueBytes(right);
}

/** One segment of an input: a byte range whose first chunk has index `firstChunk`. */
export interface SegmentSpan {
  offset: number;
  length: number;
  firstChunk: number;
}

/**
 * Splits an input of `byteLength` bytes into segments of `segmentBytes` (a power-of-two
 * number of whole chunks); the last segment holds the rest. An empty input is one empty segment.
 */
export function planSegments(byteLength: number, segmentBytes: number): SegmentSpan[] {
  if (!isValidSegmentSize(segmentBytes)) {
    throw new RangeError(`segment size must be a power-of-two number of ${CHUNK_LEN}-byte chunks, got ${segmentBytes}`);
  }
  if (!Number.isSafeInteger(byteLength) || byteLength < 0) throw new RangeError(`invalid input length ${byteLength}`);
  const spans: SegmentSpan[] = [];
  let offset = 0;
  do {
    spans.push({ offset, length: Math.min(segmentBytes, byteLength - offset), firstChunk: offset / CHUNK_LEN });
    offset += segmentBytes;
  } while (offset < byteLength);
  return spans;
}

/** True when `bytes` is a power-of-two number of whole chunks. */
export function isValidSegmentSize(bytes: number): boolean {
  const chunks = bytes / CHUNK_LEN;
  return Number.isSafeInteger(chunks) && chunks >= 1 && (chunks & (chunks - 1)) === 0 && chunks <= 2 ** 30;
}

/** The largest valid segment size not above `limit` bytes (at least one chunk). */
export function largestSegmentSize(limit: number): number {
  let s = CHUNK_LEN;
  while (s * 2 <= limit && s * 2 <= 2 ** 30 * CHUNK_LEN) s *= 2;
  return s;
}

/** A chaining value from its 32 bytes (little-endian words). */
export function chainingValueFromBytes(bytes: Uint8Array): ChainingValue {
  if (bytes.length !== 32) throw new RangeError(`a chaining value is 32 bytes, got ${bytes.length}`);
  const cv = new Uint32Array(8);
  for (let i = 0; i < 8; i++)
    cv[i] =
      ((bytes[i * 4] as number) |
        ((bytes[i * 4 + 1] as number) << 8) |
        ((bytes[i * 4 + 2] as number) << 16) |
        ((bytes[i * 4 + 3] as number) << 24)) >>>
      0;
  return cv;
}

/** The 32 bytes of a chaining value (little-endian words). */
export function chainingValueBytes(cv: ChainingValue): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const w = cv[i] as number;
    out[i * 4] = w & 0xff;
    out[i * 4 + 1] = (w >>> 8) & 0xff;
    out[i * 4 + 2] = (w >>> 16) & 0xff;
    out[i * 4 + 3] = w >>> 24;
  }
  return out;
}

/**
 * BLAKE3 of `data` (32-byte digest) in plain TypeScript, optionally in segments of
 * `segmentBytes` merged with `rootFromSegments`, in plain or keyed `mode`. Slow; a reference
 * for tests and self-checks.
 */
export function blake3Reference(data: Uint8Array, segmentBytes?: number, mode: TreeMode = PLAIN_MODE): Uint8Array {
  const spans =
    segmentBytes === undefined
      ? [{ offset: 0, length: data.length, firstChunk: 0 }]
      : planSegments(data.length, segmentBytes);
  if (spans.length === 1) return chainingValueBytes(subtreeChainingValue(data, 0, true, mode));
  return rootFromSegments(
    spans.map((s) => subtreeChainingValue(data.subarray(s.offset, s.offset + s.length), s.firstChunk, false, mode)),
    mode,
  );
}
