import type { SqlConn } from './driver.js';
import { sql } from './sql.js';

export type JobStatus = 'queued' | 'leased' | 'done' | 'failed';

export interface JobRecord {
  jobId: string;
  taskId: string;
  sliceIndex: number;
  lane: 'consumer' | 'industrial';
  gpuRequired: boolean;
  /** What the job pays its provider, micro-CPC. */
  offer: bigint;
  status: JobStatus;
  leaseOwner: string | null;
  leaseUntil: number | null;
  attempts: number;
  resultHash: string | null;
  createdAt: number;
}

/** A `jobs` row as the drivers return it. */
export interface JobRow {
  job_id: string;
  task_id: string;
  slice_index: number;
  lane: 'consumer' | 'industrial';
  gpu_required: boolean;
  offer: bigint;
  status: JobStatus;
  lease_owner: string | null;
  lease_until: bigint | null;
  attempts: number;
  result_hash: string | null;
  created_at: bigint;
  [k: string]: unknown;
}

/** A `jobs` row as the store's callers see it. */
export const toJobRecord = (r: JobRow): JobRecord => ({
  jobId: r.job_id,
  taskId: r.task_id,
  sliceIndex: r.slice_index,
  lane: r.lane,
  gpuRequired: r.gpu_required,
  offer: r.offer,
  status: r.status,
  leaseOwner: r.lease_owner,
  leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
  attempts: r.attempts,
  resultHash: r.result_hash,
  createdAt: Number(r.created_at),
});

export interface LeaseRequest {
  /** Who takes the lease (a provider address or a validator instance id). */
  owner: string;
  now: number;
  leaseMs: number;
  /** Lanes the leaser serves (default: any). */
  lanes?: readonly ('consumer' | 'industrial')[];
  /** False: only jobs that do not require a GPU. */
  gpu?: boolean;
}

/**
 * Jobs (one per slice of a task) and their leases. Leasing is one statement shaped for many
 * market instances on one PostgreSQL: the candidate row is picked with `FOR UPDATE SKIP
 * LOCKED`, so concurrent leasers never block each other nor take the same job.
 */
export class JobsRepo {
  constructor(private readonly c: SqlConn) {}

  async insert(jobs: readonly Pick<JobRecord, 'jobId' | 'taskId' | 'sliceIndex' | 'lane' | 'gpuRequired' | 'offer'>[], now: number): Promise<void> {
    for (const j of jobs) {
      await this.c.query(sql`
        INSERT INTO jobs (job_id, task_id, slice_index, lane, gpu_required, offer, status, created_at, updated_at)
        VALUES (${j.jobId}, ${j.taskId}, ${j.sliceIndex}, ${j.lane}, ${j.gpuRequired}, ${j.offer}, 'queued', ${now}, ${now})`);
    }
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const [r] = await this.c.query<JobRow>(sql`SELECT * FROM jobs WHERE job_id = ${jobId}`);
    return r && toJobRecord(r);
  }

  async byTask(taskId: string): Promise<JobRecord[]> {
    return (await this.c.query<JobRow>(sql`SELECT * FROM jobs WHERE task_id = ${taskId} ORDER BY slice_index`)).map(toJobRecord);
  }

  /** Leases the oldest queued job that fits, or returns undefined when none is free. */
  async leaseNext(req: LeaseRequest): Promise<JobRecord | undefined> {
    const lanes = req.lanes ?? ['consumer', 'industrial'];
    const [r] = await this.c.query<JobRow>(sql`
      UPDATE jobs SET status = 'leased', lease_owner = ${req.owner}, lease_until = ${req.now + req.leaseMs}, attempts = attempts + 1, updated_at = ${req.now}
      WHERE job_id = (
        SELECT job_id FROM jobs
        WHERE status = 'queued' AND lane = ANY(${`{${lanes.join(',')}}`}::text[]) ${req.gpu === false ? sql`AND NOT gpu_required` : sql``}
        ORDER BY created_at, job_id
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
      AND status = 'queued'
      RETURNING *`);
    return r && toJobRecord(r);
  }

  /** Extends a lease the owner still holds; false when it lost it. */
  async renew(jobId: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
    const rows = await this.c.query(sql`
      UPDATE jobs SET lease_until = ${now + leaseMs}, updated_at = ${now}
      WHERE job_id = ${jobId} AND status = 'leased' AND lease_owner = ${owner} AND lease_until > ${now} RETURNING job_id`);
    return rows.length === 1;
  }

  /** Records the result of a job the owner holds; false when it is not leased to `owner`. */
  async complete(jobId: string, owner: string, resultHash: string, now: number): Promise<boolean> {
    const rows = await this.c.query(sql`
      UPDATE jobs SET status = 'done', result_hash = ${resultHash}, lease_owner = NULL, lease_until = NULL, updated_at = ${now}
      WHERE job_id = ${jobId} AND status = 'leased' AND lease_owner = ${owner} RETURNING job_id`);
    return rows.length === 1;
  }

  /** Returns jobs whose lease ran out to the queue; their ids, oldest lease first. */
  async requeueExpired(now: number, limit = 1000): Promise<string[]> {
    const rows = await this.c.query<{ job_id: string }>(sql`
      UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ${now}
      WHERE job_id IN (
        SELECT job_id FROM jobs WHERE status = 'leased' AND lease_until <= ${now}
        ORDER BY lease_until, job_id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING job_id`);
    return rows.map((r) => r.job_id).sort();
  }

  /** Gives up on a task's unfinished jobs (the task failed or expired). */
  async failOpen(taskId: string, reason: string, now: number): Promise<number> {
    const rows = await this.c.query(sql`
      UPDATE jobs SET status = 'failed', failure_reason = ${reason}, lease_owner = NULL, lease_until = NULL, updated_at = ${now}
      WHERE task_id = ${taskId} AND status IN ('queued', 'leased') RETURNING job_id`);
    return rows.length;
  }
}
