import { TesseraError } from '../../../core/errors.js';
import { MAX_CREDITS, MIN_BALANCE } from '../../../core/ledger/credits.js';
import { noFaults, type Faults } from '../../services/faults.js';
import type { Database } from '../database.js';
import { sql } from '../sql.js';
import { insertRows } from './sql-rows.js';

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
  /** `faults` is called after every statement a posting writes (fault-injection tests). */
  constructor(
    private readonly db: Database,
    private readonly faults: Faults = noFaults,
  ) {}

  balance(account: string): bigint {
    return this.db.get<{ balance: bigint }>(sql`SELECT balance FROM accounts WHERE id = ${account}`)?.balance ?? 0n;
  }

  balances(): AccountBalance[] {
    return this.db
      .all<{ id: string; balance: bigint }>(sql`SELECT id, balance FROM accounts ORDER BY id`)
      .map((r) => ({ account: r.id, balance: r.balance }));
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
    return Number(
      this.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM postings WHERE event_id = ${eventId}`)?.n ?? 0n,
    );
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
      if (r.balance !== r.posted)
        problems.push(`account ${r.id} balance ${r.balance} differs from its postings ${r.posted}`);
    }
    // Summed in bigint here: SQLite's sum() overflows past 2^63 across many accounts.
    let total = 0n;
    for (const r of this.db.iterate<{ balance: bigint }>(sql`SELECT balance FROM accounts`)) total += r.balance;
    let minted = 0n;
    let burned = 0n;
    for (const r of this.db.iterate<{ kind: PostingKind; amount: bigint }>(
      sql`SELECT kind, amount FROM postings WHERE kind != 'transfer'`,
    )) {
      if (r.kind === 'mint') minted += r.amount;
      else burned -= r.amount;
    }
    if (total !== minted - burned)
      problems.push(`total balance ${total} differs from minted ${minted} − burned ${burned}`);
    return { ok: problems.length === 0, total, minted, burned, problems };
  }

  /** True if adding `amount` keeps the account's balance within range. */
  fits(account: string, amount: bigint): boolean {
    return inLedgerRange(this.balance(account) + amount);
  }

  /**
   * Starts a batch of postings held in memory (see LedgerBatch). Inside a transaction; nothing
   * else may post to the ledger until the batch is flushed.
   */
  batch(): LedgerBatch {
    return new LedgerBatch(this.db, this.faults, (account) => this.balance(account));
  }

  private post(eventId: string, account: string, amount: bigint, kind: PostingKind, memo: string, now: number): void {
    if (!this.fits(account, amount)) throw new LedgerOverflowError(account);
    this.db.run(sql`INSERT INTO accounts (id, balance) VALUES (${account}, ${amount})
      ON CONFLICT(id) DO UPDATE SET balance = balance + excluded.balance`);
    this.faults('ledger.balance-updated');
    this.db.run(sql`INSERT INTO postings (event_id, account, amount, kind, memo, created_at)
      VALUES (${eventId}, ${account}, ${amount}, ${kind}, ${memo}, ${now})`);
    this.faults('ledger.posted');
  }
}

/** True if a balance lies in the range an account can hold (signed 64-bit). */
export function inLedgerRange(balance: bigint): boolean {
  return balance <= MAX_CREDITS && balance >= MIN_BALANCE;
}

/** A posting waiting to be written: event_id, account, amount, kind, memo, created_at. */
type PendingPosting = readonly [string, string, bigint, PostingKind, string, number];

/**
 * Postings of one batch (a `settlement apply` transaction), held in memory and written by
 * `flush()`: each account's balance is read once and written once, the postings go in
 * multi-row INSERTs, in the order they were made. `balance()` answers with the batch's
 * postings included, so checks made during the batch see what the batch has done. Every
 * posting is range-checked when it is made (LedgerOverflowError, nothing buffered); the
 * stored rows are exactly those LedgerRepo.transfer would have written one by one.
 */
export class LedgerBatch {
  private readonly accounts = new Map<string, { balance: bigint; touched: boolean }>();
  private postings: PendingPosting[] = [];

  constructor(
    private readonly db: Database,
    private readonly faults: Faults,
    private readonly stored: (account: string) => bigint,
  ) {}

  /** The account's balance with this batch's postings applied. */
  balance(account: string): bigint {
    return this.entry(account).balance;
  }

  transfer(eventId: string, from: string, to: string, amount: bigint, memo: string, now: number): void {
    if (amount < 0n) throw new Error('transfer amount must not be negative');
    if (from === to) throw new Error('transfer needs two different accounts');
    const debit = this.entry(from);
    const credit = this.entry(to);
    if (!inLedgerRange(debit.balance - amount)) throw new LedgerOverflowError(from);
    if (!inLedgerRange(credit.balance + amount)) throw new LedgerOverflowError(to);
    debit.balance -= amount;
    debit.touched = true;
    credit.balance += amount;
    credit.touched = true;
    this.postings.push([eventId, from, -amount, 'transfer', memo, now], [eventId, to, amount, 'transfer', memo, now]);
  }

  /** Writes the balances (first: postings reference their accounts), then the postings. */
  flush(): void {
    let wrote = false;
    for (const [account, a] of this.accounts) {
      if (!a.touched) continue;
      // The balance as a whole, not a delta: it was read in this transaction and only this batch changed it.
      this.db.run(sql`INSERT INTO accounts (id, balance) VALUES (${account}, ${a.balance})
        ON CONFLICT(id) DO UPDATE SET balance = excluded.balance`);
      a.touched = false;
      wrote = true;
    }
    if (wrote) this.faults('ledger.balance-updated');
    if (this.postings.length === 0) return;
    insertRows(
      (q) => this.db.run(q),
      sql`INSERT INTO postings (event_id, account, amount, kind, memo, created_at) VALUES`,
      6,
      this.postings,
    );
    this.postings = [];
    this.faults('ledger.posted');
  }

  private entry(account: string): { balance: bigint; touched: boolean } {
    let a = this.accounts.get(account);
    if (!a) {
      a = { balance: this.stored(account), touched: false };
      this.accounts.set(account, a);
    }
    return a;
  }
}
