import type { Database } from '../database.js';
import { sql } from '../sql.js';

/** A market's receipt key as this node pinned it (migration 7). */
export interface PinnedMarketKey {
  marketId: string;
  /** hex raw Ed25519 public key (64 characters). */
  publicKey: string;
  /** True for the embedded practice market: its credits are practice, not money. */
  practice: boolean;
  pinnedAt: number;
  seenAt: number;
}

/** What `pin` found: a first pin, the same key again, or a different key (nothing changed). */
export type PinOutcome =
  { status: 'pinned' | 'same'; key: PinnedMarketKey } | { status: 'changed'; key: PinnedMarketKey; offered: string };

type Row = {
  market_id: string;
  public_key: string;
  practice: number | bigint;
  pinned_at: number | bigint;
  seen_at: number | bigint;
};

const toKey = (r: Row): PinnedMarketKey => ({
  marketId: r.market_id,
  publicKey: r.public_key,
  practice: Number(r.practice) === 1,
  pinnedAt: Number(r.pinned_at),
  seenAt: Number(r.seen_at),
});

/** Market keys pinned per market id, SSH host-key style: the first key seen is kept until forgotten. */
export class MarketKeyRepo {
  constructor(private readonly db: Database) {}

  get(marketId: string): PinnedMarketKey | undefined {
    const r = this.db.get<Row>(sql`SELECT * FROM market_keys WHERE market_id = ${marketId}`);
    return r ? toKey(r) : undefined;
  }

  list(): PinnedMarketKey[] {
    return this.db.all<Row>(sql`SELECT * FROM market_keys ORDER BY market_id`).map(toKey);
  }

  /**
   * Pins `publicKey` for `marketId` if none is pinned; the same key again refreshes seen_at and
   * the practice flag; a different key changes nothing and is reported.
   */
  pin(marketId: string, publicKey: string, practice: boolean, now: number): PinOutcome {
    return this.db.transaction(() => {
      const had = this.get(marketId);
      if (had && had.publicKey !== publicKey) return { status: 'changed', key: had, offered: publicKey };
      if (had) {
        this.db.run(
          sql`UPDATE market_keys SET seen_at = ${now}, practice = ${practice ? 1 : 0} WHERE market_id = ${marketId}`,
        );
        return { status: 'same', key: { ...had, seenAt: now, practice } };
      }
      this.db.run(sql`INSERT INTO market_keys (market_id, public_key, practice, pinned_at, seen_at)
        VALUES (${marketId}, ${publicKey}, ${practice ? 1 : 0}, ${now}, ${now})`);
      return {
        status: 'pinned',
        key: { marketId, publicKey, practice, pinnedAt: now, seenAt: now },
      };
    });
  }

  /** Forgets a market's key (the next welcome pins the key it announces); false when none was pinned. */
  forget(marketId: string): boolean {
    return this.db.run(sql`DELETE FROM market_keys WHERE market_id = ${marketId}`) === 1;
  }

  /** True when `marketId` is pinned as the practice market. */
  isPractice(marketId: string): boolean {
    return this.get(marketId)?.practice ?? false;
  }
}
