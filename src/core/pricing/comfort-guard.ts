import type { Clock } from '../clock.js';

/** Admission modes: industrial jobs are admitted only while the guard is loose. */
export const ADMISSION_MODES = ['loose', 'tight'] as const;
export type AdmissionMode = (typeof ADMISSION_MODES)[number];

export interface ComfortGuardConfig {
  /** p90 of queued consumer fees above which the guard turns tight (`comfort_threshold_p90`). */
  feeThreshold: bigint;
  /** Consumer queue age p95, in ms, above which the guard turns tight. */
  ageLimitMs: number;
  /** Recovery band: loose again only once both signals are at or below this percent of their limits (1..100). */
  recoveryPercent: number;
  /** ...and have stayed there for this many ms without interruption. */
  recoveryMs: number;
}

/** What the guard looks at; an empty consumer queue has neither. */
export interface ComfortSignals {
  /** 90th percentile (nearest rank) of the fees of queued consumer jobs. */
  consumerFeeP90?: bigint;
  /** 95th percentile of how long queued consumer jobs have waited, in ms. */
  consumerAgeP95Ms?: number;
}

/** Which limit a reading is over. */
export type PressureReason = 'fee' | 'age';

export interface GuardReading {
  mode: AdmissionMode;
  /** True when this evaluation switched the mode. */
  changed: boolean;
  /** Limits currently exceeded (empty when none). */
  pressure: PressureReason[];
}

/**
 * The comfort guard protects consumer latency from industrial load. The rule:
 *
 * - loose → tight at once when the consumer fee p90 is above `feeThreshold` or the
 *   consumer queue age p95 is above `ageLimitMs` (strictly above);
 * - tight → loose only when both are at or below `recoveryPercent` % of their limits
 *   (the recovery band) and have stayed in that band, at every evaluation, for at least
 *   `recoveryMs`. Any evaluation outside the band restarts the wait.
 *
 * The gap between the limit and the band, plus the wait, keeps the mode from flapping
 * around a threshold. Time comes from the injected clock.
 */
export class ComfortGuard {
  private current: AdmissionMode = 'loose';
  private calmSince: number | undefined;

  constructor(
    readonly config: ComfortGuardConfig,
    private readonly clock: Clock,
  ) {
    const { recoveryPercent, ageLimitMs, recoveryMs } = config;
    if (!Number.isInteger(recoveryPercent) || recoveryPercent < 1 || recoveryPercent > 100)
      throw new RangeError(`recovery percent must be an integer from 1 to 100, got ${recoveryPercent}`);
    if (!(ageLimitMs >= 0) || !(recoveryMs >= 0))
      throw new RangeError('age limit and recovery time must be non-negative');
    if (config.feeThreshold < 0n) throw new RangeError('fee threshold must be non-negative');
  }

  get mode(): AdmissionMode {
    return this.current;
  }

  /** Feeds the current signals and returns the (possibly new) mode. */
  evaluate(signals: ComfortSignals): GuardReading {
    const now = this.clock.now();
    const { feeThreshold, ageLimitMs, recoveryPercent, recoveryMs } = this.config;
    const fee = signals.consumerFeeP90;
    const age = signals.consumerAgeP95Ms;
    const pressure: PressureReason[] = [];
    if (fee !== undefined && fee > feeThreshold) pressure.push('fee');
    if (age !== undefined && age > ageLimitMs) pressure.push('age');

    if (this.current === 'loose') {
      if (pressure.length === 0) return { mode: 'loose', changed: false, pressure };
      this.current = 'tight';
      this.calmSince = undefined;
      return { mode: 'tight', changed: true, pressure };
    }

    const feeCalm = fee === undefined || fee * 100n <= feeThreshold * BigInt(recoveryPercent);
    const ageCalm = age === undefined || age * 100 <= ageLimitMs * recoveryPercent;
    if (!feeCalm || !ageCalm) {
      this.calmSince = undefined;
      return { mode: 'tight', changed: false, pressure };
    }
    // A clock that stepped backwards restarts the wait rather than shortening it.
    if (this.calmSince === undefined || now < this.calmSince) this.calmSince = now;
    if (now - this.calmSince < recoveryMs) return { mode: 'tight', changed: false, pressure };
    this.current = 'loose';
    this.calmSince = undefined;
    return { mode: 'loose', changed: true, pressure };
  }
}
