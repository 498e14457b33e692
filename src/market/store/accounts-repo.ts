import { pipelined, type SqlConn } from './driver.js';
import { recordset, sql } from './sql.js';

export type AccountKind = 'customer' | 'escrow' | 'burn' | 'validator' | 'treasury' | 'worker' | 'mint' | 'bond';

/**
 * Account ids: fixed system accounts, and per customer (its funds, and its escrow: the rewards of
 * its open tasks) and per worker address. Escrow is per customer so that holding a task's reward
 * locks only rows of the customer who posts it (docs/market-api.md, "Accounts").
 */
export const ACCOUNTS = {
  /** The customer's escrow account: the sum of its held `escrows` rows. Created with the customer. */
  escrow: (customerId: string) => `escrow:${customerId}`,
  burn: 'burn',
  validator: 'validator',
  treasury: 'treasury',
  /** Source of funds deposited from outside the market (may go negative). */
  mint: 'mint',
  /**
   * The single escrow account of stores before migration 9, which moved its balance to the
   * customers' escrow accounts. It stays (postings reference it) and nothing posts to it again.
   */
  legacyEscrow: 'escrow',
  customer: (customerId: string) => `customer:${customerId}`,
  worker: (address: string) => `worker:${address}`,
  /**
   * A provider's funded bond (market migration 10): held back from its payouts or deposited from
   * its worker account; a failed check moves it to treasury (docs/verification.md).
   */
  bond: (address: string) => `bond:${address}`,
} as const;

/** One leg of a balanced posting: positive credits the account, negative debits it. */
export interface Leg {
  account: string;
  amount: bigint;
}

/** What `AccountsRepo.audit` found; every list is empty and `total` is 0 when the books are equal. */
export interface BooksAudit {
  /** Every balance summed: 0, since mint is the negative of everything else. */
  total: bigint;
  /** Posting events whose legs do not sum to 0 (at most 20). */
  unbalancedEvents: { eventId: string; sum: bigint }[];
  /** Accounts whose balance differs from the sum of their postings (at most 20). */
  drifted: { account: string; balance: bigint; postings: bigint }[];
  /** Customers whose escrow account differs from the sum of their held escrows, or who have none (at most 20). */
  escrowMismatch: { customerId: string; escrow: bigint | null; held: bigint }[];
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
   * Applies balanced legs (they must sum to zero) as one event: each leg moves its balance and
   * records its posting in one statement. Debits are guarded in the same statement
   * (`balance >= amount`), so two concurrent debits can never overdraw. Accounts are locked in
   * account id order — the one order every posting uses, so concurrent events never deadlock (a
   * hold and a refund of one customer both lock `customer:<id>` before `escrow:<id>`). Returns
   * false, having undone the legs it applied, when a non-mint account lacks the funds or does not
   * exist.
   */
  async post(eventId: string, legs: readonly Leg[], memo: string, now: number): Promise<boolean> {
    const sum = legs.reduce((a, l) => a + l.amount, 0n);
    if (sum !== 0n) throw new Error(`posting ${eventId} is unbalanced by ${sum}`);
    const applied: { leg: Leg; seq: bigint }[] = [];
    for (const leg of lockOrder(legs)) {
      const [row] = await this.c.query<{ seq: bigint }>(sql`
        WITH moved AS (
          UPDATE accounts SET balance = balance + ${leg.amount}
          WHERE account_id = ${leg.account} AND (kind = 'mint' OR balance + ${leg.amount} >= 0)
          RETURNING account_id)
        INSERT INTO postings (event_id, account_id, amount, memo, created_at)
        SELECT ${eventId}, account_id, ${leg.amount}::bigint, ${memo}, ${now}::bigint FROM moved
        RETURNING seq`);
      if (!row) {
        // Rare (a refused debit): undo what this event moved, so false means nothing changed.
        for (const a of applied.reverse()) {
          await this.c.query(
            sql`UPDATE accounts SET balance = balance - ${a.leg.amount} WHERE account_id = ${a.leg.account}`,
          );
          await this.c.query(sql`DELETE FROM postings WHERE seq = ${a.seq}`);
        }
        return false;
      }
      applied.push({ leg, seq: row.seq });
    }
    return true;
  }

  /**
   * Applies many balanced events at once (a group commit's payouts): each event must sum to zero;
   * the legs are netted per account, the accounts locked (in account id order, as `post` does),
   * every balance moved by one UPDATE with the same debit guard, and every leg recorded as a
   * posting by one INSERT. Returns false (the caller must abort its transaction)
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
      for (const l of lockOrder(e.legs)) {
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
    const moves = recordset(
      [...net].map(([account_id, amount]) => ({ account_id, amount })),
      sql`v(account_id text, amount bigint)`,
    );
    // The lock (in account id order) and the move leave in one write; the server runs them in turn.
    const [, [r]] = await pipelined(
      this.c,
      () =>
        this.c.query(sql`
      SELECT a.account_id FROM accounts a JOIN ${moves} AS v ON v.account_id = a.account_id
      ORDER BY a.account_id COLLATE "C" FOR UPDATE OF a`),
      () =>
        this.c.query<{ n: bigint }>(sql`
      WITH moved AS (
        UPDATE accounts a SET balance = a.balance + v.amount
        FROM ${moves} AS v
        WHERE a.account_id = v.account_id AND v.amount <> 0 AND (a.kind = 'mint' OR a.balance + v.amount >= 0)
        RETURNING a.account_id),
      posted AS (
        INSERT INTO postings (event_id, account_id, amount, memo, created_at)
        SELECT event_id, account_id, amount, memo, ${now}::bigint
        FROM jsonb_to_recordset(${JSON.stringify(postings)}::jsonb) AS x(ord integer, event_id text, account_id text, amount bigint, memo text)
        ORDER BY ord RETURNING 1)
      SELECT count(*)::bigint AS n FROM moved`),
    );
    return Number(r?.n ?? 0n) === [...net.values()].filter((v) => v !== 0n).length;
  }

  /** Creates the accounts that do not exist yet (one statement). */
  async ensureMany(accountIds: readonly string[], kind: AccountKind): Promise<void> {
    if (accountIds.length === 0) return;
    await this.c.query(sql`
      INSERT INTO accounts (account_id, kind) SELECT id, ${kind}::text FROM jsonb_array_elements_text(${JSON.stringify([...new Set(accountIds)])}::jsonb) AS id
      ON CONFLICT (account_id) DO NOTHING`);
  }

  /**
   * What the market holds in escrow: the sum of every escrow account (the customers' and, on an
   * upgraded store, the legacy single one). 0 when no task is open.
   */
  async escrowTotal(): Promise<bigint> {
    const [r] = await this.c.query<{ total: bigint }>(
      sql`SELECT COALESCE(sum(balance), 0)::bigint AS total FROM accounts WHERE kind = 'escrow'`,
    );
    return r?.total ?? 0n;
  }

  /**
   * Checks the books (reads every account, posting and escrow: for tests and audits, not a hot
   * path): conservation, balanced events, balances equal to their postings, and each customer's
   * escrow equal to its held escrows.
   */
  async audit(): Promise<BooksAudit> {
    const [t] = await this.c.query<{ total: bigint }>(
      sql`SELECT COALESCE(sum(balance), 0)::bigint AS total FROM accounts`,
    );
    const unbalanced = await this.c.query<{ event_id: string; sum: bigint }>(sql`
      SELECT event_id, sum(amount)::bigint AS sum FROM postings GROUP BY event_id HAVING sum(amount) <> 0 ORDER BY event_id LIMIT 20`);
    const drifted = await this.c.query<{ account_id: string; balance: bigint; postings: bigint }>(sql`
      SELECT a.account_id, a.balance, COALESCE(p.total, 0)::bigint AS postings
      FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total FROM postings GROUP BY account_id) p USING (account_id)
      WHERE a.balance <> COALESCE(p.total, 0) ORDER BY a.account_id LIMIT 20`);
    const escrow = await this.c.query<{ customer_id: string; escrow: bigint | null; held: bigint }>(sql`
      SELECT c.customer_id, a.balance AS escrow, COALESCE(h.held, 0)::bigint AS held
      FROM customers c
      LEFT JOIN accounts a ON a.account_id = 'escrow:' || c.customer_id::text
      LEFT JOIN (SELECT customer_id, sum(amount) AS held FROM escrows WHERE status = 'held' GROUP BY customer_id) h USING (customer_id)
      WHERE a.balance IS NULL OR a.balance <> COALESCE(h.held, 0) ORDER BY c.customer_id LIMIT 20`);
    return {
      total: t?.total ?? 0n,
      unbalancedEvents: unbalanced.map((r) => ({ eventId: r.event_id, sum: r.sum })),
      drifted: drifted.map((r) => ({ account: r.account_id, balance: r.balance, postings: r.postings })),
      escrowMismatch: escrow.map((r) => ({ customerId: r.customer_id, escrow: r.escrow, held: r.held })),
    };
  }

  /** Every account's balance, in account id order (they sum to 0 when the books balance: mint is the negative of all the rest). */
  async totals(): Promise<{ account: string; balance: bigint }[]> {
    return (
      await this.c.query<{ account_id: string; balance: bigint }>(
        sql`SELECT account_id, balance FROM accounts ORDER BY account_id`,
      )
    ).map((r) => ({ account: r.account_id, balance: r.balance }));
  }
}

/** The non-zero legs in the one order every posting locks accounts in: by account id (byte order, as `COLLATE "C"`). */
function lockOrder(legs: readonly Leg[]): Leg[] {
  return legs
    .filter((l) => l.amount !== 0n)
    .sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
}
