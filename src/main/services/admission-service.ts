import type { Registry } from 'prom-client';
import {
  AdmissionController,
  type AdmissionConfig,
  type AdmissionDecision,
  type FinishResult,
  type JobRequest,
} from '../../core/pricing/admission.js';
import type { Clock } from '../../core/clock.js';
import { ADMISSION_MODES, type AdmissionMode } from '../../core/pricing/comfort-guard.js';
import { LANES, type Lane } from '../../core/pricing/lanes.js';
import type { QueuedJob } from '../../core/pricing/lane-queue.js';
import type { PriceBoard } from '../../core/pricing/price-board.js';
import type { BondLedger, SlaCommitment, SlaDeadlineStore, SlaPenalty } from '../../core/pricing/sla.js';
import type { NodeConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { counter, gauge } from '../metrics.js';
import { systemClock } from '../../node/clock.js';

/** The system clock. */

export type AdmissionSettings = Pick<
  NodeConfig,
  | 'comfort_threshold_p90'
  | 'consumer_age_p95_limit_secs'
  | 'comfort_recovery_percent'
  | 'comfort_recovery_secs'
  | 'capacity_window_secs'
  | 'mempool_max_jobs'
  | 'industrial_max_deferred'
  | 'industrial_defer_max_secs'
>;

/** Maps `config.toml` settings to the admission rules' configuration. */
export function admissionConfig(config: AdmissionSettings): AdmissionConfig {
  return {
    guard: {
      feeThreshold: config.comfort_threshold_p90,
      ageLimitMs: config.consumer_age_p95_limit_secs * 1000,
      recoveryPercent: config.comfort_recovery_percent,
      recoveryMs: config.comfort_recovery_secs * 1000,
    },
    capacityWindowMs: config.capacity_window_secs * 1000,
    maxQueuedPerLane: config.mempool_max_jobs,
    maxDeferred: config.industrial_max_deferred,
    maxDeferMs: config.industrial_defer_max_secs * 1000,
  };
}

export interface AdmissionServiceDeps {
  config: AdmissionSettings;
  /** The price board admitted fees are recorded on (PriceBoardService.board). */
  board: PriceBoard;
  /** Where SLA penalties slash provider bonds. */
  ledger: BondLedger;
  /**
   * Where declared SLA deadlines are kept (SlaRepo on the ledger database), so a restart
   * resumes them; without it they are lost when the node stops.
   */
  deadlines?: SlaDeadlineStore;
  registry: Registry;
  logger?: Logger;
  clock?: Clock;
}

/**
 * Fee lanes and industrial admission for the node: the core AdmissionController plus
 * structured logs of every decision and the admission metrics. Open SLA deadlines stored by a
 * previous run are resumed at construction; one that passed while the node was down is
 * slashed (once, through the ledger) at the first `tick`.
 */
export class AdmissionService {
  readonly controller: AdmissionController;
  private readonly logger: Logger;
  private readonly admitted;
  private readonly deferredTotal;
  private readonly rejected;

  constructor(opts: AdmissionServiceDeps) {
    this.logger = opts.logger ?? silentLogger;
    const controller = new AdmissionController(admissionConfig(opts.config), {
      clock: opts.clock ?? systemClock,
      board: opts.board,
      ledger: opts.ledger,
      deadlines: opts.deadlines,
    });
    this.controller = controller;
    if (controller.sla.watching > 0)
      this.logger.info('resumed open SLA deadlines', { deadlines: controller.sla.watching });
    const { registry } = opts;
    this.admitted = counter(registry, { name: 'industrial_admitted_total', help: 'Industrial jobs admitted' });
    this.deferredTotal = counter(registry, {
      name: 'industrial_deferred_total',
      help: 'Industrial jobs deferred for lack of free shards',
    });
    this.rejected = counter<'reason'>(registry, {
      name: 'industrial_rejected_total',
      help: 'Industrial jobs rejected, by code; reason="SLA" counts bonds slashed for missed deadlines',
      labelNames: ['reason'],
    });
    gauge<'lane'>(registry, {
      name: 'mempool_size',
      help: 'Jobs held in each lane queue (queued and deferred)',
      labelNames: ['lane'],
      collect() {
        for (const lane of LANES) this.set({ lane }, controller.queueSize(lane));
      },
    });
    const fee = (name: string, percent: number) =>
      gauge(registry, {
        name,
        help: `p${percent} of fees offered by queued consumer jobs (0 when the queue is empty)`,
        collect() {
          this.set(Number(controller.consumerFee(percent) ?? 0n));
        },
      });
    fee('consumer_fee_p50', 50);
    fee('consumer_fee_p90', 90);
    gauge<'mode'>(registry, {
      name: 'admission_mode',
      help: 'Comfort guard mode: 1 for the current mode, 0 for the other',
      labelNames: ['mode'],
      collect() {
        for (const mode of ADMISSION_MODES) this.set({ mode }, controller.mode === mode ? 1 : 0);
      },
    });
  }

  get mode(): AdmissionMode {
    return this.controller.mode;
  }

  /** Decides on a job; logs the decision and counts industrial outcomes. */
  submit(req: JobRequest): AdmissionDecision {
    const decision = this.watchMode(() => this.controller.submit(req));
    this.record(decision);
    return decision;
  }

  /**
   * Drops deferred industrial jobs held too long (rejected `DEFER_EXPIRED`) and admits, oldest
   * first, the deferred jobs that fit now; logs and counts each of these decisions.
   */
  retryDeferred(): AdmissionDecision[] {
    const decisions = this.watchMode(() => this.controller.retryDeferred());
    for (const d of decisions) this.record(d, d.outcome === 'admitted');
    return decisions;
  }

  /** Re-evaluates the comfort guard (call periodically so the mode follows the consumer queue). */
  refresh(): AdmissionMode {
    return this.watchMode(() => this.controller.refresh()).mode;
  }

  /**
   * Periodic upkeep (call it every second or so): re-evaluates the comfort guard, drops
   * deferred jobs held longer than `industrial_defer_max_secs` (`expired`, rejected
   * `DEFER_EXPIRED`), admits deferred jobs that now fit, oldest first, and slashes bonds for
   * deadlines that have passed.
   */
  tick(): {
    mode: AdmissionMode;
    admitted: AdmissionDecision[];
    expired: AdmissionDecision[];
    penalties: SlaPenalty[];
  } {
    const mode = this.refresh();
    const decisions = this.retryDeferred();
    const admitted = decisions.filter((d) => d.outcome === 'admitted');
    const expired = decisions.filter((d) => d.outcome === 'rejected');
    const penalties = this.sweepDeadlines();
    return { mode, admitted, expired, penalties };
  }

  /** A provider reports the shards it offers now. */
  reportCapacity(provider: string, shards: number): void {
    this.controller.capacity.report(provider, shards);
  }

  /** Next queued job of a lane, for dispatch. */
  take(lane: Lane): QueuedJob | undefined {
    return this.controller.take(lane);
  }

  /** A job finished: frees its shards; a declared deadline that was missed slashes the bond. */
  finish(jobId: string): FinishResult {
    const result = this.controller.finish(jobId);
    if (result.penalty) this.recordPenalty(result.penalty, 'completed late');
    if (result.slashError !== undefined)
      this.logger.error('SLA slash failed, will retry', { job_id: jobId, error: result.slashError });
    return result;
  }

  /** Withdraws a queued or deferred job. */
  cancel(jobId: string): boolean {
    return this.controller.cancel(jobId);
  }

  /** A provider declares a deadline (backed by a bond) for a job. */
  declareDeadline(commitment: SlaCommitment): void {
    this.controller.declareDeadline(commitment);
  }

  /** Slashes bonds for every declared deadline that has passed; failures are logged and retried next time. */
  sweepDeadlines(): SlaPenalty[] {
    const { penalties, failures } = this.controller.sweepDeadlines();
    for (const p of penalties) this.recordPenalty(p, 'deadline passed');
    for (const f of failures)
      this.logger.error('SLA slash failed, will retry', { job_id: f.jobId, provider: f.provider, error: f.error });
    return penalties;
  }

  /** `penalize_sla`: slashes exactly `bond` from the provider's bond, once per job. */
  penalizeSla(provider: string, jobId: string, bond: bigint): SlaPenalty | undefined {
    const penalty = this.controller.penalizeSla({ jobId, provider, bond });
    if (penalty) this.recordPenalty(penalty, 'reported');
    return penalty;
  }

  /** Suggested bid for a lane (undefined while the lane has no prices). */
  suggestedBid(lane: Lane): bigint | undefined {
    return this.controller.suggestedBid(lane);
  }

  private watchMode<T>(fn: () => T): T {
    const before = this.controller.mode;
    const out = fn();
    const after = this.controller.mode;
    if (after !== before) {
      const fields = {
        from: before,
        to: after,
        consumer_fee_p90: this.controller.consumerFee(90),
        consumer_age_p95_ms: this.controller.consumerAge(95),
      };
      if (after === 'tight') this.logger.warn('admission mode changed', fields);
      else this.logger.info('admission mode changed', fields);
    }
    return out;
  }

  private record(d: AdmissionDecision, retried = false): void {
    const fields: Record<string, unknown> = {
      job_id: d.jobId,
      lane: d.lane,
      requested_shards: d.shards,
      mode: d.mode,
      outcome: d.outcome,
    };
    if (d.outcome !== 'admitted') {
      fields.code = d.code;
      fields.retryable = d.retryable;
      fields.detail = d.message;
    }
    if (retried) fields.retried = true;
    this.logger.info('admission decision', fields);
    if (d.lane !== 'industrial') return;
    if (d.outcome === 'admitted') this.admitted.inc();
    else if (d.outcome === 'deferred') this.deferredTotal.inc();
    else this.rejected.inc({ reason: d.code });
  }

  private recordPenalty(p: SlaPenalty, why: string): void {
    this.rejected.inc({ reason: 'SLA' });
    this.logger.warn('provider bond slashed for a missed deadline', {
      job_id: p.jobId,
      provider: p.provider,
      amount: p.amount,
      code: p.code,
      why,
    });
  }
}
