import type { SqlConn } from './driver.js';
import { sql } from './sql.js';

export type AccountKind = 'customer' | 'escrow' | 'burn' | 'validator' | 'treasury' | 'worker' | 'mint';

/** Account ids: fixed system accounts, and one per customer and per worker address. */
export const ACCOUNTS = {
  escrow: 'escrow',
  burn: 'burn',
  validator: 'validator',
  treasury: 'treasury',
  /** Source of funds deposited from outside the market (may go negative). */
  mint: 'mint',
  customer: (customerId: string) => `customer:${customerId}`,
  worker: (address: string) => `worker:${address}`,
} as const;

/** One leg of a balanced posting: positive credits the account, negative debits it. */
export interface Leg {
  account: string;
  amount: bigint;
}

/** Balances (BIGINT micro-CPC) and the append-only postings that move them. */
export class AccountsRepo {
  constructor(private readonly c: SqlConn) {}

  async ensure(accountId: string, kind: AccountKind): Promise<void> {
    await this.c.query(
      sql`INSERT INTO accounts (account_id, kind) VALUES (${accountId}, ${kind}) ON CONFLICT (account_id) DO NOTHING`,
    );
  }

  /** The balance, 0n for an account that does not exist. */
  async balance(accountId: string): Promise<bigint> {
    const [r] = await this.c.query<{ balance: bigint }>(
      sql`SELECT balance FROM accounts WHERE account_id = ${accountId}`,
    );
    return r?.balance ?? 0n;
  }

  /**
   * Applies balanced legs (they must sum to zero) as one event. Debits are guarded in the same
   * statement (`balance >= amount`), so two concurrent debits can never overdraw; returns false
   * (and changes nothing the caller keeps, since it should abort its transaction) when a
   * non-mint account lacks the funds.
   */
  async post(eventId: string, legs: readonly Leg[], memo: string, now: number): Promise<boolean> {
    const sum = legs.reduce((a, l) => a + l.amount, 0n);
    if (sum !== 0n) throw new Error(`posting ${eventId} is unbalanced by ${sum}`);
    // Debits first, in account order, so concurrent events lock rows in one order (no deadlock).
    const ordered = [...legs]
      .filter((l) => l.amount !== 0n)
      .sort((a, b) =>
        a.amount < 0n === b.amount < 0n
          ? a.account < b.account
            ? -1
            : a.account > b.account
              ? 1
              : 0
          : a.amount < 0n
            ? -1
            : 1,
      );
    for (const leg of ordered) {
      const rows = await this.c.query(sql`
        UPDATE accounts SET balance = balance + ${leg.amount}
        WHERE account_id = ${leg.account} AND (kind = 'mint' OR balance + ${leg.amount} >= 0)
        RETURNING account_id`);
      if (rows.length !== 1) return false;
      await this.c.query(
        sql`INSERT INTO postings (event_id, account_id, amount, memo, created_at) VALUES (${eventId}, ${leg.account}, ${leg.amount}, ${memo}, ${now})`,
      );
    }
    return true;
  }

  /**
   * Applies many balanced events at once (a group commit's payouts): each event must sum to zero;
   * the legs are netted per account, the accounts locked (debits first, then account order, as
   * `post` does), every balance moved by one UPDATE with the same debit guard, and every leg
   * recorded as a posting by one INSERT. Returns false (the caller must abort its transaction)
   * when a non-mint account lacks the funds.
   */
  async postMany(
    events: readonly { eventId: string; legs: readonly Leg[]; memo: string }[],
    now: number,
  ): Promise<boolean> {
    const net = new Map<string, bigint>();
    const postings: { ord: number; event_id: string; account_id: string; amount: string; memo: string }[] = [];
    for (const e of events) {
      const sum = e.legs.reduce((a, l) => a + l.amount, 0n);
      if (sum !== 0n) throw new Error(`posting ${e.eventId} is unbalanced by ${sum}`);
      const ordered = [...e.legs]
        .filter((l) => l.amount !== 0n)
        .sort((a, b) =>
          a.amount < 0n === b.amount < 0n
            ? a.account < b.account
              ? -1
              : a.account > b.account
                ? 1
                : 0
            : a.amount < 0n
              ? -1
              : 1,
        );
      for (const l of ordered) {
        net.set(l.account, (net.get(l.account) ?? 0n) + l.amount);
        postings.push({
          ord: postings.length,
          event_id: e.eventId,
          account_id: l.account,
          amount: l.amount.toString(),
          memo: e.memo,
        });
      }
    }
    if (postings.length === 0) return true;
    const moves = JSON.stringify([...net].map(([account_id, amount]) => ({ account_id, amount: amount.toString() })));
    await this.c.query(sql`
      SELECT a.account_id FROM accounts a JOIN jsonb_to_recordset(${moves}::jsonb) AS v(account_id text, amount bigint) ON v.account_id = a.account_id
      ORDER BY v.amount < 0 DESC, a.account_id FOR UPDATE OF a`);
    const [r] = await this.c.query<{ n: bigint }>(sql`
      WITH moved AS (
        UPDATE accounts a SET balance = a.balance + v.amount
        FROM jsonb_to_recordset(${moves}::jsonb) AS v(account_id text, amount bigint)
        WHERE a.account_id = v.account_id AND v.amount <> 0 AND (a.kind = 'mint' OR a.balance + v.amount >= 0)
        RETURNING a.account_id),
      posted AS (
        INSERT INTO postings (event_id, account_id, amount, memo, created_at)
        SELECT event_id, account_id, amount, memo, ${now}::bigint
        FROM jsonb_to_recordset(${JSON.stringify(postings)}::jsonb) AS x(ord integer, event_id text, account_id text, amount bigint, memo text)
        ORDER BY ord RETURNING 1)
      SELECT count(*)::bigint AS n FROM moved`);
    return Number(r?.n ?? 0n) === [...net.values()].filter((v) => v !== 0n).length;
  }

  /** Creates the accounts that do not exist yet (one statement). */
  async ensureMany(accountIds: readonly string[], kind: AccountKind): Promise<void> {
    if (accountIds.length === 0) return;
    await this.c.query(sql`
      INSERT INTO accounts (account_id, kind) SELECT id, ${kind}::text FROM jsonb_array_elements_text(${JSON.stringify([...new Set(accountIds)])}::jsonb) AS id
      ON CONFLICT (account_id) DO NOTHING`);
  }

  /** Sum of every balance except mint's negative: equals minus mint when books balance. */
  async totals(): Promise<{ account: string; balance: bigint }[]> {
    return (
      await this.c.query<{ account_id: string; balance: bigint }>(
        sql`SELECT account_id, balance FROM accounts ORDER BY account_id`,
      )
    ).map((r) => ({ account: r.account_id, balance: r.balance }));
  }
}
