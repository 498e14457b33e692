import type { SlashReason, BondLedger } from '../../core/pricing/sla.js';
import type { Database } from '../db/database.js';
import { LedgerRepo } from '../db/repos/ledger-repo.js';

/** The ledger account holding a provider's bond. */
export function bondAccount(provider: string): string {
  return `bond:${provider}`;
}

/**
 * SQLite implementation of the admission BondLedger port. A slash burns exactly `amount`
 * from the provider's bond account (an explicit burn entry, so conservation still holds),
 * once per (job, provider): a repeated slash for the same job is a no-op.
 */
export class SqliteBondLedger implements BondLedger {
  private readonly ledger: LedgerRepo;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.ledger = new LedgerRepo(db);
  }

  /** Deposits credits into a provider's bond (moved from the provider's own account), once per `ref`. */
  deposit(provider: string, amount: bigint, ref: string): void {
    if (amount <= 0n) throw new Error('bond deposit must be a positive number of credits');
    this.db.transaction(() => {
      if (this.ledger.postingsFor(`bond:${ref}`) > 0) return;
      const have = this.ledger.balance(provider);
      if (have < amount) throw new Error(`provider ${provider} has ${have} credits, cannot bond ${amount}`);
      this.ledger.transfer(`bond:${ref}`, provider, bondAccount(provider), amount, 'bond deposit', this.now());
    });
  }

  slash(provider: string, amount: bigint, reason: SlashReason, ref: string): boolean {
    if (amount <= 0n) return false;
    const event = `slash:${reason}:${ref}:${provider}`;
    return this.db.transaction(() => {
      if (this.ledger.postingsFor(event) > 0) return false;
      const bond = this.ledger.balance(bondAccount(provider));
      if (bond < amount) throw new Error(`bond of ${provider} holds ${bond} credits, cannot slash ${amount}`);
      this.ledger.burn(event, bondAccount(provider), amount, `${reason} slash for job ${ref}`, this.now());
      return true;
    });
  }
}
