import { marketIdOfBuyer, receiptSigningBytes, type Receipt } from '../../core/ledger/receipt.js';
import { nodeSignatureVerifier } from './node-signature.js';
import type { ResultSigner } from './result-signing.js';

/** Why a node refuses a receipt before recording it (stable codes; docs/earnings.md). */
export type ReceiptRefusalCode =
  'RECEIPT_UNSIGNED' | 'RECEIPT_BAD_SIGNATURE' | 'RECEIPT_UNKNOWN_MARKET' | 'RECEIPT_WRONG_MARKET';

export type ReceiptCheck = { ok: true; marketId: string } | { ok: false; code: ReceiptRefusalCode; message: string };

/** Signs a receipt as the market `marketId` (Ed25519 over receiptSigningBytes); the receipt's buyer must be that market. */
export function signReceipt(r: Receipt, marketId: string, signer: Pick<ResultSigner, 'sign'>): Receipt {
  if (marketIdOfBuyer(r.buyer) !== marketId)
    throw new RangeError(`receipt buyer ${r.buyer} is not market:${marketId}; a market signs only its own receipts`);
  return { ...r, signature: signer.sign(receiptSigningBytes(marketId, r)) };
}

/**
 * Checks a receipt against the key pinned for the market its buyer names (`market:<id>`):
 * `keyOf(id)` gives that key (hex raw Ed25519 public key) or undefined when none is pinned.
 * When `expectMarket` is given, the receipt must name that market (a socket delivers only its
 * own market's receipts).
 */
export function checkReceiptSignature(
  r: Receipt,
  keyOf: (marketId: string) => string | undefined,
  expectMarket?: string,
): ReceiptCheck {
  const marketId = marketIdOfBuyer(r.buyer);
  if (marketId === undefined)
    return {
      ok: false,
      code: 'RECEIPT_UNKNOWN_MARKET',
      message: `receipt ${r.idempotency_key} names buyer ${r.buyer}, not a market (market:<id>); only a market's signed receipts are settled`,
    };
  if (expectMarket !== undefined && marketId !== expectMarket)
    return {
      ok: false,
      code: 'RECEIPT_WRONG_MARKET',
      message: `receipt ${r.idempotency_key} names market ${marketId}, but it came from market ${expectMarket}`,
    };
  if (r.signature === undefined)
    return {
      ok: false,
      code: 'RECEIPT_UNSIGNED',
      message: `receipt ${r.idempotency_key} carries no market signature; an unsigned receipt is worth nothing`,
    };
  const key = keyOf(marketId);
  if (key === undefined)
    return {
      ok: false,
      code: 'RECEIPT_UNKNOWN_MARKET',
      message: `no key is pinned for market ${marketId}; join it once, or pin its key with \`tessera market-key trust ${marketId} <key>\``,
    };
  const verify = nodeSignatureVerifier(key);
  if (!verify || !verify(receiptSigningBytes(marketId, r), r.signature))
    return {
      ok: false,
      code: 'RECEIPT_BAD_SIGNATURE',
      message: `receipt ${r.idempotency_key} is not signed by the pinned key of market ${marketId}`,
    };
  return { ok: true, marketId };
}
