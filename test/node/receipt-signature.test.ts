import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import { makeReceipt, parseReceipt, receiptSigningBytes, receiptToJson } from '../../src/core/ledger/receipt.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { checkReceiptSignature, signReceipt } from '../../src/node/signing/receipt-signing.js';
import { ed25519SignerFromSeed } from '../../src/node/signing/result-signing.js';

const blake3 = loadNativeBlake3();
// RFC 8032 test 1 secret key (docs/receipt-encoding.md, "Receipt signature").
const signer = ed25519SignerFromSeed(
  Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'),
);
const receipt = makeReceipt(
  { job_id: 'job-1', buyer: 'market:m1', provider: 'bob', quote_price: 1234n, issued_at: 1_700_000_000_000 },
  blake3,
);

describe('receipt signature (docs/receipt-encoding.md vector)', () => {
  it('signs the documented bytes and gives the documented signature', () => {
    expect(signer.nodeId).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(receipt.idempotency_key).toBe('14b29b73d821e22194bd0c33152714771ecef4e2046c21992e404eb26d8da995');
    const expected = Buffer.concat([
      Buffer.from('tessera-receipt-v1'),
      Buffer.from([2, 0, 0, 0]),
      Buffer.from('m1'),
      Buffer.from(receipt.idempotency_key, 'hex'),
      Buffer.from([0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0, 0]),
    ]);
    expect(toHex(receiptSigningBytes('m1', receipt))).toBe(expected.toString('hex'));
    expect(signReceipt(receipt, 'm1', signer).signature).toBe(
      '663dc15d5c79979e91f88b3ac04a1dfe8b11fab1080a45ab3de3c74e825be8eb105dffa038eb3a118c45ad0673532d6fcfe8d8edad5dc8cac1ef38d566e21308',
    );
  });

  it('verifies under the pinned key and refuses unsigned, re-signed, altered and unknown-market receipts by code', () => {
    const signed = signReceipt(receipt, 'm1', signer);
    const pinned = (id: string) => (id === 'm1' ? signer.nodeId : undefined);
    const round = parseReceipt(JSON.parse(JSON.stringify(receiptToJson(signed))), blake3);
    expect(checkReceiptSignature(round, pinned)).toEqual({ ok: true, marketId: 'm1' });
    expect(checkReceiptSignature(receipt, pinned)).toMatchObject({ ok: false, code: 'RECEIPT_UNSIGNED' });
    const other = ed25519SignerFromSeed(new Uint8Array(32).fill(7));
    expect(checkReceiptSignature(signReceipt(receipt, 'm1', other), pinned)).toMatchObject({
      ok: false,
      code: 'RECEIPT_BAD_SIGNATURE',
    });
    // Another issued_at under the same signature: the signature covers it.
    expect(checkReceiptSignature({ ...signed, issued_at: signed.issued_at + 1 }, pinned)).toMatchObject({
      code: 'RECEIPT_BAD_SIGNATURE',
    });
    expect(checkReceiptSignature(signed, () => undefined)).toMatchObject({ code: 'RECEIPT_UNKNOWN_MARKET' });
    const notMarket = makeReceipt({ ...receipt, buyer: 'alice' }, blake3);
    expect(checkReceiptSignature({ ...notMarket, signature: signed.signature }, pinned)).toMatchObject({
      code: 'RECEIPT_UNKNOWN_MARKET',
    });
    expect(checkReceiptSignature(signed, pinned, 'm2')).toMatchObject({ code: 'RECEIPT_WRONG_MARKET' });
    expect(() => parseReceipt({ ...receiptToJson(receipt), signature: 'zz' }, blake3)).toThrow(
      /receipt signature must be 128 lower-case hex characters/,
    );
  });
});
