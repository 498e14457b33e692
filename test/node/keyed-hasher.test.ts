import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { toHex, utf8 } from '../../src/core/hex.js';
import { loadNativeBlake3, loadWasmBlake3 } from '../../src/node/hash/node-hasher.js';
import { pseudoRandomBytes, vectorInput } from '../support/data.js';

const vectors = JSON.parse(readFileSync(new URL('../fixtures/blake3-keyed-vectors.json', import.meta.url), 'utf8')) as {
  key: string;
  cases: { input_len: number; keyed_hash: string }[];
};
const KEY = utf8(vectors.key);

describe.each(['native', 'wasm'] as const)('keyed BLAKE3 (%s)', (mode) => {
  let hasher: Blake3Hasher;
  beforeAll(async () => {
    hasher = mode === 'native' ? loadNativeBlake3() : await loadWasmBlake3();
  });

  it('the official key is the 32-byte "whats the Elvish word for friend"', () => {
    expect(KEY.length).toBe(32);
  });

  it.each(vectors.cases)(
    'one-shot keyed mode matches the official keyed_hash for length $input_len',
    ({ input_len, keyed_hash }) => {
      expect(toHex(hasher.keyed(KEY, vectorInput(input_len)))).toBe(keyed_hash);
    },
  );

  it.each(vectors.cases)(
    'incremental keyed mode matches the official keyed_hash for length $input_len (byte-odd chunks)',
    ({ input_len, keyed_hash }) => {
      const h = hasher.createKeyed(KEY);
      const data = vectorInput(input_len);
      for (let off = 0; off < data.length; off += 333) h.update(data.subarray(off, off + 333));
      expect(toHex(h.digest())).toBe(keyed_hash);
    },
  );

  it('interleaved keyed streams under different keys and a plain stream never see each other', () => {
    const seed = 0x5eed_0009;
    console.log(`keyed-hasher interleave seed=${seed}`);
    const data = pseudoRandomBytes(200_000, seed);
    const k2 = pseudoRandomBytes(32, seed + 1);
    const a = hasher.createKeyed(KEY);
    const b = hasher.createKeyed(k2);
    const p = hasher.create();
    const cuts = [0, 1, 64, 1023, 1025, 4096, 65_536, 199_999, 200_000];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const part = data.subarray(cuts[i], cuts[i + 1]);
      a.update(part);
      p.update(part);
      b.update(part);
    }
    expect(toHex(a.digest())).toBe(toHex(hasher.keyed(KEY, data)));
    expect(toHex(b.digest())).toBe(toHex(hasher.keyed(k2, data)));
    expect(toHex(p.digest())).toBe(toHex(hasher.hash(data)));
    expect(toHex(hasher.keyed(KEY, data))).not.toBe(toHex(hasher.keyed(k2, data)));
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => hasher.keyed(new Uint8Array(31), new Uint8Array(1))).toThrow(RangeError);
    expect(() => hasher.createKeyed(new Uint8Array(33))).toThrow(RangeError);
  });
});
