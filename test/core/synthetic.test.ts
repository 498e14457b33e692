import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import {
  runSynthetic,
  syntheticResult,
  syntheticSeed,
  validateSyntheticParams,
  Xoshiro128,
} from '../../src/core/workloads/synthetic.js';

const sha256 = (d: Uint8Array) => new Uint8Array(createHash('sha256').update(d).digest());

/** Reference xoshiro128** (written from the published algorithm, BigInt-free but separate). */
function referenceXoshiro(state: number[]): () => number {
  const s = state.map((v) => v >>> 0);
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  return () => {
    const result = Number((BigInt(rotl(Number((BigInt(s[1] as number) * 5n) & 0xffffffffn), 7)) * 9n) & 0xffffffffn);
    const t = (s[1] as number) << 9;
    s[2] = ((s[2] as number) ^ (s[0] as number)) >>> 0;
    s[3] = ((s[3] as number) ^ (s[1] as number)) >>> 0;
    s[1] = ((s[1] as number) ^ (s[2] as number)) >>> 0;
    s[0] = ((s[0] as number) ^ (s[3] as number)) >>> 0;
    s[2] = ((s[2] as number) ^ t) >>> 0;
    s[3] = rotl(s[3] as number, 11);
    return result;
  };
}

function seedForState(state: number[]): Uint8Array {
  const seed = new Uint8Array(32);
  const view = new DataView(seed.buffer);
  state.forEach((v, i) => view.setUint32(i * 4, v, true));
  return seed;
}

describe('Synthetic workload', () => {
  it('xoshiro128** matches the published algorithm (first output of state 1,2,3,4 is 11520)', () => {
    const rng = new Xoshiro128(seedForState([1, 2, 3, 4]));
    const ref = referenceXoshiro([1, 2, 3, 4]);
    const first = rng.next();
    expect(first).toBe(11520);
    expect(ref()).toBe(11520);
    for (let i = 0; i < 1000; i++) expect(rng.next()).toBe(ref());
  });

  it('matrix product equals a naive BigInt computation mod 2^32, little-endian', () => {
    const n = 7;
    const seed = sha256(new Uint8Array([1, 2, 3]));
    const rng = new Xoshiro128(seed);
    const a = Array.from({ length: n * n }, () => BigInt(rng.next()));
    const b = Array.from({ length: n * n }, () => BigInt(rng.next()));
    const bytes = syntheticResult(seed, n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0n;
        for (let k = 0; k < n; k++) sum += (a[i * n + k] as bigint) * (b[k * n + j] as bigint);
        expect(view.getUint32((i * n + j) * 4, true)).toBe(Number(sum & 0xffffffffn));
      }
    }
  });

  it('seed is SHA-256(block_hash bytes ‖ worker address) and differs per worker', () => {
    const params = { block_hash: 'ab'.repeat(32), worker_address: 'cpc1worker', matrix_size: 4 };
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.alloc(32, 0xab), Buffer.from('cpc1worker')]))
      .digest('hex');
    expect(toHex(syntheticSeed(params, sha256))).toBe(expected);
    const other = runSynthetic({ ...params, worker_address: 'cpc1other' }, sha256);
    const mine = runSynthetic(params, sha256);
    expect(mine.proof_hash).not.toBe(other.proof_hash);
    expect(runSynthetic(params, sha256)).toEqual(mine);
    expect(mine.bytes).toBe(4 * 4 * 4);
  });

  it('rejects bad parameters with a message naming the field', () => {
    const good = { block_hash: '00'.repeat(32), worker_address: 'w', matrix_size: 8 };
    expect(() => validateSyntheticParams({ ...good, block_hash: 'zz' })).toThrow(/block_hash/);
    expect(() => validateSyntheticParams({ ...good, worker_address: '' })).toThrow(/worker_address/);
    expect(() => validateSyntheticParams({ ...good, matrix_size: 0 })).toThrow(/matrix_size/);
    expect(() => validateSyntheticParams({ ...good, matrix_size: 1.5 })).toThrow(/matrix_size/);
  });
});
