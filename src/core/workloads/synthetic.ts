import type { Sha256 } from '../hash/hasher.js';
import { concatBytes, fromHex, toHex, utf8 } from '../hex.js';
import { WorkloadError, type SyntheticParams } from './workload.js';

/** Default matrix dimension for the Synthetic workload. */
export const DEFAULT_MATRIX_SIZE = 1024;
/** Largest accepted matrix dimension (three 4096² u32 matrices ≈ 200 MB). */
export const MAX_MATRIX_SIZE = 4096;

/**
 * The Synthetic workload, specified so any platform reproduces it bit for bit:
 *
 * 1. seed = SHA-256(block_hash ‖ UTF-8(worker_address)), where block_hash is the 32 raw bytes.
 * 2. PRNG = xoshiro128** over u32 words. Initial state s[i] = LE-u32(seed[4i..4i+4]) XOR
 *    LE-u32(seed[16+4i..16+4i+4]) for i = 0..3; an all-zero state is replaced by s[0] = 1.
 * 3. A = the first N² PRNG outputs, B = the next N², both N×N row-major matrices of u32.
 * 4. C = A × B with u32 arithmetic (every product and sum mod 2^32).
 * 5. result = C row-major, each element 4 bytes little-endian (4·N² bytes);
 *    result_hash = SHA-256(result), hex — the proof.
 */
export function syntheticSeed(params: SyntheticParams, sha256: Sha256): Uint8Array {
  const block = fromHex(params.block_hash, 'block_hash');
  return sha256(concatBytes(block, utf8(params.worker_address)));
}

/** Validates Synthetic parameters, throwing a one-line BAD_PARAMS error naming the field. */
export function validateSyntheticParams(p: SyntheticParams): void {
  if (!/^[0-9a-fA-F]{64}$/.test(p.block_hash)) {
    throw new WorkloadError(
      'BAD_PARAMS',
      `synthetic block_hash must be 64 hex characters (32 bytes), got "${p.block_hash}"`,
    );
  }
  if (p.worker_address.length === 0)
    throw new WorkloadError('BAD_PARAMS', 'synthetic worker_address must not be empty');
  if (!Number.isInteger(p.matrix_size) || p.matrix_size < 1 || p.matrix_size > MAX_MATRIX_SIZE) {
    throw new WorkloadError(
      'BAD_PARAMS',
      `synthetic matrix_size must be an integer from 1 to ${MAX_MATRIX_SIZE}, got ${p.matrix_size}`,
    );
  }
}

/** xoshiro128** generator seeded from a 32-byte seed as described above. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new Error('xoshiro128 seed must be 32 bytes');
    const w = (i: number) =>
      ((seed[i] as number) |
        ((seed[i + 1] as number) << 8) |
        ((seed[i + 2] as number) << 16) |
        ((seed[i + 3] as number) << 24)) >>>
      0;
    this.s0 = (w(0) ^ w(16)) >>> 0;
    this.s1 = (w(4) ^ w(20)) >>> 0;
    this.s2 = (w(8) ^ w(24)) >>> 0;
    this.s3 = (w(12) ^ w(28)) >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next u32 output. */
  next(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Computes the Synthetic result matrix bytes (4·N², u32 little-endian). */
export function syntheticResult(seed: Uint8Array, n: number): Uint8Array {
  const rng = new Xoshiro128(seed);
  const nn = n * n;
  const a = new Int32Array(nn);
  const b = new Int32Array(nn);
  for (let i = 0; i < nn; i++) a[i] = rng.next() | 0;
  for (let i = 0; i < nn; i++) b[i] = rng.next() | 0;
  const c = new Int32Array(nn);
  // i-k-j order keeps B and C rows sequential in memory.
  for (let i = 0; i < n; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[ci + k] as number;
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) c[ci + j] = ((c[ci + j] as number) + Math.imul(aik, b[bk + j] as number)) | 0;
    }
  }
  const bytes = new Uint8Array(c.buffer);
  if (!LITTLE_ENDIAN_HOST) {
    const view = new DataView(c.buffer);
    for (let i = 0; i < nn; i++) view.setUint32(i * 4, c[i] as number, true);
  }
  return bytes;
}

/** Runs the Synthetic workload; returns the result hash (hex) and the result size in bytes. */
export function runSynthetic(params: SyntheticParams, sha256: Sha256): { proof_hash: string; bytes: number } {
  validateSyntheticParams(params);
  const result = syntheticResult(syntheticSeed(params, sha256), params.matrix_size);
  return { proof_hash: toHex(sha256(result)), bytes: result.length };
}
