import type { Database } from '../database.js';
import { sql } from '../sql.js';

export type PostingKind = 'transfer' | 'mint' | 'burn';

export interface AccountBalance {
  account: string;
  balance: bigint;
}

export interface ConservationReport {
  ok: boolean;
  /** Sum of all balances. */
  total: bigint;
  minted: bigint;
  burned: bigint;
  /** Human-readable descriptions of every violation found. */
  problems: string[];
}

/**
 * Double-entry credits ledger. Every transfer is a pair of postings (−amount, +amount) under
 * one event id; credits enter only by `mint` and leave only by `burn`. Methods must be called
 * inside a `db.transaction`, together with the write that justifies them.
 */
export class LedgerRepo {
  constructor(private readonly db: Database) {}

  balance(account: string): bigint {
    return this.db.get<{ balance: bigint }>(sql`SELECT balance FROM accounts WHERE id = ${account}`)?.balance ?? 0n;
  }

  balances(): AccountBalance[] {
    return this.db.all<{ id: string; balance: bigint }>(sql`SELECT id, balance FROM accounts ORDER BY id`).map((r) => ({ account: r.id, balance: r.balance }));
  }

  transfer(eventId: string, from: string, to: string, amount: bigint, memo: string, now: number): void {
    if (amount < 0n) throw new Error('transfer amount must not be negative');
    if (from === to) throw new Error('transfer needs two different accounts');
    this.post(eventId, from, -amount, 'transfer', memo, now);
    this.post(eventId, to, amount, 'transfer', memo, now);
  }

  mint(eventId: string, to: string, amount: bigint, memo: string, now: number): void {
    if (amount <= 0n) throw new Error('mint amount must be positive');
    this.post(eventId, to, amount, 'mint', memo, now);
  }

  burn(eventId: string, from: string, amount: bigint, memo: string, now: number): void {
    if (amount <= 0n) throw new Error('burn amount must be positive');
    this.post(eventId, from, -amount, 'burn', memo, now);
  }

  /** Number of postings recorded under an event (2 for an applied transfer, 0 if never applied). */
  postingsFor(eventId: string): number {
    return Number(this.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM postings WHERE event_id = ${eventId}`)?.n ?? 0n);
  }

  /** Proves conservation: transfers net to zero per event, balances equal their postings, total = minted − burned. */
  checkConservation(): ConservationReport {
    const problems: string[] = [];
    for (const r of this.db.iterate<{ event_id: string; s: bigint }>(
      sql`SELECT event_id, sum(amount) AS s FROM postings WHERE kind = 'transfer' GROUP BY event_id HAVING sum(amount) != 0`,
    )) {
      problems.push(`transfer event ${r.event_id} does not net to zero (${r.s})`);
    }
    for (const r of this.db.iterate<{ id: string; balance: bigint; posted: bigint }>(
      sql`SELECT a.id, a.balance, coalesce((SELECT sum(amount) FROM postings p WHERE p.account = a.id), 0) AS posted FROM accounts a`,
    )) {
      if (r.balance !== r.posted) problems.push(`account ${r.id} balance ${r.balance} differs from its postings ${r.posted}`);
    }
    const total = this.db.get<{ t: bigint | null }>(sql`SELECT sum(balance) AS t FROM accounts`)?.t ?? 0n;
    const minted = this.db.get<{ t: bigint | null }>(sql`SELECT sum(amount) AS t FROM postings WHERE kind = 'mint'`)?.t ?? 0n;
    const burned = -(this.db.get<{ t: bigint | null }>(sql`SELECT sum(amount) AS t FROM postings WHERE kind = 'burn'`)?.t ?? 0n);
    if (total !== minted - burned) problems.push(`total balance ${total} differs from minted ${minted} − burned ${burned}`);
    return { ok: problems.length === 0, total, minted, burned, problems };
  }

  private post(eventId: string, account: string, amount: bigint, kind: PostingKind, memo: string, now: number): void {
    this.db.run(sql`INSERT INTO accounts (id, balance) VALUES (${account}, ${amount})
      ON CONFLICT(id) DO UPDATE SET balance = balance + excluded.balance`);
    this.db.run(sql`INSERT INTO postings (event_id, account, amount, kind, memo, created_at)
      VALUES (${eventId}, ${account}, ${amount}, ${kind}, ${memo}, ${now})`);
  }
}
