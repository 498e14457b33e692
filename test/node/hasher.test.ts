import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { toHex } from '../../src/core/hex.js';
import { loadNativeBlake3, loadWasmBlake3 } from '../../src/node/hash/node-hasher.js';
import { HashWorkerPool } from '../../src/main/services/worker-pool.js';
import { pseudoRandomBytes, vectorInput } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';

const vectors = JSON.parse(readFileSync(new URL('../fixtures/blake3-vectors.json', import.meta.url), 'utf8')) as {
  cases: { input_len: number; hash: string }[];
};

async function freshHasher(mode: 'native' | 'wasm'): Promise<Blake3Hasher> {
  return mode === 'native' ? loadNativeBlake3() : loadWasmBlake3();
}

describe.each(['native', 'wasm'] as const)('BLAKE3 (%s)', (mode) => {
  let hasher: Blake3Hasher;
  beforeEach(async () => {
    hasher = await freshHasher(mode);
  });

  it('uses the requested implementation', () => {
    expect(hasher.implementation).toBe(mode);
  });

  it.each(vectors.cases)('matches the official test vector for length $input_len', ({ input_len, hash }) => {
    expect(toHex(hasher.hash(vectorInput(input_len)))).toBe(hash);
  });

  it('gives the same digest incrementally, at any split points, with interleaved streams', () => {
    const data = pseudoRandomBytes(300_000, 7);
    const expected = toHex(hasher.hash(data));
    const a = hasher.create();
    const b = hasher.create();
    const cuts = [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096, 100_000, 299_999, 300_000];
    for (let i = 0; i + 1 < cuts.length; i++) {
      a.update(data.subarray(cuts[i], cuts[i + 1]));
      b.update(data.subarray(cuts[i], cuts[i + 1]));
    }
    expect(toHex(a.digest())).toBe(expected);
    expect(toHex(b.digest())).toBe(expected);
  });
});

describe('agreement with b3sum on files', () => {
  let pool: HashWorkerPool;
  beforeEach(() => {
    pool = new HashWorkerPool(2);
  });
  afterEach(() => pool.close());

  it('hashes random files of boundary and random lengths exactly like b3sum', async () => {
    const dir = tempDir();
    const lengths = [
      0,
      1,
      63,
      64,
      65,
      127,
      128,
      1023,
      1024,
      1025,
      2047,
      2048,
      2049,
      4096 * 3 + 64,
      65_536,
      1 << 20,
      (1 << 21) + 1,
      (1 << 22) - 1,
    ];
    let seed = 12345;
    for (let i = 0; i < 12; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      lengths.push(seed % 3_000_000);
    }
    const files = lengths.map((len, i) => {
      const path = join(dir, `f${i}.bin`);
      writeFileSync(path, pseudoRandomBytes(len, i + 1));
      return path;
    });
    const ours = await Promise.all(files.map((f) => pool.hashFile(f)));
    const reference = execFileSync('b3sum', ['--no-names', ...files], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(ours.map((r) => r.digest)).toEqual(reference);
    expect(ours.map((r) => r.bytes)).toEqual(lengths);
  });
});
