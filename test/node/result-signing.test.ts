import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/core/errors.js';
import {
  computeResultSigningBytes,
  computeResultToJson,
  type ComputeResult,
} from '../../src/core/market/compute-result.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { NodeIdentity } from '../../src/main/identity.js';
import {
  ed25519SignerFromSeed,
  signComputeResult,
  signerAddress,
  verifySignedComputeResult,
} from '../../src/node/signing/result-signing.js';
import { COMPUTE_RESULT_VECTOR } from '../support/compute-result-vector.js';
import { tempDir } from '../support/temp-dir.js';

const blake3 = loadNativeBlake3();

// docs/compute-result-encoding.md: the RFC 8032 §7.1 TEST 1 key. The public key is RFC 8032's;
// the signature was made outside this code base (Python `cryptography`, Ed25519) over the
// documented signing bytes.
const SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const MARKET = 'tessera-test-market';
const { signature: SIGNATURE, ...UNSIGNED } = COMPUTE_RESULT_VECTOR;
const NOW = UNSIGNED.created_at + 1_500;

const signer = ed25519SignerFromSeed(SEED);
// A second, unrelated key (the RFC 8032 TEST 2 secret key).
const other = ed25519SignerFromSeed(
  Buffer.from('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', 'hex'),
);

const verify = (
  input: unknown,
  over: Partial<{ marketId: string; now: number; maxAgeMs: number; maxFutureMs: number; publicKey: string }> = {},
) => verifySignedComputeResult(input, { marketId: MARKET, now: NOW, publicKey: PUBLIC, ...over }, blake3);
const wire = (r: ComputeResult) => JSON.parse(JSON.stringify(computeResultToJson(r))) as Record<string, unknown>;

describe('ComputeResult signing (Ed25519, node:crypto)', () => {
  it('the seed gives the RFC 8032 public key and the documented address', () => {
    expect(signer.nodeId).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(other.nodeId).toBe('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
    expect(signerAddress(signer, blake3)).toBe(UNSIGNED.worker_address);
  });

  it('signs the documented vector with the documented signature', () => {
    const r = signComputeResult(UNSIGNED, { signer, blake3 });
    expect(r.signature).toBe(SIGNATURE);
  });

  it('a signed result from the wire verifies', () => {
    const r = signComputeResult(UNSIGNED, { signer, blake3 });
    expect(verify(wire(r))).toEqual({ ok: true, result: r });
  });

  it('a node identity key from a data dir signs results that verify under its node id', () => {
    const id = NodeIdentity.loadOrCreate(tempDir());
    const unsigned = { ...UNSIGNED, worker_address: signerAddress(id, blake3) };
    const r = signComputeResult(unsigned, { signer: id, blake3 });
    expect(verify(wire(r), { publicKey: id.nodeId })).toMatchObject({ ok: true });
    expect(verify(wire(r))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses to sign for an address that is not its own', () => {
    expect(() =>
      signComputeResult({ ...UNSIGNED, worker_address: signerAddress(other, blake3) }, { signer, blake3 }),
    ).toThrow(/is not this node's address/);
  });
});

describe('ComputeResult verification codes', () => {
  const good = signComputeResult(UNSIGNED, { signer, blake3 });

  it('BAD_SIGNATURE: a flipped signature bit', () => {
    const sig = good.signature;
    const flipped = (parseInt(sig.slice(0, 2), 16) ^ 1).toString(16).padStart(2, '0') + sig.slice(2);
    expect(verify({ ...wire(good), signature: flipped })).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('BAD_SIGNATURE: a field changed after signing (a swapped result_hash)', () => {
    expect(verify({ ...wire(good), result_hash: '11'.repeat(32) })).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verify({ ...wire(good), nonce: '12346' })).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it("BAD_SIGNATURE: the provider's address, signed by another key", () => {
    const forged = { ...UNSIGNED, signature: other.sign(computeResultSigningBytes(UNSIGNED)) };
    const v = verify(wire(forged));
    expect(v).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(v.ok ? '' : v.message).toMatch(/does not verify/);
  });

  it("BAD_SIGNATURE: another key's valid result sent as this provider's", () => {
    const theirs = signComputeResult(
      { ...UNSIGNED, worker_address: signerAddress(other, blake3) },
      { signer: other, blake3 },
    );
    const v = verify(wire(theirs));
    expect(v).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(v.ok ? '' : v.message).toMatch(/is not the address/);
  });

  it('WRONG_MARKET: a result signed for another market', () => {
    const elsewhere = signComputeResult({ ...UNSIGNED, market_id: 'some-other-market' }, { signer, blake3 });
    expect(verify(wire(elsewhere))).toMatchObject({ ok: false, code: 'WRONG_MARKET' });
    // Relabelling it for this market breaks the signature, which covers the market id.
    expect(verify({ ...wire(elsewhere), market_id: MARKET })).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('STALE: older than 60 s by default, configurable, and too far in the future', () => {
    expect(verify(wire(good), { now: UNSIGNED.created_at + 60_000 })).toMatchObject({ ok: true });
    expect(verify(wire(good), { now: UNSIGNED.created_at + 60_001 })).toMatchObject({ ok: false, code: 'STALE' });
    expect(verify(wire(good), { now: UNSIGNED.created_at + 30_000, maxAgeMs: 20_000 })).toMatchObject({
      ok: false,
      code: 'STALE',
    });
    expect(verify(wire(good), { now: UNSIGNED.created_at - 60_000 })).toMatchObject({ ok: false, code: 'STALE' });
  });

  it('MALFORMED: not a result at all, or a bad field', () => {
    expect(verify('hello')).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(verify({ ...wire(good), created_at: '1700000000000' })).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(verify({ ...wire(good), signature: undefined })).toMatchObject({ ok: false, code: 'MALFORMED' });
  });

  it('checks in a fixed order: MALFORMED, WRONG_MARKET, STALE, then the signature', () => {
    const bad = { ...wire(good), signature: '00'.repeat(64) };
    expect(verify(bad, { now: UNSIGNED.created_at + 61_000 })).toMatchObject({ code: 'STALE' });
    expect(verify(bad, { now: UNSIGNED.created_at + 61_000, marketId: 'x' })).toMatchObject({ code: 'WRONG_MARKET' });
    expect(verify({ ...bad, job_id: '' }, { marketId: 'x' })).toMatchObject({ code: 'MALFORMED' });
  });

  it('every refusal carries a one-line message and no error escapes as a throw', () => {
    for (const input of [null, 1, [], {}, { ...wire(good), extra: true }]) {
      const v = verify(input);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.message).toMatch(/^[^\n]+$/);
    }
    expect(isTesseraError(new Error('x'))).toBe(false);
  });
});
