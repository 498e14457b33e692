import type { Clock } from '../clock.js';

/**
 * Moving-window capacity estimate: the sum, over providers heard from in the last
 * `windowMs`, of the shards each reported most recently. A provider that has not
 * reported within the window no longer counts.
 */
export class CapacityEstimator {
  // Map order is report order (an entry is re-inserted on every report), so stale
  // providers are always at the front and pruning stops at the first fresh one.
  private readonly reports = new Map<string, { shards: number; at: number }>();
  private total = 0;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly windowMs: number,
    private readonly clock: Clock,
  ) {
    if (!(windowMs > 0)) throw new RangeError(`capacity window must be positive, got ${windowMs}`);
  }

  /** Records that `provider` currently offers `shards` shards. */
  report(provider: string, shards: number): void {
    if (!Number.isSafeInteger(shards) || shards < 0)
      throw new RangeError(`shards must be a non-negative integer, got ${shards}`);
    const prev = this.reports.get(provider);
    if (prev) {
      this.total -= prev.shards;
      this.reports.delete(provider);
    }
    // Report times never decrease, even if the clock steps backwards, so Map order stays time order.
    this.lastAt = Math.max(this.clock.now(), this.lastAt);
    this.reports.set(provider, { shards, at: this.lastAt });
    this.total += shards;
  }

  /** Forgets a provider (it left the market). */
  remove(provider: string): void {
    const prev = this.reports.get(provider);
    if (!prev) return;
    this.total -= prev.shards;
    this.reports.delete(provider);
  }

  /** Shards offered by providers seen within the window. */
  capacity(): number {
    this.prune();
    return this.total;
  }

  /** Providers seen within the window. */
  providers(): number {
    this.prune();
    return this.reports.size;
  }

  private prune(): void {
    const cutoff = this.clock.now() - this.windowMs;
    for (const [provider, r] of this.reports) {
      if (r.at > cutoff) break;
      this.total -= r.shards;
      this.reports.delete(provider);
    }
  }
}
