import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';

/** Why a bond is slashed. */
export type SlashReason = 'SLA';

/**
 * The ledger port for provider bonds. The host's ledger implements it; `slash` moves exactly
 * `amount` out of the provider's bond in one transaction tagged with `reason` and `ref` (the
 * job id), and throws if it cannot (the caller then records nothing).
 */
export interface BondLedger {
  /** Returns true when credits moved, false when this (reason, ref, provider) was already slashed. */
  slash(provider: string, amount: bigint, reason: SlashReason, ref: string): boolean;
}

/** A deadline a provider declared for an industrial job, and the bond that backs it. */
export interface SlaCommitment {
  jobId: string;
  provider: string;
  /** Bond slashed if the deadline is missed (credits, integer minor units). */
  bond: bigint;
  /** Clock ms by which the job must be finished. */
  deadline: number;
}

/** One applied SLA penalty. */
export interface SlaPenalty {
  jobId: string;
  provider: string;
  amount: bigint;
  code: 'SLA';
}

/**
 * Slashes a provider's bond for a missed job deadline: exactly `bond` moves through the
 * ledger with reason `SLA` and the job id as reference.
 */
export function penalizeSla(
  ledger: BondLedger,
  commitment: Pick<SlaCommitment, 'jobId' | 'provider' | 'bond'>,
): SlaPenalty | undefined {
  const { jobId, provider, bond } = commitment;
  if (bond < 0n) throw new RangeError(`bond must be non-negative, got ${bond}`);
  // The ledger remembers slashes across restarts: one already applied moves nothing and is not reported again.
  if (!ledger.slash(provider, bond, 'SLA', jobId)) return undefined;
  return { jobId, provider, amount: bond, code: 'SLA' };
}

/**
 * Where open deadlines are kept so a restart resumes them (the host's database). Every call is
 * one durable write; a deadline is removed only after its outcome (met, slashed, cancelled) is
 * settled, so a crash in between leaves it open and the resumed monitor settles it again —
 * harmless, because the ledger applies a slash once per job.
 */
export interface SlaDeadlineStore {
  /** Every open deadline, in the order they were declared. */
  list(): SlaCommitment[];
  /** Stores a newly declared deadline; throws when it cannot (nothing is declared then). */
  add(commitment: SlaCommitment): void;
  /** Forgets a settled deadline (no-op when unknown). */
  remove(jobId: string): void;
}

/** How many penalized job ids are remembered to refuse a second slash for the same job. */
const REMEMBERED_PENALTIES = 100_000;

/**
 * Tracks declared deadlines and penalizes each missed one exactly once: at the first
 * `sweep` after the deadline, when the job completes late, or through `penalize`. With a
 * store, open deadlines survive a restart: the monitor starts with the stored ones, and a
 * deadline that passed while the node was down is slashed at the first sweep.
 */
export class SlaMonitor {
  private readonly open = new Map<string, SlaCommitment>();
  private readonly penalized = new Set<string>();
  /** Jobs whose slash the ledger refused: when to try again (doubling from 1 s up to 10 min). */
  private readonly retry = new Map<string, { failures: number; at: number }>();

  constructor(
    private readonly ledger: BondLedger,
    private readonly clock: Clock,
    private readonly store?: SlaDeadlineStore,
  ) {
    for (const c of store?.list() ?? []) this.open.set(c.jobId, { ...c });
  }

  /** Jobs with a deadline still being watched. */
  get watching(): number {
    return this.open.size;
  }

  /** Starts watching a job's deadline; a job may be declared once. */
  declare(commitment: SlaCommitment): void {
    if (this.open.has(commitment.jobId)) throw new Error(`job ${commitment.jobId} already has a declared deadline`);
    if (commitment.bond < 0n) throw new RangeError(`bond must be non-negative, got ${commitment.bond}`);
    if (!Number.isSafeInteger(commitment.deadline))
      throw new RangeError(`deadline must be whole clock milliseconds, got ${commitment.deadline}`);
    this.store?.add({ ...commitment });
    this.open.set(commitment.jobId, { ...commitment });
  }

  /** The job finished: on time clears it; late slashes the bond. Unknown jobs give undefined. */
  complete(jobId: string): { onTime: true } | { onTime: false; penalty: SlaPenalty } | undefined {
    const c = this.open.get(jobId);
    if (!c) return undefined;
    if (this.clock.now() <= c.deadline) {
      this.drop(jobId);
      return { onTime: true };
    }
    const penalty = this.apply(c);
    this.drop(jobId);
    return penalty ? { onTime: false, penalty } : undefined;
  }

  /**
   * Penalizes a missed deadline reported directly (`penalize_sla`): slashes `bond` once per
   * job; a second call for the same job slashes nothing and returns undefined. When the job's
   * deadline was declared here, the declared provider and bond are binding: a report naming
   * another provider or amount is refused rather than slashing what the caller says.
   */
  penalize(commitment: Pick<SlaCommitment, 'jobId' | 'provider' | 'bond'>): SlaPenalty | undefined {
    const declared = this.open.get(commitment.jobId);
    if (declared && (declared.provider !== commitment.provider || declared.bond !== commitment.bond)) {
      throw new RangeError(
        `job ${commitment.jobId} was declared with provider ${declared.provider} and bond ${declared.bond}; refusing to slash ${commitment.bond} from ${commitment.provider}`,
      );
    }
    const penalty = this.apply(commitment);
    if (declared) this.drop(commitment.jobId);
    return penalty;
  }

  /** Stops watching a job without a verdict (cancelled before it ran). */
  forget(jobId: string): boolean {
    this.retry.delete(jobId);
    if (!this.open.has(jobId)) return false;
    this.drop(jobId);
    return true;
  }

  /**
   * Penalizes every job whose deadline has passed. A slash the ledger refuses is reported in
   * `failures` and the job stays watched; it is tried again after a delay that doubles from
   * 1 s up to 10 minutes, so a bond that is too small does not fail (and log) every tick.
   */
  sweep(): { penalties: SlaPenalty[]; failures: { jobId: string; provider: string; error: string }[] } {
    const now = this.clock.now();
    const penalties: SlaPenalty[] = [];
    const failures: { jobId: string; provider: string; error: string }[] = [];
    for (const c of [...this.open.values()]) {
      if (now <= c.deadline) continue;
      const backoff = this.retry.get(c.jobId);
      if (backoff && now < backoff.at) continue;
      try {
        const penalty = this.apply(c);
        if (penalty) penalties.push(penalty);
        this.drop(c.jobId);
        this.retry.delete(c.jobId);
      } catch (err) {
        const n = (backoff?.failures ?? 0) + 1;
        this.retry.set(c.jobId, { failures: n, at: now + Math.min(1000 * 2 ** (n - 1), 600_000) });
        failures.push({ jobId: c.jobId, provider: c.provider, error: errorMessage(err) });
      }
    }
    return { penalties, failures };
  }

  /** Stops watching a settled deadline: durably first, then in memory. */
  private drop(jobId: string): void {
    this.store?.remove(jobId);
    this.open.delete(jobId);
  }

  private apply(c: Pick<SlaCommitment, 'jobId' | 'provider' | 'bond'>): SlaPenalty | undefined {
    if (this.penalized.has(c.jobId)) return undefined;
    const penalty = penalizeSla(this.ledger, c);
    this.penalized.add(c.jobId);
    if (!penalty) return undefined;
    if (this.penalized.size > REMEMBERED_PENALTIES)
      this.penalized.delete(this.penalized.values().next().value as string);
    return penalty;
  }
}
