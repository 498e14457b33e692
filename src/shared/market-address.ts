import { bech32 } from 'bech32';
import { TesseraError } from '../core/errors.js';
import type { Blake3Hasher } from '../core/hash/hasher.js';

/** Human-readable part of every market address. */
export const ADDRESS_PREFIX = 'cpc';
/** Bytes of the public-key hash an address carries. */
export const ADDRESS_HASH_BYTES = 20;
/** Length of a raw Ed25519 public key. */
export const ED25519_PUBLIC_KEY_BYTES = 32;

export type AddressErrorCode = 'ADDRESS_PREFIX' | 'ADDRESS_CHECKSUM' | 'ADDRESS_INVALID';

/** A string that is not a valid `cpc1…` address; the code says why. */
export class AddressError extends TesseraError {
  constructor(
    override readonly code: AddressErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'AddressError';
  }
}

/**
 * The market address of an Ed25519 key (docs/compute-result-encoding.md):
 * bech32 (BIP-173, through the `bech32` package) with prefix "cpc" of the first 20 bytes of
 * BLAKE3(raw 32-byte public key). 42 characters, lower case.
 */
export function addressFromPublicKey(publicKey: Uint8Array, blake3: Blake3Hasher): string {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES)
    throw new RangeError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`);
  return bech32.encode(ADDRESS_PREFIX, bech32.toWords(blake3.hash(publicKey).subarray(0, ADDRESS_HASH_BYTES)));
}

/** Decodes a `cpc1…` address to its 20-byte key hash; throws AddressError naming what is wrong. */
export function parseAddress(address: string): Uint8Array {
  if (typeof address !== 'string' || address.length === 0)
    throw new AddressError('ADDRESS_INVALID', 'address must be a non-empty cpc1… string');
  const shown = address.length > 100 ? `${address.slice(0, 100)}…` : address;
  if (address !== address.toLowerCase())
    throw new AddressError('ADDRESS_INVALID', `address ${shown} must be lower case`);
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(address);
  } catch (err) {
    const reason = (err as Error).message.replace(/ for .*$/s, '');
    if (/checksum/i.test(reason))
      throw new AddressError('ADDRESS_CHECKSUM', `address ${shown} has a bad checksum; copy it again`);
    throw new AddressError('ADDRESS_INVALID', `address ${shown} is not bech32 (${reason})`);
  }
  if (decoded.prefix !== ADDRESS_PREFIX)
    throw new AddressError(
      'ADDRESS_PREFIX',
      `address ${shown} starts with "${decoded.prefix}1", expected "${ADDRESS_PREFIX}1"`,
    );
  const bytes = bech32.fromWordsUnsafe(decoded.words);
  if (bytes?.length !== ADDRESS_HASH_BYTES)
    throw new AddressError('ADDRESS_INVALID', `address ${shown} does not carry a ${ADDRESS_HASH_BYTES}-byte key hash`);
  return Uint8Array.from(bytes);
}

/** True when `address` parses. */
export function isAddress(address: string): boolean {
  try {
    parseAddress(address);
    return true;
  } catch (err) {
    if (err instanceof AddressError) return false;
    throw err;
  }
}
