import { describe, expect, it } from 'vitest';
import { sliceDigests } from '../../src/core/market/assignment-proof.js';
import { syntheticResult, syntheticSeed } from '../../src/core/workloads/synthetic.js';
import { loadBlake3, nodeSha256 } from '../../src/node/hash/node-hasher.js';
import { DigestPool } from '../../src/node/digest/digest-pool.js';
import { pseudoRandomBytes } from '../support/data.js';

const SEED = 0xd1;
console.log(`digest pool test seed ${SEED}`);

describe('provider digest pool (worker threads)', () => {
  it('gives the same plain and keyed digests as the in-process one-pass digester, for bytes and for Synthetic', async () => {
    const blake3 = await loadBlake3();
    const pool = new DigestPool(2);
    try {
      for (let i = 0; i < 6; i++) {
        const data = pseudoRandomBytes(1000 + i * 70_000, SEED + i);
        const key = pseudoRandomBytes(32, SEED + 100 + i);
        const expected = sliceDigests([data], key, blake3);
        const got = await pool.digest({ data: data.slice(), key, synthetic: null });
        expect(got).toEqual({ ...expected, bytes: data.length });
      }
      const params = {
        block_hash: 'ab'.repeat(32),
        worker_address: 'cpc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq',
        matrix_size: 16,
      };
      const key = pseudoRandomBytes(32, SEED);
      const matrix = syntheticResult(syntheticSeed(params, nodeSha256), 16);
      expect(await pool.digest({ data: new Uint8Array(0), key, synthetic: params })).toEqual({
        ...sliceDigests([matrix], key, blake3),
        bytes: 16 * 16 * 4,
      });
      await expect(
        pool.digest({ data: new Uint8Array(0), key, synthetic: { ...params, matrix_size: 0 } }),
      ).rejects.toThrow(/matrix_size/);
    } finally {
      await pool.close();
    }
  });
});
