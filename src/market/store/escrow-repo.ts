import type { Payout } from '../../core/market/payout.js';
import { ACCOUNTS, AccountsRepo } from './accounts-repo.js';
import type { SqlConn } from './driver.js';
import { sql } from './sql.js';

export type EscrowStatus = 'held' | 'released' | 'refunded';

export interface EscrowRecord {
  taskId: string;
  customerId: string;
  amount: bigint;
  status: EscrowStatus;
}

/** A task's reward held between POST and completion (released as a payout) or failure (refunded). */
export class EscrowRepo {
  private readonly accounts: AccountsRepo;

  constructor(private readonly c: SqlConn) {
    this.accounts = new AccountsRepo(c);
  }

  /** Moves `amount` from the customer to escrow for the task; false on insufficient funds. */
  async hold(taskId: string, customerId: string, amount: bigint, now: number): Promise<boolean> {
    const ok = await this.accounts.post(
      `escrow:${taskId}`,
      [
        { account: ACCOUNTS.customer(customerId), amount: -amount },
        { account: ACCOUNTS.escrow, amount },
      ],
      'escrow',
      now,
    );
    if (!ok) return false;
    await this.c.query(
      sql`INSERT INTO escrows (task_id, customer_id, amount, status, created_at) VALUES (${taskId}, ${customerId}, ${amount}, 'held', ${now})`,
    );
    return true;
  }

  async get(taskId: string): Promise<EscrowRecord | undefined> {
    const [r] = await this.c.query<{ task_id: string; customer_id: string; amount: bigint; status: EscrowStatus }>(
      sql`SELECT task_id, customer_id, amount, status FROM escrows WHERE task_id = ${taskId}`,
    );
    return r && { taskId: r.task_id, customerId: r.customer_id, amount: r.amount, status: r.status };
  }

  /** Takes the held escrow row (locked for this transaction); undefined if none is held. */
  private async take(taskId: string, status: EscrowStatus, now: number): Promise<EscrowRecord | undefined> {
    const [r] = await this.c.query<{ customer_id: string; amount: bigint }>(sql`
      UPDATE escrows SET status = ${status}, settled_at = ${now} WHERE task_id = ${taskId} AND status = 'held' RETURNING customer_id, amount`);
    return r && { taskId, customerId: r.customer_id, amount: r.amount, status };
  }

  /** Returns the held reward to the customer; false when nothing was held (already settled). */
  async refund(taskId: string, now: number): Promise<boolean> {
    const e = await this.take(taskId, 'refunded', now);
    if (!e) return false;
    const ok = await this.accounts.post(
      `refund:${taskId}`,
      [
        { account: ACCOUNTS.escrow, amount: -e.amount },
        { account: ACCOUNTS.customer(e.customerId), amount: e.amount },
      ],
      'refund',
      now,
    );
    if (!ok) throw new Error(`escrow account cannot cover the refund of task ${taskId}`);
    return true;
  }

  /** Pays a held reward out as `payout` (which must sum to it); false when nothing was held. */
  async release(taskId: string, payout: Payout, now: number): Promise<boolean> {
    const e = await this.take(taskId, 'released', now);
    if (!e) return false;
    const legs = [
      { account: ACCOUNTS.escrow, amount: -e.amount },
      { account: ACCOUNTS.burn, amount: payout.burn },
      { account: ACCOUNTS.validator, amount: payout.validator },
      { account: ACCOUNTS.treasury, amount: payout.treasury },
      ...payout.workers.map((w) => ({ account: ACCOUNTS.worker(w.address), amount: w.amount })),
    ];
    for (const w of payout.workers) await this.accounts.ensure(ACCOUNTS.worker(w.address), 'worker');
    if (!(await this.accounts.post(`payout:${taskId}`, legs, 'payout', now)))
      throw new Error(`escrow account cannot cover the payout of task ${taskId}`);
    return true;
  }

  /**
   * Pays out many held rewards at once (a group commit's completed tasks), each as its payout
   * (which must sum to it): one UPDATE takes the held escrows, one INSERT creates missing worker
   * accounts, and AccountsRepo.postMany moves every balance. Returns the tasks paid; a task with
   * nothing held (already settled, or refunded) is not among them and pays nothing.
   */
  async releaseMany(items: readonly { taskId: string; payout: Payout }[], now: number): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    const taken = await this.c.query<{ task_id: string; amount: bigint }>(sql`
      UPDATE escrows SET status = 'released', settled_at = ${now}
      WHERE task_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(items.map((i) => i.taskId))}::jsonb)::uuid) AND status = 'held'
      RETURNING task_id, amount`);
    const amounts = new Map(taken.map((t) => [t.task_id, t.amount]));
    const paid = items.filter((i) => amounts.has(i.taskId));
    if (paid.length === 0) return new Set();
    await this.accounts.ensureMany(
      paid.flatMap((i) => i.payout.workers.map((w) => ACCOUNTS.worker(w.address))),
      'worker',
    );
    const events = paid.map(({ taskId, payout }) => ({
      eventId: `payout:${taskId}`,
      memo: 'payout',
      legs: [
        { account: ACCOUNTS.escrow, amount: -(amounts.get(taskId) as bigint) },
        { account: ACCOUNTS.burn, amount: payout.burn },
        { account: ACCOUNTS.validator, amount: payout.validator },
        { account: ACCOUNTS.treasury, amount: payout.treasury },
        ...payout.workers.map((w) => ({ account: ACCOUNTS.worker(w.address), amount: w.amount })),
      ],
    }));
    if (!(await this.accounts.postMany(events, now)))
      throw new Error(`escrow account cannot cover the payouts of tasks ${paid.map((p) => p.taskId).join(', ')}`);
    return new Set(paid.map((p) => p.taskId));
  }
}
