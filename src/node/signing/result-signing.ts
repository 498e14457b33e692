import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { fromHex } from '../../core/hex.js';
import {
  ComputeResultError,
  computeResultSigningBytes,
  verifyComputeResult,
  type ComputeResult,
  type ResultExpectations,
  type ResultVerdict,
  type SignatureCheck,
  type UnsignedComputeResult,
} from '../../core/market/compute-result.js';
import { addressFromPublicKey } from '../../shared/market-address.js';
import { nodeSignatureVerifier } from './node-signature.js';

/** What signs results: the node identity (NodeIdentity fits), or a key from a seed in tests and docs. */
export interface ResultSigner {
  /** hex of the raw 32-byte Ed25519 public key. */
  readonly nodeId: string;
  /** hex Ed25519 signature (128 characters). */
  sign(data: Uint8Array): string;
}

export interface ResultSigningDeps {
  signer: ResultSigner;
  blake3: Blake3Hasher;
}

/** The PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An Ed25519 signer from a raw 32-byte seed (RFC 8032 secret key). */
export function ed25519SignerFromSeed(seed: Uint8Array): ResultSigner {
  if (seed.length !== 32) throw new RangeError(`an Ed25519 seed is 32 bytes, got ${seed.length}`);
  const key: KeyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return {
    nodeId: spki.subarray(spki.length - 32).toString('hex'),
    sign: (data) => sign(null, data, key).toString('hex'),
  };
}

/** The `cpc1…` address of a signer. */
export function signerAddress(signer: Pick<ResultSigner, 'nodeId'>, blake3: Blake3Hasher): string {
  return addressFromPublicKey(fromHex(signer.nodeId, 'node id'), blake3);
}

/**
 * Signs a result: Ed25519 over computeResultSigningBytes (which include the market id).
 * Refuses (MALFORMED) a worker_address that is not the signer's, which no market would accept.
 */
export function signComputeResult(unsigned: UnsignedComputeResult, deps: ResultSigningDeps): ComputeResult {
  const own = signerAddress(deps.signer, deps.blake3);
  if (unsigned.worker_address !== own)
    throw new ComputeResultError(
      'MALFORMED',
      `worker_address ${unsigned.worker_address} is not this node's address ${own}`,
    );
  const bytes = computeResultSigningBytes(unsigned);
  return { ...unsigned, signature: deps.signer.sign(bytes) };
}

/**
 * The signature check for results from the provider whose public key is `publicKeyHex` (the
 * key it joined with): worker_address must be that key's address and the signature valid. The
 * key and the address are worked out once, so keep one check per provider.
 */
export function resultSignatureCheck(publicKeyHex: string, blake3: Blake3Hasher): SignatureCheck {
  if (!/^[0-9a-f]{64}$/.test(publicKeyHex))
    throw new RangeError('publicKeyHex must be 64 lower-case hex characters (a raw Ed25519 public key)');
  const address = addressFromPublicKey(fromHex(publicKeyHex), blake3);
  const verifies = nodeSignatureVerifier(publicKeyHex);
  return (message, r) => {
    if (r.worker_address !== address)
      return {
        ok: false,
        message: `worker_address ${r.worker_address} is not the address ${address} of the provider's key`,
      };
    if (!verifies?.(message, r.signature))
      return { ok: false, message: `signature does not verify under the key of ${address}` };
    return { ok: true };
  };
}

/**
 * Verifies a received result end to end except the store's checks (REPLAYED, NOT_LEASED):
 * MALFORMED, WRONG_MARKET, STALE, then BAD_SIGNATURE against `publicKey`.
 */
export function verifySignedComputeResult(
  input: unknown,
  expect: ResultExpectations & { publicKey: string },
  blake3: Blake3Hasher,
): ResultVerdict {
  return verifyComputeResult(input, expect, resultSignatureCheck(expect.publicKey, blake3));
}
