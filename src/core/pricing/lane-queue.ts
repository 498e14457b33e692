import type { Lane } from './lanes.js';
import { nearestRank } from './quantile.js';
import { SortedBag } from './sorted-window.js';

/** A job waiting in a lane's queue. */
export interface QueuedJob {
  id: string;
  lane: Lane;
  /** The fee the job offers (u64). */
  fee: bigint;
  /** Shards of provider capacity it needs. */
  shards: number;
  /** When it entered the queue (clock ms). */
  enqueuedAt: number;
}

/**
 * One lane's queue (mempool). Jobs wait in arrival order. Industrial jobs that could not be
 * admitted yet wait separately as deferred: they are retried, but they are not backlog and
 * do not count in the lane's fee or age percentiles.
 */
export class LaneQueue {
  private readonly queued = new Map<string, QueuedJob>();
  private readonly deferredJobs = new Map<string, QueuedJob>();
  private readonly fees = new SortedBag();
  private readonly times = new SortedBag();

  constructor(readonly lane: Lane) {}

  /** Queued jobs (the backlog): excludes deferred ones. */
  get backlog(): number {
    return this.queued.size;
  }

  /** Deferred jobs waiting for a retry. */
  get deferred(): number {
    return this.deferredJobs.size;
  }

  /** Every job in the lane, queued and deferred. */
  get size(): number {
    return this.queued.size + this.deferredJobs.size;
  }

  has(id: string): boolean {
    return this.queued.has(id) || this.deferredJobs.has(id);
  }

  get(id: string): QueuedJob | undefined {
    return this.queued.get(id) ?? this.deferredJobs.get(id);
  }

  /** Adds a job to the backlog. */
  enqueue(job: QueuedJob): void {
    this.queued.set(job.id, job);
    this.fees.add(job.fee);
    this.times.add(BigInt(Math.max(0, Math.floor(job.enqueuedAt))));
  }

  /** Parks a job as deferred. */
  defer(job: QueuedJob): void {
    this.deferredJobs.set(job.id, job);
  }

  /** Removes a job (queued or deferred) and returns it. */
  remove(id: string): QueuedJob | undefined {
    const job = this.queued.get(id);
    if (job) {
      this.queued.delete(id);
      this.fees.delete(job.fee);
      this.times.delete(BigInt(Math.max(0, Math.floor(job.enqueuedAt))));
      return job;
    }
    const parked = this.deferredJobs.get(id);
    if (parked) this.deferredJobs.delete(id);
    return parked;
  }

  /** Takes the oldest queued job off the queue (to dispatch it). */
  shift(): QueuedJob | undefined {
    const first = this.queued.keys().next();
    return first.done ? undefined : this.remove(first.value);
  }

  /** Deferred jobs in the order they were deferred. */
  deferredJobsInOrder(): QueuedJob[] {
    return [...this.deferredJobs.values()];
  }

  /** Nearest-rank percentile of queued fees; undefined when nothing is queued. */
  feePercentile(percent: number): bigint | undefined {
    return this.fees.percentile(percent);
  }

  /** Nearest-rank percentile of how long queued jobs have waited at `now`, in ms. */
  agePercentile(percent: number, now: number): number | undefined {
    const n = this.times.size;
    if (n === 0) return undefined;
    // Ages ascending are enqueue times descending: age rank k is time rank n − k + 1.
    const enqueuedAt = this.times.at(n - nearestRank(n, percent)) as bigint;
    return Math.max(0, now - Number(enqueuedAt));
  }
}
