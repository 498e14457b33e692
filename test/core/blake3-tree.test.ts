import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blake3Reference,
  CHUNK_LEN,
  chainingValueBytes,
  isValidSegmentSize,
  keyedMode,
  largestSegmentSize,
  MSG_SCHEDULE,
  planSegments,
  rootFromSegments,
  subtreeChainingValue,
} from '../../src/core/hash/blake3-tree.js';
import { toHex, utf8 } from '../../src/core/hex.js';
import { pseudoRandomBytes, vectorInput } from '../support/data.js';

const vectors = JSON.parse(readFileSync(new URL('../fixtures/blake3-vectors.json', import.meta.url), 'utf8')) as {
  cases: { input_len: number; hash: string }[];
};
const keyedVectors = JSON.parse(
  readFileSync(new URL('../fixtures/blake3-keyed-vectors.json', import.meta.url), 'utf8'),
) as {
  key: string;
  cases: { input_len: number; keyed_hash: string }[];
};

describe('BLAKE3 tree helpers', () => {
  it('derives the message schedule from the permutation', () => {
    expect(MSG_SCHEDULE).toHaveLength(7);
    expect(MSG_SCHEDULE[0]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(MSG_SCHEDULE[1]).toEqual([2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]);
    expect(MSG_SCHEDULE[6]).toEqual([11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13]);
  });

  it.each(vectors.cases)(
    'matches the official vector for length $input_len, whole and in segments',
    ({ input_len, hash }) => {
      const input = vectorInput(input_len);
      expect(toHex(blake3Reference(input))).toBe(hash);
      for (const seg of [1024, 2048, 4096, 16384])
        expect(toHex(blake3Reference(input, seg)), `segment ${seg}`).toBe(hash);
    },
  );

  it.each(keyedVectors.cases)(
    'matches the official keyed vector for length $input_len, whole and in segments',
    ({ input_len, keyed_hash }) => {
      const input = vectorInput(input_len);
      const mode = keyedMode(utf8(keyedVectors.key));
      expect(toHex(blake3Reference(input, undefined, mode))).toBe(keyed_hash);
      for (const seg of [1024, 4096])
        expect(toHex(blake3Reference(input, seg, mode)), `segment ${seg}`).toBe(keyed_hash);
    },
  );

  it('gives the same digest for any power-of-two segment size (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 * CHUNK_LEN }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer(),
        (len, log2, seed) => {
          const data = pseudoRandomBytes(len, seed);
          expect(toHex(blake3Reference(data, CHUNK_LEN << log2))).toBe(toHex(blake3Reference(data)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('plans power-of-two, chunk-aligned segments covering the input exactly', () => {
    expect(planSegments(0, 4096)).toEqual([{ offset: 0, length: 0, firstChunk: 0 }]);
    expect(planSegments(4096, 4096)).toEqual([{ offset: 0, length: 4096, firstChunk: 0 }]);
    expect(planSegments(4097, 4096)).toEqual([
      { offset: 0, length: 4096, firstChunk: 0 },
      { offset: 4096, length: 1, firstChunk: 4 },
    ]);
    expect(() => planSegments(10, 3072)).toThrow(/power-of-two/);
    expect(() => planSegments(10, 512)).toThrow(/power-of-two/);
    expect(isValidSegmentSize(1 << 27)).toBe(true);
    expect(largestSegmentSize(134_217_728)).toBe(134_217_728);
    expect(largestSegmentSize(100_000_000)).toBe(67_108_864);
    expect(largestSegmentSize(10)).toBe(CHUNK_LEN);
  });

  it('refuses to merge a single segment (its root is finalised where it was hashed)', () => {
    expect(() => rootFromSegments([subtreeChainingValue(new Uint8Array(0))])).toThrow(/two/);
  });

  it('finalises a single chunk or subtree as the root only when asked', () => {
    const data = vectorInput(3072); // an official vector length: 3 chunks
    const root = chainingValueBytes(subtreeChainingValue(data, 0, true));
    const inner = chainingValueBytes(subtreeChainingValue(data, 0, false));
    expect(toHex(root)).toBe(vectors.cases.find((c) => c.input_len === 3072)?.hash);
    expect(toHex(inner)).not.toBe(toHex(root));
  });
});
