import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../node/log.js';
import type { MarketStore, MarketTx } from '../store/market-store.js';
import type { PaidReceipt, TaskPayment } from './task-payout.js';

/** How often a running market looks for tasks left in progress with every job done. */
export const COMPLETION_SWEEP_MS = 10_000;

export interface CompletionSweeperDeps {
  store: MarketStore;
  clock: Clock;
  /** Pays tasks whose every job is done (payTasks with the market's key); a task paid already pays nothing. */
  pay(tx: MarketTx, taskIds: readonly string[], now: number): Promise<TaskPayment>;
  /** Sends stored receipts to the providers connected here (the others get them when they next join). */
  deliver(receipts: readonly PaidReceipt[]): void;
  logger: Logger;
  /** Tasks completed per transaction (default 100). */
  batch?: number;
}

/** What one sweep did. */
export interface CompletionSweep {
  /** Tasks completed and paid by this sweep. */
  completed: string[];
  /** Receipts stored for them (and handed to `deliver`). */
  receipts: number;
}

/**
 * The completion sweep: completes and pays every task still in progress although all its jobs are
 * done — a task whose last result was settled by a market that stopped before paying it, or one
 * left by an earlier version whose completion check two instances could both miss. Settling a
 * group pays the tasks it touched; this catches the rest. It is safe on every instance at once and
 * as often as it runs: candidates are locked with SKIP LOCKED (a task another transaction is
 * settling is left to it), checked again under the lock, and paid through the one payTasks whose
 * escrow release happens once per task (a released escrow pays nothing again) and whose receipts
 * are stored once per job. The market runs it at start and every COMPLETION_SWEEP_MS; `runOnce`
 * is what the timer and the tests call.
 */
export class CompletionSweeper {
  private readonly batch: number;

  constructor(private readonly deps: CompletionSweeperDeps) {
    this.batch = deps.batch ?? 100;
  }

  async runOnce(): Promise<CompletionSweep> {
    const sweep: CompletionSweep = { completed: [], receipts: 0 };
    for (;;) {
      const now = this.deps.clock.now();
      const { candidates, paid } = await this.deps.store.transaction(async (tx) => {
        const candidates = await tx.settlement.stuckTasks(this.batch);
        return { candidates, paid: await this.deps.pay(tx, candidates, now) };
      });
      sweep.completed.push(...paid.completed);
      sweep.receipts += paid.receipts.length;
      this.deps.deliver(paid.receipts);
      const unpaid = candidates.filter((t) => !paid.completed.includes(t));
      if (unpaid.length > 0)
        // Every job done but nothing held in escrow: not something a sweep can repair; said once per sweep.
        this.deps.logger.warn('tasks have every job done but no escrow to pay; left in progress', {
          tasks: unpaid,
        });
      // A full page all paid: there may be more; anything else ends the sweep (it never spins on a task it cannot pay).
      if (candidates.length < this.batch || unpaid.length > 0) break;
    }
    if (sweep.completed.length > 0)
      this.deps.logger.info('completion sweep paid tasks left in progress with every job done', {
        tasks: sweep.completed.length,
        receipts: sweep.receipts,
      });
    return sweep;
  }
}
