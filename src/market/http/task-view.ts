import { formatAmount } from '../../core/market/amount.js';
import type { VerificationCounts } from '../store/reach-back-repo.js';
import { publicStatus, type TaskRecord } from '../store/tasks-repo.js';

const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * How a task's result was checked (docs/market-api.md, "Verification"): the guarantee asked for and
 * its price, per job how its result was verified, and the overall level — "all_checked" when every
 * job is done and none is unchecked, "unchecked" when no job result was checked, else
 * "partly_checked".
 */
export function verificationView(
  t: Pick<TaskRecord, 'verification' | 'surcharge' | 'corrections'>,
  c: VerificationCounts,
) {
  const checked = c.reexecuted + c.agreed + c.corrected;
  return {
    requested: t.verification,
    surcharge: formatAmount(t.surcharge),
    level:
      c.jobs > 0 && c.done === c.jobs && c.unchecked === 0
        ? ('all_checked' as const)
        : checked === 0
          ? ('unchecked' as const)
          : ('partly_checked' as const),
    jobs: c.jobs,
    reexecuted: c.reexecuted,
    agreed: c.agreed,
    unchecked: c.unchecked,
    corrected: c.corrected,
    corrections: t.corrections,
  };
}

/** GET /tasks/{id}: the public view of a task (times in Unix seconds, amounts as CPC strings). */
export function taskView(t: TaskRecord & { sliceCount?: number; checks?: VerificationCounts }) {
  return {
    task_id: t.taskId,
    challenge_type: t.challengeType,
    status: publicStatus(t.status),
    reward: formatAmount(t.reward),
    created_at: seconds(t.createdAt),
    ...(t.deadline === null ? {} : { deadline: seconds(t.deadline) }),
    input: {
      kind: t.inputKind,
      submitted: t.status !== 'draft',
      ...(t.sliceCount === undefined ? {} : { slices: t.sliceCount }),
    },
    ...(t.status === 'failed' ? { reason: t.failureReason } : {}),
    ...(t.status === 'completed'
      ? {
          result: {
            result_hash: t.resultHash,
            worker_address: t.workerAddress,
            completed_at: seconds(t.completedAt as number),
          },
        }
      : {}),
    ...(t.checks ? { verification: verificationView(t, t.checks) } : {}),
  };
}

/** One row of GET /tasks. */
export function taskListItem(t: TaskRecord & { checks?: VerificationCounts }) {
  return {
    task_id: t.taskId,
    challenge_type: t.challengeType,
    status: publicStatus(t.status),
    reward: formatAmount(t.reward),
    created_at: seconds(t.createdAt),
    ...(t.checks ? { verification: verificationView(t, t.checks) } : {}),
  };
}
