import { readFileSync } from 'node:fs';
import { CHUNK_LEN } from '../../../src/core/hash/blake3-tree.js';
import { seededRandom } from '../../support/data.js';

/** The official BLAKE3 vectors (input byte i = i mod 251). */
export const vectors = (
  JSON.parse(readFileSync(new URL('../../fixtures/blake3-vectors.json', import.meta.url), 'utf8')) as {
    cases: { input_len: number; hash: string }[];
  }
).cases;

/**
 * Input lengths for GPU-vs-CPU equivalence: block and chunk edges, 1023/1024/1025, multiples
 * of 64, 2^k ± 1 chunks (whole and with a one-byte last chunk) up to 1025 chunks, and
 * deterministic random lengths up to 192 KiB: at least 200 in all.
 */
export function equivalenceLengths(): number[] {
  const lengths = new Set<number>([
    0, 1, 2, 3, 4, 5, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2047, 2048, 2049, 3072, 3073,
  ]);
  for (let k = 1; k <= 10; k++) {
    const c = 2 ** k;
    for (const chunks of [c - 1, c, c + 1]) lengths.add(chunks * CHUNK_LEN);
    lengths.add(c * CHUNK_LEN + 1);
    lengths.add(c * CHUNK_LEN - 1);
  }
  const rand = seededRandom(20251121);
  const next = () => Math.floor(rand() * 0x1_0000_0000);
  for (let i = 0; i < 40; i++) lengths.add(64 * (1 + (next() % 1024)));
  while (lengths.size < 230) lengths.add(next() % (192 << 10));
  return [...lengths];
}

/** Lengths for a kernel forced to 4 KiB segments: one, several, odd and power-of-two segment counts. */
export const MULTI_SEGMENT_SEGMENT_BYTES = 4096;
export const multiSegmentLengths = [
  0,
  1,
  1025,
  4095,
  4096,
  4097,
  8192,
  8193,
  3 * 4096 + 5,
  7 * 4096,
  8 * 4096 + 1,
  17 * 4096 + 1023,
  64 * 4096,
  64 * 4096 + 1,
  100_003,
];

/** Seed of the pseudo-random input of the i-th case (see test/support/data.ts pseudoRandomBytes). */
export const seedOf = (i: number) => 1000 + i;
