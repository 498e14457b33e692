import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../../src/core/errors.js';
import { toHex, utf8 } from '../../../src/core/hex.js';
import {
  createSliceDigester,
  deriveAssignmentKey,
  derivePairKey,
  sliceDigests,
} from '../../../src/core/market/assignment-proof.js';
import {
  buildSubmitResultTx,
  checkFreshness,
  checkResultDigests,
  ComputeResultError,
  computeResultBytes,
  computeResultSigningBytes,
  computeResultToJson,
  parseComputeResult,
  type ComputeResult,
} from '../../../src/core/market/compute-result.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { COMPUTE_RESULT_VECTOR } from '../../support/compute-result-vector.js';
import { pseudoRandomBytes } from '../../support/data.js';

const blake3 = loadNativeBlake3();

// The docs/compute-result-encoding.md test vector. Every hex literal below was produced outside
// this code base: field bytes by Python's struct module, digests by the b3sum CLI, the
// signature by Python's `cryptography` Ed25519 with the RFC 8032 test-1 key.
const VECTOR: ComputeResult = COMPUTE_RESULT_VECTOR;
const VECTOR_FIELDS = [
  '746573736572612d636f6d707574652d726573756c74', // "tessera-compute-result"
  '01000000', // version 1
  '13000000' + '746573736572612d746573742d6d61726b6574', // market_id
  '24000000' + '35353065383430302d653239622d343164342d613731362d343436363535343430303030', // task_id
  '05000000' + '6a6f622d37', // job_id
  '2a000000' + '637063316473637367796e673733636b7038726537686564686e7063756a6a326b743664377165666564', // worker_address
  'd74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24', // result_hash
  'd5404852477bad4b70843460013621a0af46def9cac2a3848d347657041437c4', // proof
  '3930000000000000', // nonce 12345
  '0068e5cf8b010000', // created_at 1700000000000
];
const MARKET_SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);
const VECTOR_ASSIGNMENT_KEY = '59f8b6e343df9c72ae0b1f3930261ca84c2c0683358e566d47cc1d5fcf3b6fd1';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isTesseraError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('ComputeResult canonical encoding', () => {
  it('encodes the documented test vector byte for byte', () => {
    const signing = VECTOR_FIELDS.join('');
    expect(toHex(computeResultSigningBytes(VECTOR))).toBe(signing);
    expect(computeResultSigningBytes(VECTOR).length).toBe(224);
    expect(toHex(computeResultBytes(VECTOR))).toBe(signing + VECTOR.signature);
  });

  it('docs/compute-result-encoding.md shows the same vector', () => {
    const doc = readFileSync(new URL('../../../docs/compute-result-encoding.md', import.meta.url), 'utf8').replace(
      /\s+/g,
      '',
    );
    for (const hex of [...VECTOR_FIELDS, VECTOR.signature, VECTOR_ASSIGNMENT_KEY, VECTOR.worker_address])
      expect(doc).toContain(hex);
  });

  it('length prefixes keep field boundaries unambiguous', () => {
    const a = toHex(computeResultSigningBytes({ ...VECTOR, market_id: 'ab', job_id: 'c' }));
    const b = toHex(computeResultSigningBytes({ ...VECTOR, market_id: 'a', job_id: 'bc' }));
    expect(a).not.toBe(b);
  });

  it('every signed field changes the bytes', () => {
    const base = toHex(computeResultSigningBytes(VECTOR));
    const variants: Partial<ComputeResult>[] = [
      { market_id: 'other-market' },
      { task_id: '550e8400-e29b-41d4-a716-446655440001' },
      { job_id: 'job-8' },
      { worker_address: 'cpc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq' },
      { result_hash: '0'.repeat(64) },
      { proof: '0'.repeat(64) },
      { nonce: 12346n },
      { created_at: 1_700_000_000_001 },
    ];
    for (const v of variants)
      expect(
        toHex(computeResultSigningBytes({ ...VECTOR, ...v })),
        JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)),
      ).not.toBe(base);
  });

  it('JSON round-trips, with nonce as a decimal string (exact beyond 2^53)', () => {
    const big = { ...VECTOR, nonce: (1n << 64n) - 1n };
    const json = JSON.parse(JSON.stringify(computeResultToJson(big))) as unknown;
    expect((json as { nonce: string }).nonce).toBe('18446744073709551615');
    expect(parseComputeResult(json)).toEqual(big);
  });

  it('parse refuses each bad field with MALFORMED naming the field', () => {
    const json = computeResultToJson(VECTOR);
    const cases: [Record<string, unknown>, string][] = [
      [{ market_id: '' }, 'market_id'],
      [{ task_id: 'not-a-uuid' }, 'task_id'],
      [{ task_id: VECTOR.task_id.toUpperCase() }, 'task_id'],
      [{ job_id: 7 }, 'job_id'],
      [{ worker_address: 'btc1dscsgyng73ckp8re7hedhnpcujj2kt6d7qefed' }, 'worker_address'],
      [{ result_hash: 'zz'.repeat(32) }, 'result_hash'],
      [{ proof: 'ab' }, 'proof'],
      [{ nonce: '18446744073709551616' }, 'nonce'],
      [{ nonce: -1 }, 'nonce'],
      [{ nonce: '007' }, 'nonce'],
      [{ created_at: 1.5 }, 'created_at'],
      [{ signature: 'ab'.repeat(63) }, 'signature'],
      [{ extra: 1 }, 'extra'],
    ];
    for (const [patch, field] of cases) {
      const got = codeOf(() => parseComputeResult({ ...json, ...patch }));
      expect(got, JSON.stringify(patch)).toMatch(/^MALFORMED: /);
      expect(got, JSON.stringify(patch)).toContain(field);
      expect(got).not.toContain('\n');
    }
    expect(codeOf(() => parseComputeResult(null))).toMatch(/^MALFORMED: /);
    expect(codeOf(() => parseComputeResult([json]))).toMatch(/^MALFORMED: /);
  });

  it('parse accepts every well-formed result (property)', () => {
    const seed = 0x0c0ffee9;
    console.log(`compute-result parse property seed=${seed}`);
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 256 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (jobId, nonce, createdAt) => {
          const r = { ...VECTOR, job_id: jobId, nonce, created_at: createdAt };
          expect(parseComputeResult(computeResultToJson(r))).toEqual(r);
        },
      ),
      { seed, numRuns: 200 },
    );
  });
});

describe('freshness (STALE)', () => {
  const at = VECTOR.created_at;
  it('accepts a result up to 60 s old and refuses one a millisecond older', () => {
    expect(() => checkFreshness(VECTOR, { now: at + 60_000 })).not.toThrow();
    expect(codeOf(() => checkFreshness(VECTOR, { now: at + 60_001 }))).toMatch(/^STALE: .*60001 ms old/);
  });

  it('refuses a result from too far in the future', () => {
    expect(() => checkFreshness(VECTOR, { now: at - 10_000 })).not.toThrow();
    expect(codeOf(() => checkFreshness(VECTOR, { now: at - 10_001 }))).toMatch(/^STALE: .*ahead of the market's clock/);
  });

  it('the limits are configurable', () => {
    expect(codeOf(() => checkFreshness(VECTOR, { now: at + 5_001, maxAgeMs: 5_000 }))).toMatch(/^STALE: /);
    expect(() => checkFreshness(VECTOR, { now: at + 120_000, maxAgeMs: 120_000 })).not.toThrow();
    expect(codeOf(() => checkFreshness(VECTOR, { now: at - 1, maxFutureMs: 0 }))).toMatch(/^STALE: /);
  });
});

describe('assignment-bound proof', () => {
  const address = VECTOR.worker_address;

  it('derives the documented assignment key (keyed BLAKE3 under the market secret; b3sum --keyed vector)', () => {
    expect(toHex(deriveAssignmentKey(MARKET_SECRET, 'job-7', address, 1, blake3))).toBe(VECTOR_ASSIGNMENT_KEY);
  });

  it('gives the vector proof and result_hash for "hello world"', () => {
    const key = deriveAssignmentKey(MARKET_SECRET, 'job-7', address, 1n, blake3);
    expect(sliceDigests([utf8('hello '), utf8('world')], key, blake3)).toEqual({
      resultHash: VECTOR.result_hash,
      proof: VECTOR.proof,
    });
  });

  it('every input of the derivation changes the key', () => {
    const base = toHex(deriveAssignmentKey(MARKET_SECRET, 'job-7', address, 1, blake3));
    const other = Uint8Array.from(MARKET_SECRET);
    other[0] = 1;
    expect(toHex(deriveAssignmentKey(other, 'job-7', address, 1, blake3))).not.toBe(base);
    expect(toHex(deriveAssignmentKey(MARKET_SECRET, 'job-8', address, 1, blake3))).not.toBe(base);
    expect(
      toHex(deriveAssignmentKey(MARKET_SECRET, 'job-7', 'cpc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', 1, blake3)),
    ).not.toBe(base);
    expect(toHex(deriveAssignmentKey(MARKET_SECRET, 'job-7', address, 2, blake3))).not.toBe(base);
    expect(() => deriveAssignmentKey(new Uint8Array(16), 'job-7', address, 1, blake3)).toThrow(RangeError);
    expect(() => deriveAssignmentKey(MARKET_SECRET, 'job-7', address, 1n << 64n, blake3)).toThrow(RangeError);
  });

  it('derives the documented pair key (b3sum --keyed over "tessera-pair-key-v1" ‖ field(job)); it is not any provider\'s assignment key', () => {
    // printf 'tessera-pair-key-v1' + u32le(5) + 'job-7' | b3sum --keyed, key 00 01 … 1f
    expect(toHex(derivePairKey(MARKET_SECRET, 'job-7', blake3))).toBe(
      '294978d148b39e4ab8668f41a282b08e26e492d4ac02423090785cdd67329072',
    );
    expect(toHex(derivePairKey(MARKET_SECRET, 'job-8', blake3))).not.toBe(
      toHex(derivePairKey(MARKET_SECRET, 'job-7', blake3)),
    );
    expect(toHex(derivePairKey(MARKET_SECRET, 'job-7', blake3))).not.toBe(
      toHex(deriveAssignmentKey(MARKET_SECRET, 'job-7', address, 0, blake3)),
    );
    expect(() => derivePairKey(new Uint8Array(16), 'job-7', blake3)).toThrow(RangeError);
  });

  it('the proof differs per assignment key while result_hash is the same', () => {
    const seed = 0x00a5_5167;
    console.log(`assignment proof seed=${seed}`);
    const bytes = pseudoRandomBytes(50_000, seed);
    const a = sliceDigests([bytes], deriveAssignmentKey(MARKET_SECRET, 'job-1', 'provider-a', 1, blake3), blake3);
    const b = sliceDigests([bytes], deriveAssignmentKey(MARKET_SECRET, 'job-1', 'provider-b', 1, blake3), blake3);
    expect(a.resultHash).toBe(b.resultHash);
    expect(a.resultHash).toBe(toHex(blake3.hash(bytes)));
    expect(a.proof).not.toBe(b.proof);
  });

  it('a result_hash and proof copied from another provider fail verification (WRONG_RESULT)', () => {
    const bytes = pseudoRandomBytes(4096, 11);
    const keyA = deriveAssignmentKey(MARKET_SECRET, 'job-1', 'provider-a', 1, blake3);
    const keyB = deriveAssignmentKey(MARKET_SECRET, 'job-1', 'provider-b', 1, blake3);
    const honestA = sliceDigests([bytes], keyA, blake3);
    // B never had the bytes: it copies A's answer. The validator checks B's answer under B's key.
    const copiedByB = { result_hash: honestA.resultHash, proof: honestA.proof };
    const expectedForB = sliceDigests([bytes], keyB, blake3);
    expect(checkResultDigests(copiedByB, expectedForB)).toMatchObject({ ok: false, code: 'WRONG_RESULT' });
    expect(checkResultDigests({ result_hash: honestA.resultHash, proof: honestA.proof }, honestA)).toEqual({
      ok: true,
    });
    // A hash of other bytes is also a wrong result.
    const wrong = sliceDigests([pseudoRandomBytes(4096, 12)], keyB, blake3);
    expect(checkResultDigests({ result_hash: wrong.resultHash, proof: wrong.proof }, expectedForB)).toMatchObject({
      ok: false,
      code: 'WRONG_RESULT',
    });
  });

  it('computes both digests in one pass: a single-use stream of reused chunk buffers gives the one-shot digests', () => {
    const seed = 0x0001_9a55;
    console.log(`one-pass digests seed=${seed}`);
    const data = pseudoRandomBytes(300_001, seed);
    const key = deriveAssignmentKey(MARKET_SECRET, 'job-1', 'provider-a', 3, blake3);
    // A generator can be iterated once, and it overwrites one buffer per chunk (like a file
    // reader), so a second pass or a deferred read would hash other bytes.
    let reads = 0;
    function* chunks(): Generator<Uint8Array> {
      const buf = new Uint8Array(65_536);
      for (let off = 0; off < data.length; off += buf.length) {
        const n = Math.min(buf.length, data.length - off);
        buf.set(data.subarray(off, off + n));
        reads++;
        yield buf.subarray(0, n);
        buf.fill(0xee);
      }
    }
    const d = sliceDigests(chunks(), key, blake3);
    expect(reads).toBe(Math.ceil(data.length / 65_536));
    expect(d).toEqual({ resultHash: toHex(blake3.hash(data)), proof: toHex(blake3.keyed(key, data)) });
    const s = createSliceDigester(key, blake3);
    s.update(data.subarray(0, 7));
    s.update(data.subarray(7));
    expect(s.digest()).toEqual(d);
  });
});

describe('SUBMIT_RESULT transaction record (document 003)', () => {
  it('builds the record with the worker as sender, no recipient, zero amount and 80 000 gas', () => {
    const tx = buildSubmitResultTx(VECTOR);
    expect(tx).toEqual({
      tx_type: 'SUBMIT_RESULT',
      from_address: VECTOR.worker_address,
      to_address: null,
      amount: 0,
      gas_limit: 80_000,
      gas_price: 1000,
      fee: 80_000_000,
      payload: computeResultToJson(VECTOR),
    });
    expect(buildSubmitResultTx(VECTOR, 7).fee).toBe(560_000);
  });

  it('refuses a malformed result and a bad gas price', () => {
    expect(() => buildSubmitResultTx({ ...VECTOR, signature: 'x' })).toThrow(ComputeResultError);
    expect(() => buildSubmitResultTx(VECTOR, -1)).toThrow(RangeError);
    expect(() => buildSubmitResultTx(VECTOR, 1.5)).toThrow(RangeError);
  });
});
