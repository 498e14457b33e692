import { DEFAULT_QUORUM_CONFIG, type QuorumConfig, type RestartPolicy } from '../../core/market/lease-state.js';
import { DEFAULT_DEFER_MAX_SECS } from '../../core/pricing/admission.js';
import type { ComfortGuardConfig } from '../../core/pricing/comfort-guard.js';
import { U64_MAX } from '../../core/pricing/lanes.js';
import { MAX_INLINE_SLICE_BYTES, MAX_MARKET_FRAME_BYTES } from '../../shared/market-protocol.js';
import { checkLivenessTimings } from '../../node/socket-liveness.js';
import type { ProbationPolicy } from '../../core/market/probation.js';

export const VERIFY_MODES = ['reexecute', 'second_provider', 'both'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** The validator's knobs (docs/market-api.md, "Validator"). */
export interface ValidatorConfig {
  /** Largest job input, bytes (at most MAX_INLINE_SLICE_BYTES: a job carries its bytes inline). */
  sliceBytes: number;
  /**
   * The floor of each provider's checked fraction (0…1, default 0.1): the fraction of jobs checked
   * (re-executed by the validator and/or run by a second provider, `verifyMode`) once a provider
   * is past probation. A provider on probation, or with little bond, is checked more
   * (docs/verification.md). 0 turns checking off, probation included.
   */
  checkFraction: number;
  /**
   * `verify_mode`: how checked jobs are checked. `reexecute` (default): the validator re-executes
   * them; `second_provider`: each checked job is also run, as a normal job of its own, by a
   * second, distinct provider, and the validator re-executes only when the two disagree;
   * `both`: both. Synthetic jobs (whose output depends on the worker) are always re-executed.
   */
  verifyMode: VerifyMode;
  /** A job's result is due this long after it is assigned; later the lease is revoked. */
  jobDeadlineMs: number;
  /** How often providers heartbeat (sent in the welcome). */
  heartbeatMs: number;
  /** The lease machine's timing: Suspect after t1 of silence, the lease lost after t2. */
  quorum: QuorumConfig;
  restartPolicy: RestartPolicy;
  /**
   * `standbys`: how many standby providers a job's lease names when it is first granted (0, the
   * default: none). A lost lease (silence past t2, the result deadline, a job reported lost) is
   * then handed to the first named standby that is still connected, fits the job and has room, at
   * the next epoch and in the same transaction, instead of going back to the queue; with none
   * left, the job is requeued (docs/market-api.md, "Standby handover").
   */
  standbys: number;
  /** How often leases are ticked and lost ones reassigned. */
  sweepMs: number;
  /** Results are settled in group commits: a commit waits at most this long to gather results. */
  settleWindowMs: number;
  /** Every this many ms the accepted results not yet batched are sealed into a batch (0: only on request). */
  batchMs: number;
  /** How often each instance sends the unacknowledged receipts of the providers connected to it, whichever instance stored them (0 = off). */
  receiptDeliveryMs: number;
  /**
   * The bond each provider must have funded, micro-CPC (default 10 CPC; 0: no bond). It is held
   * back from the provider's first earnings (`bondShare` of each payout) into its
   * `bond:<address>` account; a failed check moves the whole funded bond to treasury
   * (docs/verification.md).
   */
  bondTarget: bigint;
  /** Share of each payout held back into the bond while it is below `bondTarget` (0…1, default 0.5). */
  bondShare: number;
  /**
   * Probation: every job of a provider is checked until this many checks in a row have passed
   * (and again after a failed one); then its checked fraction falls as probationJobs / passed
   * checks, down to `checkFraction` (docs/verification.md). Default 10.
   */
  probationJobs: number;
  initialReputation: number;
  reputationDrop: number;
  /** A provider is refused after this many wrong results. */
  refuseAfter: number;
  /**
   * Reach-back window, ms: when a provider fails a check, the results it gets accepted without a
   * check for this long after the failure are re-verified by re-execution, with those before it
   * (`reachBackMax`; docs/market-api.md, "Reach-back"). 1 minute to 30 days.
   */
  reachBackMs: number;
  /**
   * Of the unchecked results before a failure, at most this many (the newest, however old) are
   * re-verified, per provider; a refused provider's are all re-verified (docs/verification.md). 1 to 100000.
   */
  reachBackMax: number;
  /** How long a socket may take to answer the challenge. */
  authTimeoutMs: number;
  /** A provider socket the market has heard nothing from (no frame, no pong) for this long is pinged, ms. */
  socketPingMs: number;
  /**
   * A provider socket silent this long, its ping unanswered, is closed with 4007 (UNRESPONSIVE) and
   * its session ends: its leases lapse by the usual silence rule (t2) and go to other providers, ms.
   */
  socketDeadMs: number;
  /** Labels the embedded practice market in every challenge. */
  practice: boolean;
  /**
   * A provider socket's send buffer (bytes the market has queued for it and the network has not
   * taken yet): above `sendBufferSoftBytes` no job is leased or sent to it; above
   * `sendBufferHardBytes`, or above the soft limit for `slowConsumerMs`, the provider is dropped
   * (close 4006 SLOW_CONSUMER) and its jobs requeued (docs/market-api.md, "Slow consumers").
   */
  sendBufferSoftBytes: number;
  sendBufferHardBytes: number;
  slowConsumerMs: number;
  /**
   * The comfort guard over the queued consumer jobs (docs/admission.md): industrial jobs are
   * admitted only while it is loose. Fees are job offers in micro-CPC; the default fee limit is
   * off (U64_MAX) and the age limit is the node's default, 30 s.
   */
  comfortGuard: ComfortGuardConfig;
  /** A deferred industrial job is held at most this long; then its task fails with DEFER_EXPIRED and is refunded. */
  industrialDeferMaxMs: number;
  /**
   * How often this instance heartbeats its row in the store and checks the presence of the
   * providers connected to it (docs/market-api.md, "Presence"), ms; 0: only when asked (`presence.runOnce()`).
   */
  presenceMs: number;
  /** An instance whose heartbeat is older than this is dead: its providers no longer count as present, ms. */
  instanceTimeoutMs: number;
}

/** Longest reach-back window: 30 days. */
export const MAX_REACH_BACK_MS = 30 * 24 * 3600_000;

/** Most standby providers one lease may name. */
export const MAX_STANDBYS = 8;

export const DEFAULT_VALIDATOR_CONFIG: ValidatorConfig = {
  sliceBytes: 256 * 1024,
  checkFraction: 0.1,
  verifyMode: 'reexecute',
  jobDeadlineMs: 120_000,
  heartbeatMs: 5000,
  quorum: DEFAULT_QUORUM_CONFIG,
  restartPolicy: { policy: 'on-failure', maxAttempts: 5 },
  standbys: 0,
  sweepMs: 1000,
  settleWindowMs: 5,
  batchMs: 10_000,
  receiptDeliveryMs: 1000,
  bondTarget: 10_000_000n,
  bondShare: 0.5,
  probationJobs: 10,
  initialReputation: 100,
  reputationDrop: 25,
  refuseAfter: 3,
  reachBackMs: 24 * 3600_000,
  reachBackMax: 1000,
  authTimeoutMs: 10_000,
  socketPingMs: 15_000,
  socketDeadMs: 45_000,
  practice: false,
  // Two of the largest job frames fit under the soft limit; four under the hard one.
  sendBufferSoftBytes: 2 * MAX_MARKET_FRAME_BYTES,
  sendBufferHardBytes: 4 * MAX_MARKET_FRAME_BYTES,
  slowConsumerMs: 30_000,
  comfortGuard: { feeThreshold: U64_MAX, ageLimitMs: 30_000, recoveryPercent: 90, recoveryMs: 60_000 },
  industrialDeferMaxMs: DEFAULT_DEFER_MAX_SECS * 1000,
  presenceMs: 3000,
  instanceTimeoutMs: 10_000,
};

/** Fills defaults and checks ranges; throws a RangeError naming the setting. */
export function resolveValidatorConfig(partial: Partial<ValidatorConfig> = {}): ValidatorConfig {
  const c = {
    ...DEFAULT_VALIDATOR_CONFIG,
    ...partial,
    comfortGuard: { ...DEFAULT_VALIDATOR_CONFIG.comfortGuard, ...partial.comfortGuard },
  };
  if (!Number.isInteger(c.sliceBytes) || c.sliceBytes < 1 || c.sliceBytes > MAX_INLINE_SLICE_BYTES)
    throw new RangeError(`sliceBytes must be from 1 to ${MAX_INLINE_SLICE_BYTES}`);
  if (!(c.checkFraction >= 0 && c.checkFraction <= 1)) throw new RangeError('checkFraction must be from 0 to 1');
  if (typeof c.bondTarget !== 'bigint' || c.bondTarget < 0n)
    throw new RangeError('bondTarget must be a whole number of micro-CPC ≥ 0 (0: no bond)');
  if (!(c.bondShare > 0 && c.bondShare <= 1)) throw new RangeError('bondShare must be above 0 and at most 1');
  if (!Number.isSafeInteger(c.probationJobs) || c.probationJobs < 0)
    throw new RangeError('probationJobs must be a whole number ≥ 0');
  if (!(VERIFY_MODES as readonly string[]).includes(c.verifyMode))
    throw new RangeError(`verifyMode must be one of ${VERIFY_MODES.join(', ')}`);
  if (!Number.isInteger(c.standbys) || c.standbys < 0 || c.standbys > MAX_STANDBYS)
    throw new RangeError(`standbys must be a whole number from 0 to ${MAX_STANDBYS}`);
  if (!Number.isInteger(c.refuseAfter) || c.refuseAfter < 1)
    throw new RangeError('refuseAfter must be a whole number ≥ 1');
  if (!Number.isSafeInteger(c.reachBackMs) || c.reachBackMs < 60_000 || c.reachBackMs > MAX_REACH_BACK_MS)
    throw new RangeError(
      `reachBackMs must be a whole number of ms from 60000 (1 minute) to ${MAX_REACH_BACK_MS} (30 days)`,
    );
  if (!Number.isSafeInteger(c.reachBackMax) || c.reachBackMax < 1 || c.reachBackMax > 100_000)
    throw new RangeError('reachBackMax must be a whole number from 1 to 100000');
  if (!Number.isSafeInteger(c.sendBufferSoftBytes) || c.sendBufferSoftBytes < 1)
    throw new RangeError('sendBufferSoftBytes must be a whole number of bytes ≥ 1');
  if (!Number.isSafeInteger(c.sendBufferHardBytes) || c.sendBufferHardBytes < c.sendBufferSoftBytes)
    throw new RangeError('sendBufferHardBytes must be a whole number of bytes ≥ sendBufferSoftBytes');
  if (!Number.isSafeInteger(c.slowConsumerMs) || c.slowConsumerMs < 1)
    throw new RangeError('slowConsumerMs must be a whole number of ms ≥ 1');
  checkLivenessTimings(
    { pingMs: c.socketPingMs, deadMs: c.socketDeadMs },
    { pingMs: 'socketPingMs', deadMs: 'socketDeadMs' },
  );
  if (!Number.isSafeInteger(c.receiptDeliveryMs) || c.receiptDeliveryMs < 0)
    throw new RangeError('receiptDeliveryMs must be a whole number of ms ≥ 0 (0: off)');
  if (!Number.isSafeInteger(c.industrialDeferMaxMs) || c.industrialDeferMaxMs < 1)
    throw new RangeError('industrialDeferMaxMs must be a whole number of ms ≥ 1');
  if (!Number.isSafeInteger(c.presenceMs) || c.presenceMs < 0 || c.presenceMs > 60_000)
    throw new RangeError('presenceMs must be a whole number of ms from 0 to 60000 (0: only when asked)');
  if (!Number.isSafeInteger(c.instanceTimeoutMs) || c.instanceTimeoutMs < Math.max(1, 2 * c.presenceMs))
    throw new RangeError(
      `instanceTimeoutMs must be a whole number of ms ≥ 2 × presenceMs (${Math.max(1, 2 * c.presenceMs)}), so one late heartbeat does not make an instance dead`,
    );
  return c;
}

/** The probation and bond rules of a validator config (src/core/market/probation.ts). */
export function probationPolicy(c: ValidatorConfig): ProbationPolicy {
  return {
    floor: c.checkFraction,
    probationJobs: c.probationJobs,
    bondTarget: c.bondTarget,
    bondShareBps: BigInt(Math.round(c.bondShare * 10_000)),
  };
}
