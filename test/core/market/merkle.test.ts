import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../../src/core/hex.js';
import type { ComputeResult } from '../../../src/core/market/compute-result.js';
import { computeResultBytes } from '../../../src/core/market/compute-result.js';
import { computeRoot, merkleLeafHash, merkleRoot, taskResultHash } from '../../../src/core/market/merkle.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { COMPUTE_RESULT_VECTOR } from '../../support/compute-result-vector.js';

const blake3 = loadNativeBlake3();

const leaves = (n: number) => Array.from({ length: n }, (_, i) => utf8(`leaf-${i}`));

/**
 * An independent naive definition: the RFC 6962 recursive Merkle Tree Hash (split at the
 * largest power of two below n), with BLAKE3 and the 0x00 / 0x01 prefixes. Promoting the odd
 * node level by level gives the same tree, so the two must agree for every n.
 */
function naiveRoot(items: Uint8Array[]): Uint8Array {
  if (items.length === 1) return blake3.hash(Buffer.concat([Buffer.from([0]), items[0] as Uint8Array]));
  let k = 1;
  while (k * 2 < items.length) k *= 2;
  return blake3.hash(Buffer.concat([Buffer.from([1]), naiveRoot(items.slice(0, k)), naiveRoot(items.slice(k))]));
}

// Expected roots for leaves "leaf-0" … "leaf-(n-1)", computed outside this code base with the
// b3sum CLI: L_i = b3(00 ‖ leaf-i), N(x, y) = b3(01 ‖ x ‖ y);
// 1: L0   2: N(L0, L1)   3: N(N(L0, L1), L2)   5: N(N(N(L0, L1), N(L2, L3)), L4)
const EXPECTED: Record<number, string> = {
  1: '13edb6c9983e00ef6588db1c23b3c1d3203826bea8253f49dbd77636fa3561ac',
  2: '4469e9c1c99a67417a567e7e3cb252ac0381a92b86a3b22fcf2987d9eb401669',
  3: '7ad5599016ac74620483c327a0a8223031f6749290915ee1a19ae78663ee2b2d',
  5: 'e53bedf0c6b439924ae76d723408ec7e8bd9809c52fb7c8452bb26aca1e00db7',
};

describe('Merkle root', () => {
  it.each([1, 2, 3, 5])('matches the b3sum-computed root for %i leaves', (n) => {
    expect(toHex(merkleRoot(leaves(n), blake3))).toBe(EXPECTED[n]);
    expect(toHex(naiveRoot(leaves(n)))).toBe(EXPECTED[n]);
  });

  it('agrees with the independent recursive definition for any list (property)', () => {
    const seed = 0x3e61_2e00;
    console.log(`merkle property seed=${seed}`);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { minLength: 1, maxLength: 70 }), (items) => {
        expect(toHex(merkleRoot(items, blake3))).toBe(toHex(naiveRoot(items)));
      }),
      { seed, numRuns: 150 },
    );
  });

  it('promotes the odd node instead of duplicating it, so [a, b, c] and [a, b, c, c] differ', () => {
    const abc = leaves(3);
    expect(toHex(merkleRoot(abc, blake3))).not.toBe(toHex(merkleRoot([...abc, abc[2] as Uint8Array], blake3)));
    // The duplicating rule would have given this root for [a, b, c] (b3sum), the same as for [a, b, c, c].
    expect(toHex(merkleRoot([...abc, abc[2] as Uint8Array], blake3))).toBe(
      'f6129386e48fe621e3e3d07bb50c7bc67e10feac772f2ab8b5fdd1351dc215a2',
    );
  });

  it('domain prefixes: a leaf whose bytes are two leaf hashes does not have the root of those two leaves', () => {
    const [a, b] = leaves(2) as [Uint8Array, Uint8Array];
    const forged = Buffer.concat([merkleLeafHash(a, blake3), merkleLeafHash(b, blake3)]);
    expect(toHex(merkleRoot([forged], blake3))).not.toBe(toHex(merkleRoot([a, b], blake3)));
  });

  it('depends on leaf order, and refuses an empty list', () => {
    const l = leaves(2);
    expect(toHex(merkleRoot(l, blake3))).not.toBe(toHex(merkleRoot([...l].reverse(), blake3)));
    expect(() => merkleRoot([], blake3)).toThrow(RangeError);
  });
});

describe('task result_hash and batch compute_root', () => {
  it("a task's result_hash is the root over its 32-byte slice digests in slice order", () => {
    const slices = [utf8('slice zero'), utf8('slice one'), utf8('slice two')];
    const hashes = slices.map((s) => toHex(blake3.hash(s)));
    expect(taskResultHash(hashes, blake3)).toBe(toHex(naiveRoot(hashes.map((h) => Buffer.from(h, 'hex')))));
    expect(taskResultHash(hashes, blake3)).not.toBe(
      taskResultHash([hashes[1], hashes[0], hashes[2]] as string[], blake3),
    );
    expect(() => taskResultHash(['ABC'], blake3)).toThrow(/slice 0/);
  });

  it("a batch's compute_root is the root over the results' canonical bytes (documented vector, b3sum)", () => {
    const vector: ComputeResult = COMPUTE_RESULT_VECTOR;
    expect(computeRoot([vector], blake3)).toBe('fe471b2bbb6427b3b7cc1021b15f2fc52b2a614c1724480008f8d566afebb26f');
    const second = { ...vector, job_id: 'job-8', nonce: 12346n };
    expect(computeRoot([vector, second], blake3)).toBe(
      toHex(naiveRoot([computeResultBytes(vector), computeResultBytes(second)])),
    );
    // The signature is part of the leaf: the root commits to the signed record.
    expect(computeRoot([{ ...vector, signature: '00'.repeat(64) }], blake3)).not.toBe(computeRoot([vector], blake3));
  });
});
