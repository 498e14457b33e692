import { formatAmount } from '../../core/market/amount.js';
import { publicStatus, type TaskRecord } from '../store/tasks-repo.js';

const seconds = (ms: number): number => Math.floor(ms / 1000);

/** GET /tasks/{id}: the public view of a task (times in Unix seconds, amounts as CPC strings). */
export function taskView(t: TaskRecord & { sliceCount?: number }) {
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
  };
}

/** One row of GET /tasks. */
export function taskListItem(t: TaskRecord) {
  return {
    task_id: t.taskId,
    challenge_type: t.challengeType,
    status: publicStatus(t.status),
    reward: formatAmount(t.reward),
    created_at: seconds(t.createdAt),
  };
}
