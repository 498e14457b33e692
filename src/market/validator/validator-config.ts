import { DEFAULT_QUORUM_CONFIG, type QuorumConfig, type RestartPolicy } from '../../core/market/lease-state.js';
import { MAX_INLINE_SLICE_BYTES } from '../../shared/market-protocol.js';

/** The validator's knobs (docs/market-api.md, "Validator"). */
export interface ValidatorConfig {
  /** Largest job input, bytes (at most MAX_INLINE_SLICE_BYTES: a job carries its bytes inline). */
  sliceBytes: number;
  /** Fraction of assignments the validator re-executes (0…1, default 0.1). */
  checkFraction: number;
  /** A job's result is due this long after it is assigned; later the lease is revoked. */
  jobDeadlineMs: number;
  /** How often providers heartbeat (sent in the welcome). */
  heartbeatMs: number;
  /** The lease machine's timing: Suspect after t1 of silence, the lease lost after t2. */
  quorum: QuorumConfig;
  restartPolicy: RestartPolicy;
  /** How often leases are ticked and lost ones reassigned. */
  sweepMs: number;
  /** Results are settled in group commits: a commit waits at most this long to gather results. */
  settleWindowMs: number;
  /** Every this many ms the accepted results not yet batched are sealed into a batch (0: only on request). */
  batchMs: number;
  /** Bond a provider is credited on first join, micro-CPC (market-side record). */
  initialBond: bigint;
  /** Bond slashed per wrong result, micro-CPC. */
  slash: bigint;
  initialReputation: number;
  reputationDrop: number;
  /** A provider is refused after this many wrong results. */
  refuseAfter: number;
  /** How long a socket may take to answer the challenge. */
  authTimeoutMs: number;
  /** Labels the embedded practice market in every challenge. */
  practice: boolean;
}

export const DEFAULT_VALIDATOR_CONFIG: ValidatorConfig = {
  sliceBytes: 256 * 1024,
  checkFraction: 0.1,
  jobDeadlineMs: 120_000,
  heartbeatMs: 5000,
  quorum: DEFAULT_QUORUM_CONFIG,
  restartPolicy: { policy: 'on-failure', maxAttempts: 5 },
  sweepMs: 1000,
  settleWindowMs: 5,
  batchMs: 10_000,
  initialBond: 10_000_000n,
  slash: 1_000_000n,
  initialReputation: 100,
  reputationDrop: 25,
  refuseAfter: 3,
  authTimeoutMs: 10_000,
  practice: false,
};

/** Fills defaults and checks ranges; throws a RangeError naming the setting. */
export function resolveValidatorConfig(partial: Partial<ValidatorConfig> = {}): ValidatorConfig {
  const c = { ...DEFAULT_VALIDATOR_CONFIG, ...partial };
  if (!Number.isInteger(c.sliceBytes) || c.sliceBytes < 1 || c.sliceBytes > MAX_INLINE_SLICE_BYTES) throw new RangeError(`sliceBytes must be from 1 to ${MAX_INLINE_SLICE_BYTES}`);
  if (!(c.checkFraction >= 0 && c.checkFraction <= 1)) throw new RangeError('checkFraction must be from 0 to 1');
  if (!Number.isInteger(c.refuseAfter) || c.refuseAfter < 1) throw new RangeError('refuseAfter must be a whole number ≥ 1');
  return c;
}
