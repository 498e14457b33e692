import { bech32 } from 'bech32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/core/errors.js';
import { toHex } from '../../src/core/hex.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { addressFromPublicKey, isAddress, parseAddress } from '../../src/shared/market-address.js';

const blake3 = loadNativeBlake3();

// RFC 8032 §7.1 TEST 1 public key. Its address was computed outside this code base: b3sum of
// the 32 raw bytes, first 20 bytes, BIP-173 reference bech32 (Python) with prefix "cpc".
const RFC8032_PUBLIC = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
const RFC8032_ADDRESS = 'cpc1dscsgyng73ckp8re7hedhnpcujj2kt6d7qefed';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isTesseraError(err)) return err.code;
    throw err;
  }
  return 'ok';
}

describe('cpc1 market addresses', () => {
  it('encodes the documented vector: bech32("cpc", BLAKE3(public key)[0..20])', () => {
    expect(addressFromPublicKey(RFC8032_PUBLIC, blake3)).toBe(RFC8032_ADDRESS);
    expect(toHex(parseAddress(RFC8032_ADDRESS))).toBe(toHex(blake3.hash(RFC8032_PUBLIC).subarray(0, 20)));
    expect(RFC8032_ADDRESS).toHaveLength(42);
  });

  it('refuses a wrong prefix with ADDRESS_PREFIX', () => {
    const words = bech32.decode(RFC8032_ADDRESS).words;
    const other = bech32.encode('tpc', words);
    expect(codeOf(() => parseAddress(other))).toBe('ADDRESS_PREFIX');
    expect(() => parseAddress(other)).toThrow(/expected "cpc1"/);
  });

  it('refuses a bad checksum with ADDRESS_CHECKSUM', () => {
    const lastSwapped = RFC8032_ADDRESS.slice(0, -1) + (RFC8032_ADDRESS.endsWith('d') ? 'q' : 'd');
    expect(codeOf(() => parseAddress(lastSwapped))).toBe('ADDRESS_CHECKSUM');
    const dataSwapped =
      RFC8032_ADDRESS.slice(0, 10) + (RFC8032_ADDRESS[10] === 'q' ? 'p' : 'q') + RFC8032_ADDRESS.slice(11);
    expect(codeOf(() => parseAddress(dataSwapped))).toBe('ADDRESS_CHECKSUM');
  });

  it('refuses malformed strings with ADDRESS_INVALID and one-line messages', () => {
    const bad = [
      '',
      RFC8032_ADDRESS.toUpperCase(),
      'cpc1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      'no-separator',
      bech32.encode('cpc', bech32.toWords(new Uint8Array(19))),
      bech32.encode('cpc', bech32.toWords(new Uint8Array(32))),
    ];
    for (const s of bad) {
      expect(
        codeOf(() => parseAddress(s)),
        s,
      ).toBe('ADDRESS_INVALID');
      expect(() => parseAddress(s)).toThrow(/^[^\n]*$/);
      expect(isAddress(s)).toBe(false);
    }
    expect(() => addressFromPublicKey(new Uint8Array(31), blake3)).toThrow(RangeError);
  });

  it('round-trips any key, and any single-character change is refused (property)', () => {
    const seed = 0x00ad_d7e5;
    console.log(`market-address property seed=${seed}`);
    const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 4, max: 41 }),
        fc.integer({ min: 1, max: 31 }),
        (pub, pos, shift) => {
          const addr = addressFromPublicKey(pub, blake3);
          expect(toHex(parseAddress(addr))).toBe(toHex(blake3.hash(pub).subarray(0, 20)));
          const c = addr[pos] as string;
          const changed =
            addr.slice(0, pos) + (alphabet[(alphabet.indexOf(c) + shift) % 32] as string) + addr.slice(pos + 1);
          expect(isAddress(changed)).toBe(false);
        },
      ),
      { seed, numRuns: 300 },
    );
  });
});
