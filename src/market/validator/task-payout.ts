import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { makeReceipt, receiptToJson } from '../../core/ledger/receipt.js';
import type { JsonValue } from '../../core/market/canonical.js';
import { taskResultHash } from '../../core/market/merkle.js';
import { splitReward, type Payout } from '../../core/market/payout.js';
import { bondWithholding, type ProbationPolicy } from '../../core/market/probation.js';
import { withSurcharge } from '../../core/market/verification-price.js';
import { signReceipt } from '../../node/signing/receipt-signing.js';
import type { ResultSigner } from '../../node/signing/result-signing.js';
import type { MarketTx } from '../store/market-store.js';

/** Account name of the market on provider receipts (`buyer`). */
export const marketBuyer = (marketId: string): string => `market:${marketId}`;
/** Pseudo worker that stands for slices settled on the validator's own re-execution: its share goes to the validator account. */
export const VALIDATOR_SLICES = '~validator';

/** A receipt stored for a provider, to be sent to it (delivery is at least once; the provider acknowledges it). */
export interface PaidReceipt {
  provider: string;
  taskId: string;
  receipt: JsonValue;
}

/** What one payTasks call did: the tasks it completed and the receipts it stored for them. */
export interface TaskPayment {
  completed: string[];
  receipts: PaidReceipt[];
}

/** What paying a task needs besides the store: the market's identity and receipt key. */
export interface TaskPayoutDeps {
  blake3: Blake3Hasher;
  marketId: string;
  /** The market's receipt key (its Ed25519 signer). */
  signer: Pick<ResultSigner, 'sign'>;
  /** The market's bond rules: how much of each payout is held back into the provider's bond. */
  bond: ProbationPolicy;
  /**
   * Whether this instance serves the provider (and so delivers its receipts itself once the
   * transaction commits). Other instances are woken (`receipt_stored`) only for receipts of a
   * provider it does not serve; absent: they always are.
   */
  servesHere?: (provider: string) => boolean;
}

/**
 * Pays every task of `taskIds` whose every job is done, set-based, in three round trips: the tasks
 * locked with one read of the completable ones (SettlementRepo.completableTasks) and one of their
 * settled slices; their escrows taken (EscrowRepo.takeHeld) with the workers' bond balances; then
 * the escrows paid out by splitReward (EscrowRepo.payOut; while a worker's bond is below the
 * market's, part of its share goes to its `bond:<address>` account in the same posting), with the
 * tasks completed and one Receipt v1 per paid job stored in one statement. A task with nothing
 * held (refunded by an expiry in another transaction, or paid already) pays nothing, so calling
 * this again for a task changes nothing: the settlement group commit, the dispute resolution and
 * the completion sweep all pay through here, on any number of market instances.
 */
export async function payTasks(
  tx: MarketTx,
  taskIds: readonly string[],
  now: number,
  deps: TaskPayoutDeps,
  first: readonly (() => Promise<unknown>)[] = [],
): Promise<TaskPayment> {
  // The results are read for every touched task in the same round trip as the check (after its
  // locks); only the complete tasks' are used. `first` (the settlement's own writes: the jobs it
  // finished, which the check must see) leaves in that same write, ahead of them.
  const answers = await tx.together<unknown[]>(
    ...first,
    () => tx.settlement.completableTasks(taskIds),
    () => tx.settlement.taskResults(taskIds),
  );
  const [ready, slicesOf] = answers.slice(first.length) as [
    Awaited<ReturnType<MarketTx['settlement']['completableTasks']>>,
    Awaited<ReturnType<MarketTx['settlement']['taskResults']>>,
  ];
  if (ready.length === 0) return { completed: [], receipts: [] };
  const plans = ready.map(({ taskId, reward, verification, surcharge }) => {
    const slices = slicesOf.get(taskId) ?? [];
    const counts = new Map<string, number>();
    for (const s of slices) {
      const who = s.verdict === 'accepted' ? s.workerAddress : VALIDATOR_SLICES;
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
    // A stronger verification's surcharge, held with the reward, is paid where its cost falls (verification-price.ts).
    const split = withSurcharge(
      splitReward(
        reward,
        [...counts].map(([address, verifiedSlices]) => ({ address, verifiedSlices })),
      ),
      verification,
      surcharge,
    );
    const validatorShare = split.workers.find((w) => w.address === VALIDATOR_SLICES)?.amount ?? 0n;
    const payout: Payout = {
      burn: split.burn,
      validator: split.validator + validatorShare,
      treasury: split.treasury,
      workers: split.workers.filter((w) => w.address !== VALIDATOR_SLICES && w.amount > 0n),
    };
    return { taskId, slices, counts, payout };
  });
  // The escrows are taken and the workers' bonds read in one round trip. A provider's bond is
  // held back from its first payouts (bondWithholding), task after task in this call's order,
  // until it reaches the market's bond; the rest goes to its worker account.
  const [funded, taken] = await tx.together(
    async () =>
      deps.bond.bondTarget > 0n
        ? tx.bonds.funded(plans.flatMap((p) => p.payout.workers.map((w) => w.address)))
        : new Map<string, bigint>(),
    () =>
      tx.escrow.takeHeld(
        plans.map((p) => p.taskId),
        now,
      ),
  );
  const withheldPlans = plans.map((p) => {
    const withheld = new Map<string, bigint>();
    for (const w of p.payout.workers) {
      const held = bondWithholding(w.amount, funded.get(w.address) ?? 0n, deps.bond);
      if (held === 0n) continue;
      withheld.set(w.address, held);
      funded.set(w.address, (funded.get(w.address) ?? 0n) + held);
    }
    return { ...p, withheld };
  });
  const completed: { taskId: string; resultHash: string; workerAddress: string }[] = [];
  const out: PaidReceipt[] = [];
  // The tasks are completed and their receipts stored once their escrow is taken and before the
  // postings (which lock rows every payout shares; releaseMany).
  const completePaid = async function (paid: ReadonlySet<string>): Promise<void> {
    for (const { taskId, slices, counts, payout } of plans) {
      if (!paid.has(taskId)) continue;
      const resultHash = taskResultHash(
        slices.filter((s) => !s.twin).map((s) => s.settledHash),
        deps.blake3,
      );
      const top =
        [...counts]
          .filter(([a]) => a !== VALIDATOR_SLICES)
          .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0]?.[0] ?? VALIDATOR_SLICES;
      completed.push({ taskId, resultHash, workerAddress: top });
      // Each worker's amount is spread over its jobs in slice order (largest remainder: the first get one more).
      for (const w of payout.workers) {
        const jobs = slices.filter((s) => s.verdict === 'accepted' && s.workerAddress === w.address);
        const k = BigInt(jobs.length);
        jobs.forEach((s, i) => {
          const amount = w.amount / k + (BigInt(i) < w.amount % k ? 1n : 0n);
          const receipt = signReceipt(
            makeReceipt(
              {
                job_id: s.jobId,
                buyer: marketBuyer(deps.marketId),
                provider: w.address,
                quote_price: amount,
                issued_at: now,
              },
              deps.blake3,
            ),
            deps.marketId,
            deps.signer,
          );
          out.push({ provider: w.address, taskId, receipt: receiptToJson(receipt) as unknown as JsonValue });
        });
      }
    }
    await tx.settlement.completeTasks(
      completed,
      out.map((r) => {
        const rj = r.receipt as { idempotency_key: string; job_id: string };
        return {
          key: rj.idempotency_key,
          jobId: rj.job_id,
          taskId: r.taskId,
          provider: r.provider,
          receipt: r.receipt,
        };
      }),
      now,
    );
  };
  await tx.escrow.payOut(taken, withheldPlans, now, completePaid);
  // The instance each provider is connected to delivers its receipts (receipt-delivery.ts): the
  // others are woken only when a receipt is for a provider this one does not serve.
  const servesHere = deps.servesHere;
  if (out.length > 0 && (!servesHere || out.some((r) => !servesHere(r.provider)))) await tx.notify('receipt_stored');
  return { completed: completed.map((c) => c.taskId), receipts: out };
}
