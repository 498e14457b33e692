import { TesseraError } from '../../../core/errors.js';
import type { Database } from '../database.js';
import { sql } from '../sql.js';

/** Balances are signed 64-bit integers in SQLite. */
const MAX_BALANCE = (1n << 63n) - 1n;
const MIN_BALANCE = -(1n << 63n);

/** A posting would take a balance outside the signed 64-bit range. */
export class LedgerOverflowError extends TesseraError {
  constructor(account: string) {
    super('LEDGER_OVERFLOW', `the balance of ${account} would leave the range the ledger can hold (±2^63 credits)`);
    this.name = 'LedgerOverflowError';
  }
}

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
      // Per account, every intermediate balance was within range, so this sum cannot overflow.
      if (r.balance !== r.posted) problems.push(`account ${r.id} balance ${r.balance} differs from its postings ${r.posted}`);
    }
    // Summed in bigint here: SQLite's sum() overflows past 2^63 across many accounts.
    let total = 0n;
    for (const r of this.db.iterate<{ balance: bigint }>(sql`SELECT balance FROM accounts`)) total += r.balance;
    let minted = 0n;
    let burned = 0n;
    for (const r of this.db.iterate<{ kind: PostingKind; amount: bigint }>(sql`SELECT kind, amount FROM postings WHERE kind != 'transfer'`)) {
      if (r.kind === 'mint') minted += r.amount;
      else burned -= r.amount;
    }
    if (total !== minted - burned) problems.push(`total balance ${total} differs from minted ${minted} − burned ${burned}`);
    return { ok: problems.length === 0, total, minted, burned, problems };
  }

  /** True if adding `amount` keeps the account's balance within range. */
  fits(account: string, amount: bigint): boolean {
    const next = this.balance(account) + amount;
    return next <= MAX_BALANCE && next >= MIN_BALANCE;
  }

  private post(eventId: string, account: string, amount: bigint, kind: PostingKind, memo: string, now: number): void {
    if (!this.fits(account, amount)) throw new LedgerOverflowError(account);
    this.db.run(sql`INSERT INTO accounts (id, balance) VALUES (${account}, ${amount})
      ON CONFLICT(id) DO UPDATE SET balance = balance + excluded.balance`);
    this.db.run(sql`INSERT INTO postings (event_id, account, amount, kind, memo, created_at)
      VALUES (${eventId}, ${account}, ${amount}, ${kind}, ${memo}, ${now})`);
  }
}
