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

/**
 * Jobs (one per slice of a task): inserting, reading and failing them. Leases are taken by the
 * validator's statements (ValidatorRepo.leaseFor, handOver, requeue).
 */
export class JobsRepo {
  constructor(private readonly c: SqlConn) {}

  async insert(
    jobs: readonly Pick<JobRecord, 'jobId' | 'taskId' | 'sliceIndex' | 'lane' | 'gpuRequired' | 'offer'>[],
    now: number,
  ): Promise<void> {
    if (jobs.length === 0) return;
    // One statement for all of them (a split pass inserts every job of every task it splits at once).
    const rows = JSON.stringify(
      jobs.map((j) => ({
        job_id: j.jobId,
        task_id: j.taskId,
        slice_index: j.sliceIndex,
        lane: j.lane,
        gpu_required: j.gpuRequired,
        offer: j.offer.toString(),
      })),
    );
    await this.c.query(sql`
      INSERT INTO jobs (job_id, task_id, slice_index, lane, gpu_required, offer, status, created_at, updated_at)
      SELECT x.job_id, x.task_id, x.slice_index, x.lane, x.gpu_required, x.offer, 'queued', ${now}::bigint, ${now}::bigint
      FROM jsonb_to_recordset(${rows}::jsonb)
        AS x(job_id uuid, task_id uuid, slice_index integer, lane text, gpu_required boolean, offer bigint)`);
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const [r] = await this.c.query<JobRow>(sql`SELECT * FROM jobs WHERE job_id = ${jobId}`);
    return r && toJobRecord(r);
  }

  async byTask(taskId: string): Promise<JobRecord[]> {
    return (await this.c.query<JobRow>(sql`SELECT * FROM jobs WHERE task_id = ${taskId} ORDER BY slice_index`)).map(
      toJobRecord,
    );
  }

  /** Gives up on a task's unfinished jobs (the task failed or expired). */
  async failOpen(taskId: string, reason: string, now: number): Promise<number> {
    const rows = await this.c.query(sql`
      UPDATE jobs SET status = 'failed', failure_reason = ${reason}, lease_owner = NULL, lease_until = NULL, updated_at = ${now}
      WHERE task_id = ${taskId} AND status IN ('queued', 'leased') RETURNING job_id`);
    return rows.length;
  }
}
