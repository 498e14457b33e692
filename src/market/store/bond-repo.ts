import { slashAmount } from '../../core/market/probation.js';
import { ACCOUNTS, AccountsRepo } from './accounts-repo.js';
import type { SqlConn } from './driver.js';
import { pgArray, recordset, sql } from './sql.js';

/** A provider's probation state: its checks and its funded bond (docs/verification.md). */
export interface ProbationRecord {
  checksPassed: number;
  checksFailed: number;
  /** Checks passed since the last failed one. */
  cleanStreak: number;
  /** Credits in `bond:<address>`, micro-CPC. */
  bondFunded: bigint;
}

/**
 * Funded bonds and check counts: each provider's bond is credits in its `bond:<address>` account
 * (held back from its payouts, or deposited from its worker account), and a failed check moves
 * the whole funded bond to treasury in a balanced posting.
 */
export class BondRepo {
  private readonly accounts: AccountsRepo;

  constructor(private readonly c: SqlConn) {
    this.accounts = new AccountsRepo(c);
  }

  /** The funded bond of each address (0 for one with no bond account), in one statement. */
  async funded(addresses: readonly string[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>(addresses.map((a) => [a, 0n]));
    if (addresses.length === 0) return out;
    const rows = await this.c.query<{ account_id: string; balance: bigint }>(sql`
      SELECT account_id, balance FROM accounts
      WHERE account_id = ANY(${pgArray(new Set(addresses.map((a) => `bond:${a}`)))}::text[])`);
    for (const r of rows) out.set(r.account_id.slice('bond:'.length), r.balance);
    return out;
  }

  /** A provider's checks and funded bond (zeros for an unknown provider). */
  async probation(address: string): Promise<ProbationRecord> {
    const [r] = await this.c.query<{ checks_passed: number; checks_failed: number; clean_streak: number }>(
      sql`SELECT checks_passed, checks_failed, clean_streak FROM providers WHERE address = ${address}`,
    );
    return {
      checksPassed: r?.checks_passed ?? 0,
      checksFailed: r?.checks_failed ?? 0,
      cleanStreak: r?.clean_streak ?? 0,
      bondFunded: (await this.funded([address])).get(address) ?? 0n,
    };
  }

  /** Counts passed checks (per address, how many), lengthening each clean streak; one statement. */
  async recordPassed(addresses: readonly string[], now: number): Promise<void> {
    if (addresses.length === 0) return;
    const counts = new Map<string, number>();
    for (const a of addresses) counts.set(a, (counts.get(a) ?? 0) + 1);
    const rows = [...counts].map(([address, n]) => ({ address, n }));
    await this.c.query(sql`
      UPDATE providers p SET checks_passed = p.checks_passed + v.n, clean_streak = p.clean_streak + v.n, updated_at = ${now}
      FROM ${recordset(rows, sql`v(address text, n integer)`)} AS v WHERE p.address = v.address`);
  }

  /**
   * Failed checks, in order: each counts a failure and ends the clean streak; the first of each
   * address takes its whole funded bond to treasury (later ones find it empty). One posting per
   * slashed job (`slash:<job_id>`). Returns what was slashed per item, in item order.
   */
  async slashFailed(items: readonly { address: string; jobId: string }[], now: number): Promise<bigint[]> {
    if (items.length === 0) return [];
    const funded = await this.funded(items.map((i) => i.address));
    const taken = items.map((i) => {
      const amount = slashAmount(funded.get(i.address) ?? 0n);
      funded.set(i.address, (funded.get(i.address) ?? 0n) - amount);
      return amount;
    });
    const events = items
      .map((i, k) => ({ i, amount: taken[k] as bigint }))
      .filter((e) => e.amount > 0n)
      .map(({ i, amount }) => ({
        eventId: `slash:${i.jobId}`,
        memo: 'bond slashed: failed check',
        legs: [
          { account: ACCOUNTS.bond(i.address), amount: -amount },
          { account: ACCOUNTS.treasury, amount },
        ],
      }));
    if (events.length > 0) {
      await this.accounts.ensure(ACCOUNTS.treasury, 'treasury');
      if (!(await this.accounts.postMany(events, now)))
        throw new Error(`bond accounts cannot cover the slashes of ${items.map((i) => i.address).join(', ')}`);
    }
    const counts = new Map<string, number>();
    for (const i of items) counts.set(i.address, (counts.get(i.address) ?? 0) + 1);
    const rows = [...counts].map(([address, n]) => ({ address, n }));
    await this.c.query(sql`
      UPDATE providers p SET checks_failed = p.checks_failed + v.n, clean_streak = 0, updated_at = ${now}
      FROM ${recordset(rows, sql`v(address text, n integer)`)} AS v WHERE p.address = v.address`);
    return taken;
  }

  /**
   * The funded bond of `address`, its account created and its row locked (FOR UPDATE) until the
   * transaction ends, so a deposit reads what it tops up. `bond:` sorts before `customer:` and
   * `worker:`, so locking it first keeps the one order every posting locks accounts in.
   */
  async lockFunded(address: string): Promise<bigint> {
    const account = ACCOUNTS.bond(address);
    await this.accounts.ensure(account, 'bond');
    const [r] = await this.c.query<{ balance: bigint }>(
      sql`SELECT balance FROM accounts WHERE account_id = ${account} FOR UPDATE`,
    );
    return r?.balance ?? 0n;
  }

  /**
   * A customer's deposit into a provider's bond (POST /bonds/{address}/deposits): moves `amount`
   * from `customer:<customerId>` into `bond:<address>`, event `eventId`, memo `bond deposit`. False
   * (nothing moved) when the customer's balance lacks the credits.
   */
  async depositFromCustomer(
    customerId: string,
    address: string,
    amount: bigint,
    eventId: string,
    now: number,
  ): Promise<boolean> {
    if (amount <= 0n) throw new RangeError('a bond deposit must be above 0 micro-CPC');
    await this.accounts.ensure(ACCOUNTS.bond(address), 'bond');
    return this.accounts.post(
      eventId,
      [
        { account: ACCOUNTS.customer(customerId), amount: -amount },
        { account: ACCOUNTS.bond(address), amount },
      ],
      'bond deposit',
      now,
    );
  }

  /**
   * A deposit: moves `amount` from the provider's worker account into its bond. False (nothing
   * moved) when the worker account lacks the credits. `eventId` makes a retried deposit visible
   * in the postings.
   */
  async deposit(address: string, amount: bigint, eventId: string, now: number): Promise<boolean> {
    if (amount <= 0n) throw new RangeError('a bond deposit must be above 0 micro-CPC');
    await this.accounts.ensure(ACCOUNTS.bond(address), 'bond');
    return this.accounts.post(
      eventId,
      [
        { account: ACCOUNTS.worker(address), amount: -amount },
        { account: ACCOUNTS.bond(address), amount },
      ],
      'bond deposit',
      now,
    );
  }
}
