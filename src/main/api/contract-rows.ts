import type { CourierListInfo, JobRow } from '../../shared/contract.js';
import type { CourierRow } from '../db/repos/courier-repo.js';
import type { ProviderJob } from '../db/repos/provider-jobs-repo.js';

/** A stored job (mapped from its row by ProviderJobsRepo) in the contract's shape: credits as a decimal string. */
export function jobRow(j: ProviderJob): JobRow {
  return {
    market_id: j.marketId,
    task_id: j.taskId,
    job_id: j.jobId,
    workload: j.workload,
    bytes: j.bytes,
    proof: j.proof,
    backend: j.backend,
    duration_ms: j.durationMs,
    status: j.status,
    code: j.code,
    credits: j.credits.toString(),
    offer: j.offer === null ? null : j.offer.toString(),
    paid: j.receiptKey !== null,
    settled: j.settled,
    started_at: j.startedAt,
    finished_at: j.finishedAt,
  };
}

/** A courier receipt (mapped from its row by CourierRepo) in the contract's shape: the reward as a decimal string. */
export function courierRow(r: CourierRow): CourierListInfo['rows'][number] {
  return {
    id: r.id,
    bundle_hash: r.bundle_hash,
    bytes: r.bytes,
    sender: r.sender,
    created_at: r.created_at,
    status: r.status,
    attempts: r.attempts,
    last_error: r.last_error,
    reward: r.reward === null ? null : r.reward.toString(),
  };
}
