import type { Clock } from '../../core/clock.js';
import type { SlashReason, BondLedger } from '../../core/pricing/sla.js';
import type { Database } from '../db/database.js';
import { CreditMovements } from './credit-movements.js';
import { systemClock } from '../../node/clock.js';

/** The ledger account holding a provider's bond. */
export function bondAccount(provider: string): string {
  return `bond:${provider}`;
}

export interface BondLedgerDeps {
  db: Database;
  /** The node's credit movements (settlement mode and the pending-movement rule); built here when absent. */
  credits?: CreditMovements;
  clock?: Clock;
}

/**
 * SQLite implementation of the admission BondLedger port. A slash burns exactly `amount`
 * from the provider's bond account (an explicit burn entry, so conservation still holds),
 * once per (job, provider): a repeated slash for the same job is a no-op. Slashes follow the
 * settlement rule: in dry-run the burn is recorded as a pending movement (the bond keeps its
 * credits) and is applied when settlement turns real. Deposits are exempt (the provider moves
 * its own credits into escrow) and post in any mode.
 */
export class SqliteBondLedger implements BondLedger {
  private readonly credits: CreditMovements;
  private readonly clock: Clock;

  constructor(private readonly deps: BondLedgerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.credits = deps.credits ?? new CreditMovements({ db: deps.db, clock: this.clock });
  }

  /** Deposits credits into a provider's bond (moved from the provider's own account), once per `ref`. */
  deposit(provider: string, amount: bigint, ref: string): void {
    if (amount <= 0n) throw new Error('bond deposit must be a positive number of credits');
    const ledger = this.credits.ledger;
    this.deps.db.transaction(() => {
      if (ledger.postingsFor(`bond:${ref}`) > 0) return;
      const have = ledger.balance(provider);
      if (have < amount) throw new Error(`provider ${provider} has ${have} credits, cannot bond ${amount}`);
      ledger.transfer(`bond:${ref}`, provider, bondAccount(provider), amount, 'bond deposit', this.clock.now());
    });
  }

  /** Returns true when the slash was applied or recorded as pending, false when this one was already known. */
  slash(provider: string, amount: bigint, reason: SlashReason, ref: string): boolean {
    if (amount <= 0n) return false;
    const event = `slash:${reason}:${ref}:${provider}`;
    return this.deps.db.transaction(() => {
      if (this.credits.known(event)) return false;
      const bond = this.credits.ledger.balance(bondAccount(provider));
      // Refused up front in every mode, so a bond too small to slash is reported (and retried) the same way.
      if (bond < amount) throw new Error(`bond of ${provider} holds ${bond} credits, cannot slash ${amount}`);
      const moved = this.credits.move({
        eventId: event,
        source: 'slash',
        ref,
        kind: 'burn',
        from: bondAccount(provider),
        amount,
        memo: `${reason} slash for job ${ref}`,
      });
      if (moved.status === 'refused') throw new Error(`bond of ${provider}: ${moved.detail}`);
      return true;
    });
  }
}
