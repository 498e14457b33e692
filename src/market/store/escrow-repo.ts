import type { Payout } from '../../core/market/payout.js';
import { ACCOUNTS, AccountsRepo } from './accounts-repo.js';
import { pipelined, type SqlConn } from './driver.js';
import { pgArray, recordset, sql } from './sql.js';

export type EscrowStatus = 'held' | 'released' | 'refunded';

export interface EscrowRecord {
  taskId: string;
  customerId: string;
  amount: bigint;
  status: EscrowStatus;
}

/**
 * A task's reward held between POST and completion (released as a payout) or failure (refunded),
 * in its customer's escrow account `escrow:<customer_id>`: a hold locks only that customer's two
 * accounts, so posts of different customers never wait on one another. Each customer's escrow
 * balance equals the sum of its `held` rows.
 */
/** holdMany found a customer whose funds (or accounts) do not cover its holds: the transaction must not commit. */
export class HoldShortfall extends Error {
  override readonly name = 'HoldShortfall';
}

/** Escrows taken by EscrowRepo.takeHeld: per task, its customer and the amount held. */
export type TakenEscrows = Map<string, { customerId: string; amount: bigint }>;

export class EscrowRepo {
  private readonly accounts: AccountsRepo;

  constructor(private readonly c: SqlConn) {
    this.accounts = new AccountsRepo(c);
  }

  /**
   * Moves `amount` from the customer to its escrow account for the task and records the held
   * escrow, in one statement: the debit (guarded: `balance >= amount`), then the credit, both
   * postings and the escrow row, each only when the debit happened. The customer's account is
   * locked before its escrow account, the order every posting uses (AccountsRepo.post). False,
   * having changed nothing, on insufficient funds.
   */
  async hold(taskId: string, customerId: string, amount: bigint, now: number): Promise<boolean> {
    const from = ACCOUNTS.customer(customerId);
    const to = ACCOUNTS.escrow(customerId);
    if (amount <= 0n || !(from < to)) return this.holdInLegs(taskId, customerId, amount, now);
    const eventId = `escrow:${taskId}`;
    const [r] = await this.c.query<{ debited: number; credited: number }>(sql`
      WITH debit AS (
        UPDATE accounts SET balance = balance - ${amount}
        WHERE account_id = ${from} AND (kind = 'mint' OR balance - ${amount} >= 0)
        RETURNING account_id),
      credit AS (
        UPDATE accounts SET balance = balance + ${amount}
        WHERE account_id = ${to} AND EXISTS (SELECT 1 FROM debit)
        RETURNING account_id),
      legs AS (
        INSERT INTO postings (event_id, account_id, amount, memo, created_at)
        SELECT ${eventId}, account_id, ${-amount}::bigint, 'escrow', ${now}::bigint FROM debit
        UNION ALL
        SELECT ${eventId}, account_id, ${amount}::bigint, 'escrow', ${now}::bigint FROM credit
        RETURNING seq),
      held AS (
        INSERT INTO escrows (task_id, customer_id, amount, status, created_at)
        SELECT ${taskId}, ${customerId}, ${amount}, 'held', ${now} WHERE EXISTS (SELECT 1 FROM credit)
        RETURNING task_id)
      SELECT (SELECT count(*) FROM debit)::int AS debited, (SELECT count(*) FROM credit)::int AS credited,
        (SELECT count(*) FROM legs)::int AS legs, (SELECT count(*) FROM held)::int AS held`);
    if (r?.debited !== 1) return false;
    // A customer account without its escrow account: refused, and the transaction must not commit the debit.
    if (r.credited !== 1) throw new Error(`escrow account ${to} does not exist; the hold of task ${taskId} is undone`);
    return true;
  }

  /**
   * Locks the funds and escrow accounts of these customers (in account id order: every
   * `customer:` row before every `escrow:` row, the order every posting locks accounts in) and
   * reads their funds (0 for a customer without an account). The first step of a group of holds
   * (TaskService's posts): the caller decides which fit, then `holdMany` moves them.
   */
  async lockFunds(customerIds: readonly string[]): Promise<Map<string, bigint>> {
    const ids = [...new Set(customerIds)];
    const out = new Map<string, bigint>(ids.map((id) => [id, 0n]));
    if (ids.length === 0) return out;
    const funds = ACCOUNTS.customer('');
    const rows = await this.c.query<{ account_id: string; balance: bigint }>(sql`
      SELECT account_id, balance FROM accounts
      WHERE account_id = ANY(${pgArray(ids.flatMap((id) => [ACCOUNTS.customer(id), ACCOUNTS.escrow(id)]))}::text[])
      ORDER BY account_id COLLATE "C" FOR UPDATE`);
    for (const r of rows) if (r.account_id.startsWith(funds)) out.set(r.account_id.slice(funds.length), r.balance);
    return out;
  }

  /**
   * Holds many tasks' rewards at once, each as `hold` would (customer → its escrow account, two
   * postings under `escrow:<task>`, a held escrow row), in one statement: the balances moved by
   * their per-customer sums, every posting and every escrow row. Its accounts must be locked
   * already (`lockFunds`) and the funds checked; a shortfall or a missing account here throws (the
   * transaction must not commit).
   */
  async holdMany(holds: readonly { taskId: string; customerId: string; amount: bigint }[], now: number): Promise<void> {
    if (holds.length === 0) return;
    if (holds.some((h) => h.amount <= 0n)) throw new RangeError('an escrow hold must be above 0 micro-CPC');
    const rows = recordset(
      holds.map((h, ord) => ({ ord, task_id: h.taskId, customer_id: h.customerId, amount: h.amount })),
      sql`x(ord integer, task_id uuid, customer_id uuid, amount bigint)`,
    );
    const funds = ACCOUNTS.customer('');
    const escrow = ACCOUNTS.escrow('');
    const [r] = await this.c.query<{ customers: number; debited: number; credited: number }>(sql`
      WITH v AS (
        SELECT * FROM ${rows} AS x),
      n AS (SELECT customer_id, sum(amount)::bigint AS total FROM v GROUP BY customer_id),
      debit AS (
        UPDATE accounts a SET balance = a.balance - n.total FROM n
        WHERE a.account_id = ${funds}::text || n.customer_id::text AND a.balance - n.total >= 0
        RETURNING a.account_id),
      credit AS (
        UPDATE accounts a SET balance = a.balance + n.total FROM n
        WHERE a.account_id = ${escrow}::text || n.customer_id::text
        RETURNING a.account_id),
      legs AS (
        INSERT INTO postings (event_id, account_id, amount, memo, created_at)
        SELECT 'escrow:' || v.task_id, l.account_id, l.amount, 'escrow', ${now}::bigint
        FROM v CROSS JOIN LATERAL (VALUES (1, ${funds}::text || v.customer_id::text, -v.amount), (2, ${escrow}::text || v.customer_id::text, v.amount)) AS l(k, account_id, amount)
        ORDER BY v.ord, l.k
        RETURNING 1),
      held AS (
        INSERT INTO escrows (task_id, customer_id, amount, status, created_at)
        SELECT task_id, customer_id, amount, 'held', ${now}::bigint FROM v ORDER BY ord
        RETURNING 1)
      SELECT (SELECT count(*) FROM n)::int AS customers, (SELECT count(*) FROM debit)::int AS debited,
        (SELECT count(*) FROM credit)::int AS credited, (SELECT count(*) FROM legs)::int AS legs, (SELECT count(*) FROM held)::int AS held`);
    if (!r || r.debited !== r.customers || r.credited !== r.customers)
      throw new HoldShortfall(
        `a group of ${holds.length} escrow holds lacks funds or accounts (${r?.debited ?? 0} of ${r?.customers ?? 0} customers debited); nothing was held`,
      );
  }

  /** `hold` as two postings and an insert (an amount of 0, or account ids outside the usual order). */
  private async holdInLegs(taskId: string, customerId: string, amount: bigint, now: number): Promise<boolean> {
    const ok = await this.accounts.post(
      `escrow:${taskId}`,
      [
        { account: ACCOUNTS.customer(customerId), amount: -amount },
        { account: ACCOUNTS.escrow(customerId), amount },
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
        { account: ACCOUNTS.escrow(e.customerId), amount: -e.amount },
        { account: ACCOUNTS.customer(e.customerId), amount: e.amount },
      ],
      'refund',
      now,
    );
    if (!ok) throw new Error(`escrow account cannot cover the refund of task ${taskId}`);
    return true;
  }

  /**
   * Returns many held rewards to their customers at once (the deadline sweep): one UPDATE takes
   * the held escrows and AccountsRepo.postMany moves every balance, locking the accounts of all
   * the customers in one statement in account id order (refunds one after another lock several
   * customers' accounts in task order, which can deadlock with another transaction that does the
   * same in another order). Returns the tasks refunded; a task with nothing held is not among them.
   */
  async refundMany(taskIds: readonly string[], now: number): Promise<Set<string>> {
    if (taskIds.length === 0) return new Set();
    const taken = await this.c.query<{ task_id: string; customer_id: string; amount: bigint }>(sql`
      UPDATE escrows SET status = 'refunded', settled_at = ${now}
      WHERE task_id = ANY(${pgArray(taskIds)}::uuid[]) AND status = 'held'
      RETURNING task_id, customer_id, amount`);
    if (taken.length === 0) return new Set();
    const events = taken.map((e) => ({
      eventId: `refund:${e.task_id}`,
      memo: 'refund',
      legs: [
        { account: ACCOUNTS.escrow(e.customer_id), amount: -e.amount },
        { account: ACCOUNTS.customer(e.customer_id), amount: e.amount },
      ],
    }));
    if (!(await this.accounts.postMany(events, now)))
      throw new Error(`escrow accounts cannot cover the refunds of tasks ${taken.map((e) => e.task_id).join(', ')}`);
    return new Set(taken.map((e) => e.task_id));
  }

  /** Pays a held reward out as `payout` (which must sum to it); false when nothing was held. */
  async release(taskId: string, payout: Payout, now: number): Promise<boolean> {
    const e = await this.take(taskId, 'released', now);
    if (!e) return false;
    const legs = [
      { account: ACCOUNTS.escrow(e.customerId), amount: -e.amount },
      { account: ACCOUNTS.burn, amount: payout.burn },
      { account: ACCOUNTS.validator, amount: payout.validator },
      { account: ACCOUNTS.treasury, amount: payout.treasury },
      ...payout.workers.map((w) => ({ account: ACCOUNTS.worker(w.address), amount: w.amount })),
    ];
    for (const w of payout.workers) await this.accounts.ensure(ACCOUNTS.worker(w.address), 'worker');
    if (!(await this.accounts.post(`payout:${taskId}`, legs, 'payout', now)))
      throw new Error(`escrow account ${ACCOUNTS.escrow(e.customerId)} cannot cover the payout of task ${taskId}`);
    return true;
  }

  /**
   * Pays out many held rewards at once (a group commit's completed tasks), each as its payout
   * (which must sum to it): one UPDATE takes the held escrows, one INSERT creates missing worker
   * accounts, and AccountsRepo.postMany moves every balance. Returns the tasks paid; a task with
   * nothing held (already settled, or refunded) is not among them and pays nothing. `withheld`
   * names, per worker, the part of its amount that goes to its `bond:<address>` account instead
   * of `worker:<address>`, in the same balanced posting.
   */
  async releaseMany(
    items: readonly { taskId: string; payout: Payout; withheld?: ReadonlyMap<string, bigint> }[],
    now: number,
    beforePosting?: (paid: ReadonlySet<string>) => Promise<void>,
  ): Promise<Set<string>> {
    return this.payOut(
      await this.takeHeld(
        items.map((i) => i.taskId),
        now,
      ),
      items,
      now,
      beforePosting,
    );
  }

  /**
   * The first half of releaseMany: takes (marks released) the held escrows of these tasks, in one
   * statement, so that a caller can send it with other statements. Whatever it takes must be paid
   * out by `payOut` in the same transaction; a task with nothing held is not in the answer.
   */
  async takeHeld(taskIds: readonly string[], now: number): Promise<TakenEscrows> {
    if (taskIds.length === 0) return new Map();
    const taken = await this.c.query<{ task_id: string; customer_id: string; amount: bigint }>(sql`
      UPDATE escrows SET status = 'released', settled_at = ${now}
      WHERE task_id = ANY(${pgArray(taskIds)}::uuid[]) AND status = 'held'
      RETURNING task_id, customer_id, amount`);
    return new Map(taken.map((t) => [t.task_id, { customerId: t.customer_id, amount: t.amount }]));
  }

  /**
   * The second half of releaseMany: pays out the escrows `takeHeld` took, each task as its item's
   * payout. Every task taken must have an item (a taken escrow left unpaid would leave its money
   * in the customer's escrow account with nothing held against it): one without is an error, and
   * the transaction must not commit.
   */
  async payOut(
    taken: TakenEscrows,
    items: readonly { taskId: string; payout: Payout; withheld?: ReadonlyMap<string, bigint> }[],
    now: number,
    beforePosting?: (paid: ReadonlySet<string>) => Promise<void>,
  ): Promise<Set<string>> {
    const itemIds = new Set(items.map((i) => i.taskId));
    const unpaid = [...taken.keys()].filter((t) => !itemIds.has(t));
    if (unpaid.length > 0) throw new Error(`escrows of tasks ${unpaid.join(', ')} were taken with no payout to make`);
    const paid = items.filter((i) => taken.has(i.taskId));
    if (paid.length === 0) return new Set();
    const paidIds = new Set(paid.map((p) => p.taskId));
    // What the caller writes for the paid tasks goes before the postings: the postings lock shared
    // rows (the customers' escrow accounts, burn, validator, treasury) that every payout on every
    // instance takes, so they come last and are held only until COMMIT.
    const events = paid.map(({ taskId, payout, withheld }) => {
      const e = taken.get(taskId) as { customerId: string; amount: bigint };
      return {
        eventId: `payout:${taskId}`,
        memo: 'payout',
        legs: [
          { account: ACCOUNTS.escrow(e.customerId), amount: -e.amount },
          { account: ACCOUNTS.burn, amount: payout.burn },
          { account: ACCOUNTS.validator, amount: payout.validator },
          { account: ACCOUNTS.treasury, amount: payout.treasury },
          ...payout.workers.flatMap((w) => {
            const held = withheld?.get(w.address) ?? 0n;
            return [
              { account: ACCOUNTS.worker(w.address), amount: w.amount - held },
              { account: ACCOUNTS.bond(w.address), amount: held },
            ];
          }),
        ],
      };
    });
    // The accounts created, the caller's writes, then the postings: one write, run in this order.
    const [, , , posted] = await pipelined(
      this.c,
      () =>
        this.accounts.ensureMany(
          paid.flatMap((i) => i.payout.workers.map((w) => ACCOUNTS.worker(w.address))),
          'worker',
        ),
      () =>
        this.accounts.ensureMany(
          paid.flatMap((i) => [...(i.withheld?.keys() ?? [])].map((a) => ACCOUNTS.bond(a))),
          'bond',
        ),
      async () => beforePosting?.(paidIds),
      () => this.accounts.postMany(events, now),
    );
    if (!posted)
      throw new Error(`escrow accounts cannot cover the payouts of tasks ${paid.map((p) => p.taskId).join(', ')}`);
    return paidIds;
  }
}
