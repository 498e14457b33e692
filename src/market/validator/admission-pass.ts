import { ADMISSION_CODES } from '../../core/pricing/admission.js';
import type { AdmissionMode, ComfortGuard } from '../../core/pricing/comfort-guard.js';
import { LaneQueue } from '../../core/pricing/lane-queue.js';
import type { AdmissionWait } from '../store/validator-repo.js';

/** What the admission pass decided for one waiting industrial job. */
export type WaitDecision =
  | { jobId: string; taskId: string; outcome: 'admitted' }
  | { jobId: string; taskId: string; outcome: 'deferred'; code: 'INDUSTRIAL_TIGHT' | 'NO_CAPACITY'; message: string }
  | { jobId: string; taskId: string; outcome: 'expired'; code: 'DEFER_EXPIRED'; message: string };

export interface AdmissionInput {
  /** Queued consumer jobs: their offers and when they were queued. */
  consumer: readonly { offer: bigint; createdAt: number }[];
  /** Industrial jobs waiting for admission, in line order (deferred first, in deferral order). */
  waiting: readonly AdmissionWait[];
  /** Shards the connected industrial providers announce (the sum of their `max_jobs`). */
  capacity: number;
  /** Industrial jobs admitted and not finished: one shard each. */
  reserved: number;
  now: number;
  maxDeferMs: number;
}

/**
 * The market's side of docs/admission.md, one pass over the store's queue: the comfort guard
 * reads the queued consumer jobs (fee p90, age p95); industrial jobs are then taken in line
 * order. A job deferred `maxDeferMs` or longer ago expires (`DEFER_EXPIRED`, also while tight).
 * While the guard is tight every waiting job is held as `INDUSTRIAL_TIGHT`; otherwise jobs are
 * admitted while a shard is free, and the first that finds none holds the line: it and every job
 * behind it are held as `NO_CAPACITY`. The market already holds the customer's escrow, so a job
 * the node would reject as retryable (tight, no capacity at all) is held deferred and retried
 * here instead. Consumer jobs are never held.
 */
export function decideAdmissions(
  guard: ComfortGuard,
  input: AdmissionInput,
): { mode: AdmissionMode; decisions: WaitDecision[] } {
  const queue = new LaneQueue('consumer');
  input.consumer.forEach((c, i) =>
    queue.enqueue({ id: String(i), lane: 'consumer', fee: c.offer, shards: 1, enqueuedAt: c.createdAt }),
  );
  const mode = guard.evaluate({
    consumerFeeP90: queue.feePercentile(90),
    consumerAgeP95Ms: queue.agePercentile(95, input.now),
  }).mode;
  let free = input.capacity - input.reserved;
  let blocked = false;
  const decisions: WaitDecision[] = [];
  for (const w of input.waiting) {
    const base = { jobId: w.jobId, taskId: w.taskId };
    if (w.deferredAt !== null && input.now - w.deferredAt >= input.maxDeferMs) {
      const message = `job ${w.jobId} stayed deferred (${w.deferCode ?? 'NO_CAPACITY'}) for ${secs(input.now - w.deferredAt)} s; deferred industrial jobs are held at most ${secs(input.maxDeferMs)} s (DEFER_EXPIRED): ${ADMISSION_CODES.DEFER_EXPIRED.summary}`;
      decisions.push({ ...base, outcome: 'expired', code: 'DEFER_EXPIRED', message });
      continue;
    }
    if (mode === 'tight') {
      decisions.push({
        ...base,
        outcome: 'deferred',
        code: 'INDUSTRIAL_TIGHT',
        message: ADMISSION_CODES.INDUSTRIAL_TIGHT.summary,
      });
      continue;
    }
    if (blocked || free < 1) {
      const message = blocked
        ? 'an older deferred industrial job is served first'
        : `no shard is free: connected industrial providers offer ${input.capacity}, ${input.reserved} are reserved`;
      blocked = true;
      decisions.push({ ...base, outcome: 'deferred', code: 'NO_CAPACITY', message });
      continue;
    }
    free -= 1;
    decisions.push({ ...base, outcome: 'admitted' });
  }
  return { mode, decisions };
}

const secs = (ms: number): string => (ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1);
