import type { Clock } from '../../../src/core/clock.js';
import type { BondLedger, SlashReason } from '../../../src/core/pricing/sla.js';

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/**
 * An in-memory bond ledger: provider bonds and the pool slashed bonds go to. A slash moves
 * credits from one to the other in a single step, and refuses more than the bond holds.
 */
export class InMemoryBondLedger implements BondLedger {
  readonly bonds = new Map<string, bigint>();
  slashedPool = 0n;
  readonly events: { provider: string; amount: bigint; reason: SlashReason; ref: string }[] = [];

  constructor(bonds: Record<string, bigint> = {}) {
    for (const [p, b] of Object.entries(bonds)) this.bonds.set(p, b);
  }

  slash(provider: string, amount: bigint, reason: SlashReason, ref: string): boolean {
    const bond = this.bonds.get(provider);
    if (bond === undefined) throw new Error(`provider ${provider} has no bond`);
    if (amount < 0n || amount > bond) throw new Error(`cannot slash ${amount} from a bond of ${bond}`);
    this.bonds.set(provider, bond - amount);
    this.slashedPool += amount;
    this.events.push({ provider, amount, reason, ref });
    return true;
  }

  /** Every credit the ledger holds; a slash must not change it. */
  total(): bigint {
    let sum = this.slashedPool;
    for (const b of this.bonds.values()) sum += b;
    return sum;
  }
}
