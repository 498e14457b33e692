import { TesseraError } from '../errors.js';
import type { Blake3Hasher } from '../hash/hasher.js';
import { concatBytes, lengthPrefixed, u32le, u64le } from '../bytes.js';
import { fromHex, toHex, utf8 } from '../hex.js';
import { MAX_CREDITS } from './credits.js';

export { MAX_CREDITS };
export const RECEIPT_VERSION = 1;

/** A match between a buyer and a provider, settled at most once (keyed by idempotency_key). */
export interface Receipt {
  version: 1;
  job_id: string;
  buyer: string;
  provider: string;
  /** Integer credits. */
  quote_price: bigint;
  /** Milliseconds since the Unix epoch. */
  issued_at: number;
  /** hex BLAKE3 of the canonical encoding (see receiptKeyBytes). */
  idempotency_key: string;
  /**
   * hex Ed25519 signature of the issuing market over receiptSigningBytes (128 characters).
   * Absent on receipts stored before markets signed them (history only: a node settles none).
   */
  signature?: string;
}

/** A receipt as JSON carries quote_price as a decimal string (or a safe integer). */
export interface ReceiptJson {
  version: number;
  job_id: string;
  buyer: string;
  provider: string;
  quote_price: string;
  issued_at: number;
  idempotency_key: string;
  signature?: string;
}

/** Domain-separation tag of a market's receipt signature (docs/receipt-encoding.md). */
export const RECEIPT_SIGNING_TAG = 'tessera-receipt-v1';

/** Prefix of the buyer account of a receipt a market issues: `market:<market_id>`. */
export const MARKET_ACCOUNT_PREFIX = 'market:';

/** The ledger account of a market (the buyer on the receipts it issues). */
export function marketAccount(marketId: string): string {
  return `${MARKET_ACCOUNT_PREFIX}${marketId}`;
}

/** The market id a receipt's buyer names (`market:<id>`), or undefined when the buyer is no market. */
export function marketIdOfBuyer(buyer: string): string | undefined {
  if (!buyer.startsWith(MARKET_ACCOUNT_PREFIX)) return undefined;
  const id = buyer.slice(MARKET_ACCOUNT_PREFIX.length);
  return id.length > 0 ? id : undefined;
}

/**
 * The bytes a market signs for a receipt (docs/receipt-encoding.md, "Receipt signature"):
 *   UTF-8("tessera-receipt-v1") ‖ field(market_id) ‖ idempotency_key (32 raw bytes) ‖ u64le(issued_at)
 * The idempotency key already commits to job_id, buyer, provider, quote_price and version, so
 * the signature covers every field of the receipt.
 */
export function receiptSigningBytes(marketId: string, r: Pick<Receipt, 'idempotency_key' | 'issued_at'>): Uint8Array {
  return concatBytes([
    utf8(RECEIPT_SIGNING_TAG),
    lengthPrefixed(marketId),
    fromHex(r.idempotency_key, 'receipt idempotency_key'),
    u64le(r.issued_at),
  ]);
}

/** Raised for a malformed receipt; the message names the field. */
export class ReceiptError extends TesseraError {
  constructor(message: string) {
    super('RECEIPT_INVALID', message);
    this.name = 'ReceiptError';
  }
}

/**
 * Canonical bytes hashed into the idempotency key (docs/receipt-encoding.md):
 *   u32le(len) ‖ UTF-8(job_id) ‖ u32le(len) ‖ UTF-8(buyer) ‖ u32le(len) ‖ UTF-8(provider)
 *   ‖ u64le(quote_price) ‖ u32le(version)
 */
export function receiptKeyBytes(
  r: Pick<Receipt, 'job_id' | 'buyer' | 'provider' | 'quote_price' | 'version'>,
): Uint8Array {
  return concatBytes([
    lengthPrefixed(r.job_id),
    lengthPrefixed(r.buyer),
    lengthPrefixed(r.provider),
    u64le(r.quote_price),
    u32le(r.version),
  ]);
}

/** idempotency_key = hex(BLAKE3(receiptKeyBytes(r))). */
export function receiptKey(
  r: Pick<Receipt, 'job_id' | 'buyer' | 'provider' | 'quote_price' | 'version'>,
  blake3: Blake3Hasher,
): string {
  return toHex(blake3.hash(receiptKeyBytes(r)));
}

/** Builds a receipt with its key computed. */
export function makeReceipt(fields: Omit<Receipt, 'idempotency_key' | 'version'>, blake3: Blake3Hasher): Receipt {
  const base = { version: 1 as const, ...fields };
  validateFields(base);
  return { ...base, idempotency_key: receiptKey(base, blake3) };
}

function validateFields(r: Omit<Receipt, 'idempotency_key'>): void {
  const version: unknown = r.version;
  if (version !== RECEIPT_VERSION) {
    const got =
      typeof version === 'string'
        ? `the string ${JSON.stringify(version)}`
        : version === undefined
          ? 'no version'
          : String(JSON.stringify(version));
    throw new ReceiptError(`receipt version must be the number ${RECEIPT_VERSION}, got ${got}`);
  }
  for (const name of ['job_id', 'buyer', 'provider'] as const) {
    const v = r[name];
    if (typeof v !== 'string' || v.length === 0 || v.length > 256)
      throw new ReceiptError(`receipt ${name} must be a non-empty string of at most 256 characters`);
  }
  if (r.buyer === r.provider) throw new ReceiptError('receipt buyer and provider must differ');
  if (typeof r.quote_price !== 'bigint' || r.quote_price < 0n || r.quote_price > MAX_CREDITS) {
    throw new ReceiptError(`receipt quote_price must be an integer from 0 to ${MAX_CREDITS} credits`);
  }
  if (!Number.isSafeInteger(r.issued_at) || r.issued_at < 0)
    throw new ReceiptError('receipt issued_at must be a non-negative integer (ms since epoch)');
}

/** Parses and verifies a receipt from JSON-shaped input; throws ReceiptError naming the bad field. */
export function parseReceipt(input: unknown, blake3: Blake3Hasher): Receipt {
  if (typeof input !== 'object' || input === null) throw new ReceiptError('receipt must be a JSON object');
  const o = input as Record<string, unknown>;
  const price = o.quote_price;
  let quote: bigint;
  if (typeof price === 'string' && /^\d{1,20}$/.test(price)) quote = BigInt(price);
  else if (typeof price === 'number' && Number.isSafeInteger(price) && price >= 0) quote = BigInt(price);
  else
    throw new ReceiptError('receipt quote_price must be a non-negative integer (a decimal string or a safe integer)');
  const r = {
    version: o.version as 1,
    job_id: o.job_id as string,
    buyer: o.buyer as string,
    provider: o.provider as string,
    quote_price: quote,
    issued_at: o.issued_at as number,
  };
  validateFields(r);
  const key = receiptKey(r, blake3);
  if (o.idempotency_key !== key)
    throw new ReceiptError(`receipt idempotency_key does not match its fields (expected ${key})`);
  const sig = o.signature;
  if (sig === undefined || sig === null) return { ...r, idempotency_key: key };
  if (typeof sig !== 'string' || !/^[0-9a-f]{128}$/.test(sig))
    throw new ReceiptError('receipt signature must be 128 lower-case hex characters (an Ed25519 signature)');
  return { ...r, idempotency_key: key, signature: sig };
}

/** The receipt without its signature (the form stored as a receipt's payload). */
export function unsignedReceipt(r: Receipt): Receipt {
  const { signature, ...rest } = r;
  void signature;
  return rest;
}

/** The JSON form sent over the wire and written to receipt files (field order fixed; `signature` last, when signed). */
export function receiptToJson(r: Receipt): ReceiptJson {
  return {
    version: r.version,
    job_id: r.job_id,
    buyer: r.buyer,
    provider: r.provider,
    quote_price: r.quote_price.toString(),
    issued_at: r.issued_at,
    idempotency_key: r.idempotency_key,
    ...(r.signature !== undefined ? { signature: r.signature } : {}),
  };
}
