import { TesseraError } from '../errors.js';
import { concatBytes, lengthPrefixed, u32le, u64le } from '../bytes.js';
import { fromHex, utf8 } from '../hex.js';

/** Version of the ComputeResult canonical encoding (docs/compute-result-encoding.md). */
export const COMPUTE_RESULT_VERSION = 1;
/** Domain-separation tag that starts every ComputeResult encoding. */
export const COMPUTE_RESULT_TAG = 'tessera-compute-result';
/** A result older than this (ms) is refused as STALE. */
export const DEFAULT_MAX_RESULT_AGE_MS = 60_000;
/** A result dated further ahead of the market's clock than this (ms) is refused as STALE. */
export const DEFAULT_MAX_RESULT_FUTURE_MS = 10_000;
/** The largest nonce: 2^64 − 1 (encoded as u64le). */
export const MAX_RESULT_NONCE = (1n << 64n) - 1n;

/**
 * Stable codes a market answers a refused result with. The first five are decided here from
 * the result alone; REPLAYED and NOT_LEASED need the store, so the market decides them with
 * these names.
 */
export const COMPUTE_RESULT_CODES = {
  MALFORMED: 'MALFORMED',
  WRONG_MARKET: 'WRONG_MARKET',
  STALE: 'STALE',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** result_hash or proof differ from the verified digests (the penalize_sla reason). */
  WRONG_RESULT: 'WRONG_RESULT',
  /** The (worker_address, nonce) pair was already seen. */
  REPLAYED: 'REPLAYED',
  /** The job is not leased to worker_address. */
  NOT_LEASED: 'NOT_LEASED',
  /** The job is leased to worker_address again under a newer assignment than the result was made for (unpaid, unpunished). */
  STALE_ASSIGNMENT: 'STALE_ASSIGNMENT',
} as const;

export type ComputeResultCode = (typeof COMPUTE_RESULT_CODES)[keyof typeof COMPUTE_RESULT_CODES];

/**
 * A provider's signed answer for one job. `market_id` is carried (and signed) so a result
 * meant for another market is refused as WRONG_MARKET rather than as a bad signature.
 */
export interface ComputeResult {
  market_id: string;
  /** The task's UUID (lower case). */
  task_id: string;
  job_id: string;
  /** `cpc1…` address of the key that signs. */
  worker_address: string;
  /** hex plain BLAKE3 of the job's output bytes (64 lower-case hex). */
  result_hash: string;
  /** hex keyed BLAKE3 of the same bytes under the assignment key (64 lower-case hex). */
  proof: string;
  /** Provider-chosen, never reused: 0 ≤ nonce ≤ 2^64 − 1. */
  nonce: bigint;
  /** Milliseconds since the Unix epoch. */
  created_at: number;
  /** hex Ed25519 signature over computeResultSigningBytes (128 lower-case hex). */
  signature: string;
}

/** The fields a provider signs. */
export type UnsignedComputeResult = Omit<ComputeResult, 'signature'>;

/** ComputeResult as JSON: nonce as a decimal string (it may exceed 2^53). Field order fixed. */
export interface ComputeResultJson {
  market_id: string;
  task_id: string;
  job_id: string;
  worker_address: string;
  result_hash: string;
  proof: string;
  nonce: string;
  created_at: number;
  signature: string;
}

/** A result refused for one stable reason; the message names the field or the check. */
export class ComputeResultError extends TesseraError {
  constructor(
    override readonly code: ComputeResultCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'ComputeResultError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Shape of a `cpc1…` address (20-byte payload); its checksum is checked where the key is known. */
const ADDRESS_SHAPE = /^cpc1[02-9ac-hj-np-z]{38}$/;
const HEX32 = /^[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{128}$/;
const FIELDS = [
  'market_id',
  'task_id',
  'job_id',
  'worker_address',
  'result_hash',
  'proof',
  'nonce',
  'created_at',
  'signature',
] as const;

/**
 * Canonical bytes a provider signs (docs/compute-result-encoding.md):
 *   UTF-8("tessera-compute-result") ‖ u32le(1) ‖ field(market_id) ‖ field(task_id) ‖ field(job_id)
 *   ‖ field(worker_address) ‖ result_hash (32 bytes) ‖ proof (32 bytes) ‖ u64le(nonce) ‖ u64le(created_at)
 */
export function computeResultSigningBytes(r: UnsignedComputeResult): Uint8Array {
  validateUnsigned(r);
  return concatBytes([
    utf8(COMPUTE_RESULT_TAG),
    u32le(COMPUTE_RESULT_VERSION),
    lengthPrefixed(r.market_id),
    lengthPrefixed(r.task_id),
    lengthPrefixed(r.job_id),
    lengthPrefixed(r.worker_address),
    fromHex(r.result_hash),
    fromHex(r.proof),
    u64le(r.nonce),
    u64le(r.created_at),
  ]);
}

/** The whole signed record: signing bytes ‖ signature (64 bytes). A compute_root leaf. */
export function computeResultBytes(r: ComputeResult): Uint8Array {
  if (typeof r.signature !== 'string' || !HEX64.test(r.signature))
    malformed('signature must be 128 lower-case hex characters (an Ed25519 signature)');
  return concatBytes([computeResultSigningBytes(r), fromHex(r.signature)]);
}

/** The JSON form sent over the socket and stored (field order fixed). */
export function computeResultToJson(r: ComputeResult): ComputeResultJson {
  return {
    market_id: r.market_id,
    task_id: r.task_id,
    job_id: r.job_id,
    worker_address: r.worker_address,
    result_hash: r.result_hash,
    proof: r.proof,
    nonce: r.nonce.toString(),
    created_at: r.created_at,
    signature: r.signature,
  };
}

/** Parses a ComputeResult from JSON-shaped input; throws ComputeResultError (MALFORMED) naming the field. */
export function parseComputeResult(input: unknown): ComputeResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    malformed('a compute result must be a JSON object');
  const o = input as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (extra.length > 0)
    malformed(`compute result has unknown field ${JSON.stringify(extra[0])}; only ${FIELDS.join(', ')} are signed`);
  const nonce = parseNonce(o.nonce);
  const r = {
    market_id: o.market_id as string,
    task_id: o.task_id as string,
    job_id: o.job_id as string,
    worker_address: o.worker_address as string,
    result_hash: o.result_hash as string,
    proof: o.proof as string,
    nonce,
    created_at: o.created_at as number,
    signature: o.signature as string,
  };
  validateUnsigned(r);
  if (typeof r.signature !== 'string' || !HEX64.test(r.signature))
    malformed('signature must be 128 lower-case hex characters (an Ed25519 signature)');
  return r;
}

/** Checks an Ed25519 signature over `message`; hosts implement it (node:crypto in main). */
export type SignatureCheck = (
  message: Uint8Array,
  result: ComputeResult,
) => { ok: true } | { ok: false; message: string };

/** What the market expects of every result it receives. */
export interface ResultExpectations {
  marketId: string;
  /** The market's clock reading (ms since epoch). */
  now: number;
  maxAgeMs?: number;
  maxFutureMs?: number;
}

export type ResultVerdict =
  { ok: true; result: ComputeResult } | { ok: false; code: ComputeResultCode; message: string };

/**
 * Verifies a received result in a fixed order — MALFORMED, WRONG_MARKET, STALE, BAD_SIGNATURE —
 * and returns the first failure's stable code. REPLAYED and NOT_LEASED are the market's (store)
 * checks, made after this passes.
 */
export function verifyComputeResult(
  input: unknown,
  expect: ResultExpectations,
  checkSignature: SignatureCheck,
): ResultVerdict {
  let r: ComputeResult;
  try {
    r = parseComputeResult(input);
    if (r.market_id !== expect.marketId) {
      throw new ComputeResultError(
        'WRONG_MARKET',
        `compute result is for market ${JSON.stringify(r.market_id)}, this is market ${JSON.stringify(expect.marketId)}`,
      );
    }
    checkFreshness(r, expect);
  } catch (err) {
    if (err instanceof ComputeResultError) return { ok: false, code: err.code, message: err.message };
    throw err;
  }
  const sig = checkSignature(computeResultSigningBytes(r), r);
  if (!sig.ok) return { ok: false, code: 'BAD_SIGNATURE', message: sig.message };
  return { ok: true, result: r };
}

/** Throws STALE when created_at is older than maxAgeMs or further ahead than maxFutureMs. */
export function checkFreshness(
  r: Pick<ComputeResult, 'created_at'>,
  expect: Pick<ResultExpectations, 'now' | 'maxAgeMs' | 'maxFutureMs'>,
): void {
  const maxAge = expect.maxAgeMs ?? DEFAULT_MAX_RESULT_AGE_MS;
  const maxFuture = expect.maxFutureMs ?? DEFAULT_MAX_RESULT_FUTURE_MS;
  const age = expect.now - r.created_at;
  if (age > maxAge)
    throw new ComputeResultError(
      'STALE',
      `compute result created_at is ${age} ms old, more than the ${maxAge} ms allowed; send results as soon as they are made`,
    );
  if (-age > maxFuture)
    throw new ComputeResultError(
      'STALE',
      `compute result created_at is ${-age} ms ahead of the market's clock, more than the ${maxFuture} ms allowed; check the provider's clock`,
    );
}

/**
 * Compares a result with the digests the validator computed itself (re-execution or a second
 * provider's verified bytes under this assignment's key). A result_hash copied from elsewhere
 * cannot come with the right proof, because the proof's key is this assignment's alone.
 */
export function checkResultDigests(
  r: Pick<ComputeResult, 'result_hash' | 'proof'>,
  expected: { resultHash: string; proof: string },
): { ok: true } | { ok: false; code: 'WRONG_RESULT'; message: string } {
  if (r.result_hash !== expected.resultHash)
    return {
      ok: false,
      code: 'WRONG_RESULT',
      message: `result_hash ${r.result_hash} is not the verified ${expected.resultHash}`,
    };
  if (r.proof !== expected.proof)
    return {
      ok: false,
      code: 'WRONG_RESULT',
      message: 'proof does not match the keyed BLAKE3 of the verified bytes under this assignment key',
    };
  return { ok: true };
}

/** Gas limit of a SUBMIT_RESULT transaction (document 003). */
export const SUBMIT_RESULT_GAS_LIMIT = 80_000;
/** The gas price document 003 uses. */
export const DEFAULT_GAS_PRICE = 1000;

/** The SUBMIT_RESULT transaction record of document 003, without the account nonce the L1 bridge assigns. */
export interface SubmitResultTx {
  tx_type: 'SUBMIT_RESULT';
  from_address: string;
  to_address: null;
  amount: 0;
  gas_limit: typeof SUBMIT_RESULT_GAS_LIMIT;
  gas_price: number;
  /** gas_limit × gas_price. */
  fee: number;
  payload: ComputeResultJson;
}

/** Builds the SUBMIT_RESULT record for a verified result; from_address is the worker (L1 checks they match). */
export function buildSubmitResultTx(r: ComputeResult, gasPrice: number = DEFAULT_GAS_PRICE): SubmitResultTx {
  if (!Number.isSafeInteger(gasPrice) || gasPrice < 0) throw new RangeError('gas_price must be a non-negative integer');
  const fee = SUBMIT_RESULT_GAS_LIMIT * gasPrice;
  if (!Number.isSafeInteger(fee)) throw new RangeError('gas_limit × gas_price exceeds 2^53 − 1');
  computeResultBytes(r); // validates every field
  return {
    tx_type: 'SUBMIT_RESULT',
    from_address: r.worker_address,
    to_address: null,
    amount: 0,
    gas_limit: SUBMIT_RESULT_GAS_LIMIT,
    gas_price: gasPrice,
    fee,
    payload: computeResultToJson(r),
  };
}

function parseNonce(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' && /^(0|[1-9]\d{0,19})$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return malformed('nonce must be a non-negative integer below 2^64 (a decimal string, or a safe integer)');
}

function validateUnsigned(r: UnsignedComputeResult): void {
  for (const name of ['market_id', 'job_id'] as const) {
    const v: unknown = r[name];
    if (typeof v !== 'string' || v.length === 0 || v.length > 256)
      malformed(`${name} must be a non-empty string of at most 256 characters`);
  }
  if (typeof r.task_id !== 'string' || !UUID.test(r.task_id)) malformed('task_id must be a lower-case UUID');
  if (typeof r.worker_address !== 'string' || !ADDRESS_SHAPE.test(r.worker_address))
    malformed('worker_address must be a lower-case cpc1… address (42 characters)');
  if (typeof r.result_hash !== 'string' || !HEX32.test(r.result_hash))
    malformed('result_hash must be 64 lower-case hex characters (a BLAKE3 digest)');
  if (typeof r.proof !== 'string' || !HEX32.test(r.proof))
    malformed('proof must be 64 lower-case hex characters (a keyed BLAKE3 digest)');
  if (typeof r.nonce !== 'bigint' || r.nonce < 0n || r.nonce > MAX_RESULT_NONCE)
    malformed('nonce must be an integer from 0 to 2^64 − 1');
  if (!Number.isSafeInteger(r.created_at) || r.created_at < 0)
    malformed('created_at must be a non-negative integer (ms since epoch)');
}

function malformed(message: string): never {
  throw new ComputeResultError('MALFORMED', message);
}
