import type { JsonValue } from '../../core/market/canonical.js';
import { buildSubmitResultTx, parseComputeResult } from '../../core/market/compute-result.js';
import { computeRoot } from '../../core/market/merkle.js';
import type { ValidatorContext } from './validator-context.js';

/**
 * The batch sealer: seals the accepted results not yet in a batch — compute_root over their
 * canonical bytes, with their SUBMIT_RESULT records — as batch n + 1. Leader only: batch numbers
 * are taken from the latest batch in the same transaction, so two instances sealing at once
 * would collide on the number (the validator runs it on its batch timer while it leads).
 * `runOnce` (sealBatchNow) is what the timer and the tests call.
 */
export class BatchSealer {
  constructor(private readonly ctx: Pick<ValidatorContext, 'store' | 'clock' | 'blake3'>) {}

  /** Seals one batch; resolves to its number, or undefined when nothing waits. */
  runOnce(): Promise<number | undefined> {
    return this.sealBatchNow();
  }

  /** Seals the accepted results not yet in a batch: compute_root over their canonical bytes, with their SUBMIT_RESULT records. */
  async sealBatchNow(): Promise<number | undefined> {
    const now = this.ctx.clock.now();
    return this.ctx.store.transaction(async (tx) => {
      const rows = await tx.validator.unbatched(1000);
      if (rows.length === 0) return undefined;
      const results = rows.map((row) => parseComputeResult(row.result));
      const n = ((await tx.validator.latestBatch())?.n ?? 0) + 1;
      const transactions = results.map((r) => buildSubmitResultTx(r)) as unknown as JsonValue;
      await tx.validator.sealBatch(
        {
          n,
          computeRoot: computeRoot(results, this.ctx.blake3),
          resultCount: results.length,
          transactions,
          sealedAt: now,
        },
        rows.map((r) => r.seq),
      );
      return n;
    });
  }
}
