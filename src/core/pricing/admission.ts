import { CapacityEstimator } from './capacity-estimator.js';
import type { Clock } from '../clock.js';
import { ComfortGuard, type AdmissionMode, type ComfortGuardConfig, type GuardReading } from './comfort-guard.js';
import { LANES, isU64, type Lane } from './lanes.js';
import { LaneQueue, type QueuedJob } from './lane-queue.js';
import type { PriceBoard } from './price-board.js';
import { SlaMonitor, type BondLedger, type SlaCommitment, type SlaDeadlineStore, type SlaPenalty } from './sla.js';
import { errorMessage } from '../errors.js';

/**
 * Stable, user-facing codes for jobs that are not admitted (and for SLA penalties). They are
 * part of the market protocol: never rename one; add new ones instead.
 */
export const ADMISSION_CODES = {
  INDUSTRIAL_TIGHT: {
    retryable: true,
    summary: 'industrial admission is paused while consumer traffic is under pressure; retry later',
  },
  NO_CAPACITY: { retryable: true, summary: 'not enough provider shards are free for this job' },
  QUEUE_FULL: { retryable: true, summary: "the lane's queue is full; retry later" },
  DUPLICATE_JOB: { retryable: false, summary: 'a job with this id is already queued or running' },
  INVALID_JOB: { retryable: false, summary: 'the job request is malformed' },
  SLA: { retryable: false, summary: "the provider missed the job's declared deadline and its bond was slashed" },
  DEFER_EXPIRED: {
    retryable: true,
    summary: 'the job stayed deferred longer than the node holds deferred jobs and was dropped; resubmit it later',
  },
} as const;
export type AdmissionCode = keyof typeof ADMISSION_CODES;

/** A job asking to enter a lane. */
export interface JobRequest {
  id: string;
  lane: Lane;
  /** Offered fee (u64, credits in integer minor units). */
  fee: bigint;
  /** Shards of provider capacity the job needs (industrial; consumer jobs pass 1). */
  shards: number;
}

interface DecisionBase {
  jobId: string;
  lane: Lane;
  shards: number;
  /** The guard's mode when the decision was taken. */
  mode: AdmissionMode;
}

/**
 * The outcome of a submission: admitted (queued for dispatch, shards reserved), deferred
 * (held and retried by `retryDeferred`, not backlog), or rejected with a stable code.
 * `retryDeferred` also reports deferred jobs it drops as rejected `DEFER_EXPIRED`.
 */
export type AdmissionDecision =
  | (DecisionBase & { outcome: 'admitted' })
  | (DecisionBase & { outcome: 'deferred'; code: 'NO_CAPACITY'; retryable: true; message: string })
  | (DecisionBase & { outcome: 'rejected'; code: Exclude<AdmissionCode, 'SLA'>; retryable: boolean; message: string });

export interface AdmissionConfig {
  guard: ComfortGuardConfig;
  /** Window of the capacity estimator, ms. */
  capacityWindowMs: number;
  /** Queued (not deferred) jobs a lane holds at most. */
  maxQueuedPerLane: number;
  /** Deferred industrial jobs held at most. */
  maxDeferred: number;
  /**
   * How long a deferred industrial job is held, ms, before `retryDeferred` drops it as
   * `DEFER_EXPIRED` (default `DEFAULT_DEFER_MAX_SECS` seconds).
   */
  maxDeferMs?: number;
}

/** Default of `industrial_defer_max_secs`: deferred industrial jobs are held at most this long. */
export const DEFAULT_DEFER_MAX_SECS = 300;

export interface AdmissionDeps {
  clock: Clock;
  /** Admitted jobs' fees are recorded here, in their lane. */
  board: PriceBoard;
  ledger: BondLedger;
  /** Keeps declared SLA deadlines across restarts; without it they live in memory only. */
  deadlines?: SlaDeadlineStore;
}

/** What finishing a job did. */
export interface FinishResult {
  /** Shards given back to the pool (industrial jobs). */
  releasedShards: number;
  /** Set when the job finished after its declared deadline and the bond was slashed. */
  penalty?: SlaPenalty;
  /** Set when the job was late but the ledger refused the slash; the deadline stays watched and `sweepDeadlines` retries. */
  slashError?: string;
}

const MAX_JOB_ID = 256;

/**
 * Fee lanes and industrial admission. Each lane has its own queue. Consumer jobs are queued
 * unless invalid or the queue is full. An industrial job is admitted only while the comfort
 * guard is loose, the capacity estimate leaves enough free shards, and no older industrial
 * job is deferred:
 *
 * | check (in order)                          | outcome                              |
 * | ----------------------------------------- | ------------------------------------ |
 * | malformed request                         | rejected INVALID_JOB                 |
 * | id already queued, deferred or running    | rejected DUPLICATE_JOB               |
 * | guard tight                               | rejected INDUSTRIAL_TIGHT (retryable) |
 * | needs more shards than all capacity seen  | rejected NO_CAPACITY (retryable)     |
 * | needs more shards than are free           | deferred NO_CAPACITY, or rejected QUEUE_FULL when the deferred queue is full |
 * | industrial queue full                     | rejected QUEUE_FULL (retryable)      |
 * | older jobs are deferred                   | deferred NO_CAPACITY behind them, or rejected QUEUE_FULL when the deferred queue is full |
 * | otherwise                                 | admitted: shards reserved until `finish` |
 *
 * Deferred jobs are served strictly in the order they were deferred (see `retryDeferred`):
 * the oldest one holds the line, so shards freed by finishing jobs accumulate for it instead
 * of going to newer, smaller jobs. A deferred job not admitted within `maxDeferMs` is dropped
 * as `DEFER_EXPIRED`, so a job that cannot fit does not hold the line for ever.
 */
export class AdmissionController {
  readonly guard: ComfortGuard;
  readonly capacity: CapacityEstimator;
  readonly sla: SlaMonitor;
  private readonly queues: Record<Lane, LaneQueue> = {
    consumer: new LaneQueue('consumer'),
    industrial: new LaneQueue('industrial'),
  };
  /** Industrial jobs holding shards, from admission until `finish`. */
  private readonly running = new Map<string, number>();
  private reserved = 0;
  /** How long a deferred job is held, ms. */
  private readonly maxDeferMs: number;
  /** Latest deferral time handed out; deferral times never decrease, so deferred order is time order. */
  private lastDeferredAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly config: AdmissionConfig,
    private readonly deps: AdmissionDeps,
  ) {
    for (const [name, v] of [
      ['maxQueuedPerLane', config.maxQueuedPerLane],
      ['maxDeferred', config.maxDeferred],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
    }
    this.maxDeferMs = config.maxDeferMs ?? DEFAULT_DEFER_MAX_SECS * 1000;
    if (!Number.isSafeInteger(this.maxDeferMs) || this.maxDeferMs < 1)
      throw new RangeError(`maxDeferMs must be a positive integer, got ${this.maxDeferMs}`);
    this.guard = new ComfortGuard(config.guard, deps.clock);
    this.capacity = new CapacityEstimator(config.capacityWindowMs, deps.clock);
    this.sla = new SlaMonitor(deps.ledger, deps.clock, deps.deadlines);
  }

  /** The guard's current mode (as of the last evaluation). */
  get mode(): AdmissionMode {
    return this.guard.mode;
  }

  /** Re-evaluates the comfort guard against the consumer queue now. */
  refresh(): GuardReading {
    const consumer = this.queues.consumer;
    return this.guard.evaluate({
      // p90, as the setting's name says (`comfort_threshold_p90`): a tail of high-fee consumer
      // jobs turns the guard tight even while the median is still low.
      consumerFeeP90: consumer.feePercentile(90),
      consumerAgeP95Ms: consumer.agePercentile(95, this.deps.clock.now()),
    });
  }

  /** Decides on a job and, when admitted, queues it and records its fee on the price board. */
  submit(req: JobRequest): AdmissionDecision {
    const mode = this.refresh().mode;
    const base: DecisionBase = { jobId: String(req.id), lane: req.lane, shards: req.shards, mode };
    const invalid = describeInvalid(req);
    if (invalid) return reject(base, 'INVALID_JOB', invalid);
    if (this.queues.consumer.has(req.id) || this.queues.industrial.has(req.id) || this.running.has(req.id)) {
      return reject(base, 'DUPLICATE_JOB', `job ${req.id} is already queued or running`);
    }
    const queue = this.queues[req.lane];
    if (req.lane === 'consumer') {
      if (queue.backlog >= this.config.maxQueuedPerLane)
        return reject(
          base,
          'QUEUE_FULL',
          `the consumer queue holds its maximum of ${this.config.maxQueuedPerLane} jobs`,
        );
      this.admit(req);
      return { ...base, outcome: 'admitted' };
    }
    if (mode === 'tight') return reject(base, 'INDUSTRIAL_TIGHT', ADMISSION_CODES.INDUSTRIAL_TIGHT.summary);
    const capacity = this.capacity.capacity();
    if (req.shards > capacity) {
      return reject(
        base,
        'NO_CAPACITY',
        `job needs ${req.shards} shards; providers seen recently offer ${capacity} in total`,
      );
    }
    const free = capacity - this.reserved;
    if (req.shards > free)
      return this.defer(base, req, `job needs ${req.shards} shards; ${Math.max(0, free)} are free`);
    if (queue.backlog >= this.config.maxQueuedPerLane)
      return reject(
        base,
        'QUEUE_FULL',
        `the industrial queue holds its maximum of ${this.config.maxQueuedPerLane} jobs`,
      );
    // Fairness: older deferred jobs are served first, so a new job does not take the shards
    // they are waiting for; it waits behind them.
    const waiting = queue.deferred;
    if (waiting > 0)
      return this.defer(
        base,
        req,
        `job needs ${req.shards} shards and ${free} are free, but ${waiting} older deferred job${waiting === 1 ? ' is' : 's are'} served first`,
      );
    this.admit(req);
    return { ...base, outcome: 'admitted' };
  }

  /**
   * Upkeep of the deferred industrial jobs, oldest first:
   *
   * 1. drops every job deferred `maxDeferMs` or longer ago, reported as rejected
   *    `DEFER_EXPIRED` (also while the guard is tight);
   * 2. while the guard is loose, admits the remaining jobs in the order they were deferred,
   *    stopping at the first one that does not fit the free shards (or when the industrial
   *    queue is full). That job keeps its place at the head of the line: jobs behind it are
   *    not admitted past it, so freed shards accumulate until it fits or expires.
   *
   * Returns the expiries, then the admissions; jobs that are neither stay deferred.
   */
  retryDeferred(): AdmissionDecision[] {
    const queue = this.queues.industrial;
    if (queue.deferred === 0) return [];
    const mode = this.refresh().mode;
    const now = this.deps.clock.now();
    const out: AdmissionDecision[] = [];
    let free = this.capacity.capacity() - this.reserved;
    // Deferral times never decrease along the queue, so expired jobs are all at its front.
    for (const job of queue.deferredJobsInOrder()) {
      const base: DecisionBase = { jobId: job.id, lane: job.lane, shards: job.shards, mode };
      const waited = now - job.enqueuedAt;
      if (waited >= this.maxDeferMs) {
        queue.remove(job.id);
        out.push(
          reject(
            base,
            'DEFER_EXPIRED',
            `job stayed deferred for ${formatSecs(waited)} s; deferred jobs are held at most ${formatSecs(this.maxDeferMs)} s`,
          ),
        );
        continue;
      }
      if (mode === 'tight' || queue.backlog >= this.config.maxQueuedPerLane || job.shards > free) break;
      queue.remove(job.id);
      this.admit(job);
      free -= job.shards;
      out.push({ ...base, outcome: 'admitted' });
    }
    return out;
  }

  /** Takes the oldest queued job of a lane for dispatch. Industrial shards stay reserved until `finish`. */
  take(lane: Lane): QueuedJob | undefined {
    return this.queues[lane].shift();
  }

  /** A job is done (or abandoned): releases its shards and settles its declared deadline. */
  finish(jobId: string): FinishResult {
    for (const lane of LANES) this.queues[lane].remove(jobId);
    const shards = this.running.get(jobId) ?? 0;
    if (this.running.delete(jobId)) this.reserved -= shards;
    try {
      const verdict = this.sla.complete(jobId);
      return verdict && !verdict.onTime
        ? { releasedShards: shards, penalty: verdict.penalty }
        : { releasedShards: shards };
    } catch (err) {
      return { releasedShards: shards, slashError: errorMessage(err) };
    }
  }

  /** Withdraws a queued or deferred job before it runs; false when unknown or already running. */
  cancel(jobId: string): boolean {
    for (const lane of LANES) {
      const job = this.queues[lane].remove(jobId);
      if (!job) continue;
      if (this.running.delete(jobId)) this.reserved -= job.shards;
      this.sla.forget(jobId);
      return true;
    }
    return false;
  }

  /** Records a provider's deadline and bond for a job (see SlaMonitor). */
  declareDeadline(commitment: SlaCommitment): void {
    this.sla.declare(commitment);
  }

  /**
   * `penalize_sla`: a provider missed a job's declared deadline; slashes exactly `bond` from
   * its bond through the ledger port, once per job (undefined when already penalized).
   */
  penalizeSla(commitment: { jobId: string; provider: string; bond: bigint }): SlaPenalty | undefined {
    return this.sla.penalize(commitment);
  }

  /** Penalizes every declared deadline that has passed (see SlaMonitor.sweep). */
  sweepDeadlines(): ReturnType<SlaMonitor['sweep']> {
    return this.sla.sweep();
  }

  /** Queued jobs of a lane, excluding deferred industrial jobs. */
  backlog(lane: Lane): number {
    return this.queues[lane].backlog;
  }

  /** Deferred industrial jobs. */
  deferred(): number {
    return this.queues.industrial.deferred;
  }

  /** Every job held in a lane's queue (queued and deferred): the mempool size. */
  queueSize(lane: Lane): number {
    return this.queues[lane].size;
  }

  /** Shards reserved by admitted industrial jobs. */
  reservedShards(): number {
    return this.reserved;
  }

  /** Free shards: capacity seen recently minus reserved (never negative). */
  headroom(): number {
    return Math.max(0, this.capacity.capacity() - this.reserved);
  }

  /** Nearest-rank percentile of queued consumer fees (undefined when the queue is empty). */
  consumerFee(percent: number): bigint | undefined {
    return this.queues.consumer.feePercentile(percent);
  }

  /** Nearest-rank percentile of consumer queue age in ms (undefined when the queue is empty). */
  consumerAge(percent: number): number | undefined {
    return this.queues.consumer.agePercentile(percent, this.deps.clock.now());
  }

  /** Suggested bid for a lane: board median × (1 + backlog / window), backlog without deferred jobs. */
  suggestedBid(lane: Lane): bigint | undefined {
    return this.deps.board.suggestedBid(lane, this.backlog(lane));
  }

  /** Parks an industrial job as deferred, or rejects it when the deferred queue is full. */
  private defer(base: DecisionBase, req: JobRequest, message: string): AdmissionDecision {
    const queue = this.queues.industrial;
    if (queue.deferred >= this.config.maxDeferred)
      return reject(
        base,
        'QUEUE_FULL',
        `the deferred industrial queue holds its maximum of ${this.config.maxDeferred} jobs`,
      );
    // Never earlier than the previous deferral, even if the clock steps backwards.
    this.lastDeferredAt = Math.max(this.deps.clock.now(), this.lastDeferredAt);
    queue.defer({ ...this.toQueued(req), enqueuedAt: this.lastDeferredAt });
    return { ...base, outcome: 'deferred', code: 'NO_CAPACITY', retryable: true, message };
  }

  private toQueued(req: JobRequest): QueuedJob {
    return { id: req.id, lane: req.lane, fee: req.fee, shards: req.shards, enqueuedAt: this.deps.clock.now() };
  }

  private admit(req: JobRequest): void {
    this.queues[req.lane].enqueue(this.toQueued(req));
    if (req.lane === 'industrial') {
      this.running.set(req.id, req.shards);
      this.reserved += req.shards;
    }
    this.deps.board.record(req.lane, req.fee);
  }
}

function reject(base: DecisionBase, code: Exclude<AdmissionCode, 'SLA'>, message: string): AdmissionDecision {
  return { ...base, outcome: 'rejected', code, retryable: ADMISSION_CODES[code].retryable, message };
}

function formatSecs(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function describeInvalid(req: JobRequest): string | undefined {
  if (typeof req.id !== 'string' || req.id.length === 0 || req.id.length > MAX_JOB_ID)
    return `job id must be a string of 1 to ${MAX_JOB_ID} characters`;
  if (!(LANES as readonly string[]).includes(req.lane)) return `lane must be one of ${LANES.join(', ')}`;
  if (typeof req.fee !== 'bigint' || !isU64(req.fee)) return 'fee must be an unsigned 64-bit integer';
  if (!Number.isSafeInteger(req.shards) || req.shards < 1) return 'shards must be a positive integer';
  return undefined;
}
