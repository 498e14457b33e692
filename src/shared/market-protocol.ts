import { z } from 'zod';
import { concatBytes, lengthPrefixed } from '../core/bytes.js';
import { fromHex, utf8 } from '../core/hex.js';
import { findJsonTextProblem } from './json-text-check.js';

/**
 * The provider WebSocket protocol at `GET /ws/provider` (docs/market-api.md, "Provider socket").
 * Every frame is one JSON text message with a `type`; each direction has one zod schema, so a
 * frame is parsed (and typed) once at the boundary. Order of a session:
 *   market → challenge; provider → auth (Ed25519 over authSigningBytes); provider → capabilities;
 *   market → welcome; then jobs, heartbeats, results, acks, receipts and prices in any order.
 */
export const MARKET_PROTOCOL_VERSION = 1;

/** Domain-separation tag of the provider's signed answer to the challenge. */
export const PROVIDER_AUTH_TAG = 'tessera-provider-auth-v1';

/** Largest frame a provider may send (a result or heartbeat is well below it). */
export const MAX_PROVIDER_FRAME_BYTES = 64 * 1024;
/** Largest frame the market sends (a job carries at most this much base64 slice data plus fields). */
export const MAX_MARKET_FRAME_BYTES = 4 * 1024 * 1024;
/** Largest slice a job carries inline (base64); larger inputs are split into more jobs. */
export const MAX_INLINE_SLICE_BYTES = 1024 * 1024;

/**
 * Close codes the provider socket uses (RFC 6455 private range 4000–4999, plus 1000, 1001, 1009 and
 * 1011): a client that is closed with one of them should fix what the code names before reconnecting.
 */
export const CLOSE_CODES = {
  /** A normal close (the provider stopping). */
  normal: 1000,
  /** The market is shutting down; reconnect later. */
  goingAway: 1001,
  /** A frame above MAX_PROVIDER_FRAME_BYTES (the ws library's own code). */
  tooBig: 1009,
  /** The market failed on a frame (an internal error, logged with its stack); reconnect. */
  internalError: 1011,
  /** A frame that is not JSON or does not match its schema. */
  malformed: 4000,
  /** A frame other than auth before authentication, or an auth whose signature does not verify. */
  unauthenticated: 4001,
  /** No auth within the allowed time after the challenge. */
  authTimeout: 4002,
  /** The provider is refused (too many wrong results). */
  refused: 4003,
  /** A well-formed frame that is not allowed in the session's state (e.g. two capabilities). */
  wrongState: 4004,
  /** The same address connected again; the older socket is closed. */
  superseded: 4005,
  /**
   * The provider did not read what the market sent: its socket's send buffer stayed above the
   * soft limit too long or passed the hard limit. Its jobs are requeued; read every frame promptly.
   */
  slowConsumer: 4006,
  /** Nothing heard on the socket (no frame, no pong) within the timeout after a ping; reconnect. */
  unresponsive: 4007,
} as const;

const Hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters');
const Hex64 = z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lower-case hex characters');
const Address = z.string().regex(/^cpc1[02-9ac-hj-np-z]{38}$/, 'must be a cpc1… address');
/** micro-CPC as a decimal string (integers only, so no float ever carries money). */
export const MicroCpc = z.string().regex(/^(0|[1-9]\d{0,18})$/, 'must be whole micro-CPC as a decimal string');
const Uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lower-case UUID');
const Ms = z.number().int().nonnegative();
const Lane = z.enum(['consumer', 'industrial']);

// ── provider → market ────────────────────────────────────────────────────────

export const AuthFrame = z.strictObject({
  type: z.literal('auth'),
  version: z.literal(MARKET_PROTOCOL_VERSION),
  /** Raw Ed25519 public key (the node id), hex. */
  public_key: Hex32,
  /** Ed25519 signature over authSigningBytes(market_id, nonce), hex. */
  signature: Hex64,
});

export const GpuInfo = z.strictObject({
  name: z.string().max(200),
  vendor: z.string().max(200),
  /** True for a software adapter (llvmpipe, SwiftShader): it never counts as a GPU. */
  software: z.boolean(),
});

export const CapabilitiesFrame = z.strictObject({
  type: z.literal('capabilities'),
  cpu_threads: z.number().int().min(1).max(4096),
  gpu: GpuInfo.nullable(),
  /** Measured BLAKE3 throughput, MB/s. */
  mbps: z.number().nonnegative().max(1e7),
  lanes: z.array(Lane).min(1).max(2),
  /** Lowest offer the provider takes per job, micro-CPC. */
  ask: MicroCpc,
  /** Jobs the provider runs at once. */
  max_jobs: z.number().int().min(1).max(256),
});

export const HeartbeatFrame = z.strictObject({
  type: z.literal('heartbeat'),
  /** The provider's clock when sent (ms). */
  sent_at: Ms,
  /** The job_ids of the jobs the provider is running (at most 256, each at most 64 characters); informational. */
  in_flight: z.array(z.string().max(64)).max(256),
});

/** ComputeResult JSON (src/core/market/compute-result.ts); fields are checked again by parseComputeResult. */
export const ComputeResultFrameBody = z.strictObject({
  market_id: z.string().min(1).max(256),
  task_id: Uuid,
  /** The job frame's job_id (the market's job ids are lower-case UUIDs; any other id names no job). */
  job_id: Uuid,
  worker_address: Address,
  result_hash: Hex32,
  proof: Hex32,
  /** A decimal string only: a JSON number cannot carry every u64, so one form is accepted on the wire. */
  nonce: z
    .string({ error: 'must be a decimal string ("12345"), not a JSON number' })
    .regex(/^(0|[1-9]\d{0,19})$/, 'must be a decimal string of an integer from 0 to 2^64 − 1, without leading zeros'),
  created_at: Ms,
  signature: Hex64,
});

export const ResultFrame = z.strictObject({
  type: z.literal('result'),
  result: ComputeResultFrameBody,
  /**
   * The epoch of the assignment the result was made for (the job frame's). A result made for an
   * earlier assignment of the job is refused STALE_ASSIGNMENT, unpaid and unpunished: its proof
   * is keyed for that assignment, not the current one.
   */
  epoch: z.number().int().min(1),
  /** What the provider spent on the job (informational, for history on both sides). */
  duration_ms: z.number().nonnegative().max(1e9).optional(),
});

/** A job the provider cannot finish (a disconnect lost it, a runner error): the market requeues it. */
export const JobLostFrame = z.strictObject({
  type: z.literal('job_lost'),
  /** The job frame's job_id. */
  job_id: Uuid,
  reason: z.string().max(500),
});

export const ReceiptAckFrame = z.strictObject({
  type: z.literal('receipt_ack'),
  idempotency_key: Hex32,
});

export const ProviderFrame = z.discriminatedUnion('type', [
  AuthFrame,
  CapabilitiesFrame,
  HeartbeatFrame,
  ResultFrame,
  JobLostFrame,
  ReceiptAckFrame,
]);
export type ProviderFrame = z.infer<typeof ProviderFrame>;
export type CapabilitiesFrame = z.infer<typeof CapabilitiesFrame>;
export type ResultFrame = z.infer<typeof ResultFrame>;

// ── market → provider ────────────────────────────────────────────────────────

export const ChallengeFrame = z.strictObject({
  type: z.literal('challenge'),
  version: z.literal(MARKET_PROTOCOL_VERSION),
  market_id: z.string().min(1).max(256),
  /** 32 random bytes, hex: signed with the market id so an answer is good for this socket only. */
  nonce: Hex32,
  /** Labels the embedded practice market everywhere it appears. */
  practice: z.boolean(),
});

/** Most instance URLs a welcome names. */
export const MAX_WELCOME_INSTANCES = 64;
/**
 * A provider's probation as the market sees it at the welcome (docs/verification.md): how much of
 * its work is checked, its passed checks, and its funded bond. A new provider is checked on
 * every job and funds its bond from its first earnings; both are normal, not faults.
 */
export const WelcomeProbation = z.strictObject({
  /** The fraction of this provider's jobs the market checks now, from its history (0…1); a job that pays much against the funded bond is checked more. */
  checked_fraction: z.number().min(0).max(1),
  /** Checks passed since the last failed one. */
  verified_jobs: z.number().int().nonnegative(),
  /** Passed checks still needed before the checked fraction reaches the market's floor (0: there). */
  jobs_until_floor: z.number().int().nonnegative(),
  /** Every job is checked until this many checks in a row have passed. */
  probation_jobs: z.number().int().nonnegative(),
  /** Credits in the provider's bond, micro-CPC. */
  bond_funded: MicroCpc,
  /** The bond the market holds back from earnings until it is funded, micro-CPC (0: none). */
  bond_target: MicroCpc,
});
export type WelcomeProbation = z.infer<typeof WelcomeProbation>;

export const WelcomeFrame = z.strictObject({
  type: z.literal('welcome'),
  address: Address,
  heartbeat_ms: Ms,
  /** Jobs the market still holds leased to this address, with each lease's epoch (after a reconnect): finish them or report them lost. */
  leased_jobs: z.array(z.strictObject({ job_id: z.string(), epoch: z.number().int().min(1) })).max(10_000),
  server_time: Ms,
  /**
   * The market's Ed25519 public key (raw 32 bytes, hex): it signs every receipt. A node pins it
   * per market id at the first welcome and refuses the market if it later changes (MARKET_KEY_CHANGED).
   */
  market_key: Hex32,
  /**
   * Optional: the URLs of the market's other instances (same market, same store), which a node
   * may fail over to. A node uses only http, https, ws and wss URLs, at most MAX_WELCOME_INSTANCES.
   */
  instances: z.array(z.string().min(1).max(2048)).max(MAX_WELCOME_INSTANCES).optional(),
  /** The provider's probation and bond (absent when the market checks nothing). */
  probation: WelcomeProbation.optional(),
});

export const SyntheticJobParams = z.strictObject({
  /** The market's batch beacon at assignment (hex 32 bytes); seed = SHA-256(beacon ‖ worker address). */
  block_hash: Hex32,
  matrix_size: z.number().int().min(1).max(4096),
  iterations: z.number().int().min(1).max(1_000_000),
});

export const JobFrame = z.strictObject({
  type: z.literal('job'),
  job_id: Uuid,
  task_id: Uuid,
  workload: z.enum(['transcode', 'inference', 'gpuhash', 'synthetic']),
  gpu_required: z.boolean(),
  lane: Lane,
  /** The slice bytes, base64 (absent for synthetic jobs). */
  slice: z
    .strictObject({ encoding: z.literal('base64'), data: z.string(), bytes: z.number().int().nonnegative() })
    .nullable(),
  /** What the job pays, micro-CPC. */
  offer: MicroCpc,
  /** Fencing epoch of this lease; a new assignment of the job has a higher one. */
  epoch: z.number().int().min(1),
  /** Result due by this time (ms): later, the lease is lost and the job reassigned. */
  deadline: Ms,
  /** The per-assignment BLAKE3 key of the proof, hex. */
  assignment_key: Hex32,
  synthetic: SyntheticJobParams.nullable(),
});

export const ResultAckFrame = z.strictObject({
  type: z.literal('result_ack'),
  job_id: z.string(),
  /** The epoch the answered result frame named. */
  epoch: z.number().int().min(1),
  accepted: z.boolean(),
  /** null when accepted; else a stable ComputeResult code (BAD_SIGNATURE, REPLAYED, …). */
  code: z.string().nullable(),
  message: z.string().nullable(),
});

/**
 * Receipt v1 JSON (src/core/ledger/receipt.ts) with the market's signature over
 * receiptSigningBytes (docs/receipt-encoding.md). The provider parses it with parseReceipt and
 * checks the signature against the market's pinned key before recording it; `signature` is
 * optional here only so that an unsigned receipt is refused by its code (RECEIPT_UNSIGNED)
 * rather than dropped as a malformed frame.
 */
export const ReceiptFrame = z.strictObject({
  type: z.literal('receipt'),
  receipt: z.strictObject({
    version: z.literal(1),
    job_id: z.string(),
    buyer: z.string(),
    provider: z.string(),
    quote_price: MicroCpc,
    issued_at: Ms,
    idempotency_key: Hex32,
    signature: Hex64.optional(),
  }),
  task_id: Uuid,
});

export const PricesFrame = z.strictObject({
  type: z.literal('prices'),
  at: Ms,
  /** Offers of the jobs queued per lane (micro-CPC), for the provider's price board. */
  lanes: z.array(
    z.strictObject({ lane: Lane, queued: z.number().int().nonnegative(), offer_p50: MicroCpc, offer_p25: MicroCpc }),
  ),
});

/** The market's answer to a frame it refuses: a stable code and a one-line message, sent before the close. */
export const ErrorFrame = z.strictObject({
  type: z.literal('error'),
  code: z.string(),
  message: z.string(),
});

export const MarketFrame = z.discriminatedUnion('type', [
  ChallengeFrame,
  WelcomeFrame,
  JobFrame,
  ResultAckFrame,
  ReceiptFrame,
  PricesFrame,
  ErrorFrame,
]);
export type MarketFrame = z.infer<typeof MarketFrame>;
export type JobFrame = z.infer<typeof JobFrame>;
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type ReceiptFrame = z.infer<typeof ReceiptFrame>;

/** The bytes a provider signs to answer a challenge: UTF-8(tag) ‖ field(market_id) ‖ nonce (32 bytes). */
export function authSigningBytes(marketId: string, nonceHex: string): Uint8Array {
  return concatBytes([utf8(PROVIDER_AUTH_TAG), lengthPrefixed(marketId), fromHex(nonceHex, 'nonce')]);
}

export type FrameParse<T> = { ok: true; frame: T } | { ok: false; message: string };

/**
 * Parses one text frame against `schema`; the message names the first bad field. A string with
 * NUL or a lone surrogate, or a `__proto__` key, anywhere in the frame is refused first
 * (findJsonTextProblem): no store keeps them and no schema has them.
 */
export function parseFrame<T>(schema: z.ZodType<T>, text: string): FrameParse<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not JSON; every frame is one JSON object with a "type"' };
  }
  const bad = findJsonTextProblem(json);
  if (bad) return { ok: false, message: `${bad.path || 'frame'}: ${bad.problem}` };
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, frame: r.data };
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : 'frame';
  return { ok: false, message: `${path}: ${issue?.message ?? 'invalid'}` };
}
