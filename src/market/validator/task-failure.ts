import type { MarketTx } from '../store/market-store.js';

/** Fails a task inside `tx`: the task and its open jobs are marked failed and its escrow refunded. */
export async function failTask(tx: MarketTx, taskId: string, reason: string, now: number): Promise<void> {
  await tx.tasks.fail(taskId, reason, now);
  await tx.jobs.failOpen(taskId, reason, now);
  await tx.escrow.refund(taskId, now);
}
