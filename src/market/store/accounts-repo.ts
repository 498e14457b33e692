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
    await this.c.query(sql`INSERT INTO accounts (account_id, kind) VALUES (${accountId}, ${kind}) ON CONFLICT (account_id) DO NOTHING`);
  }

  /** The balance, 0n for an account that does not exist. */
  async balance(accountId: string): Promise<bigint> {
    const [r] = await this.c.query<{ balance: bigint }>(sql`SELECT balance FROM accounts WHERE account_id = ${accountId}`);
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
    const ordered = [...legs].filter((l) => l.amount !== 0n).sort((a, b) => (a.amount < 0n) === (b.amount < 0n) ? (a.account < b.account ? -1 : a.account > b.account ? 1 : 0) : a.amount < 0n ? -1 : 1);
    for (const leg of ordered) {
      const rows = await this.c.query(sql`
        UPDATE accounts SET balance = balance + ${leg.amount}
        WHERE account_id = ${leg.account} AND (kind = 'mint' OR balance + ${leg.amount} >= 0)
        RETURNING account_id`);
      if (rows.length !== 1) return false;
      await this.c.query(sql`INSERT INTO postings (event_id, account_id, amount, memo, created_at) VALUES (${eventId}, ${leg.account}, ${leg.amount}, ${memo}, ${now})`);
    }
    return true;
  }

  /** Sum of every balance except mint's negative: equals minus mint when books balance. */
  async totals(): Promise<{ account: string; balance: bigint }[]> {
    return (await this.c.query<{ account_id: string; balance: bigint }>(sql`SELECT account_id, balance FROM accounts ORDER BY account_id`)).map((r) => ({ account: r.account_id, balance: r.balance }));
  }
}
