import { expect } from 'vitest';
import type { BooksAudit } from '../../src/market/store/accounts-repo.js';
import type { MarketStore } from '../../src/market/store/market-store.js';

/** What the market holds in escrow, over every escrow account (0 once every task is paid or refunded). */
export function escrowTotal(m: { store: MarketStore } | MarketStore): Promise<bigint> {
  const store = 'store' in m ? m.store : m;
  return store.transaction((tx) => tx.accounts.escrowTotal());
}

/**
 * Asserts the books are equal: balances sum to 0 (to the micro-CPC), every posting event is
 * balanced, every balance equals its postings, and each customer's escrow account equals the sum
 * of its held escrows. Returns the audit for further checks.
 */
export async function expectBooksEqual(m: { store: MarketStore } | MarketStore): Promise<BooksAudit> {
  const store = 'store' in m ? m.store : m;
  const audit = await store.transaction((tx) => tx.accounts.audit());
  expect(audit).toEqual({ total: 0n, unbalancedEvents: [], drifted: [], escrowMismatch: [] });
  return audit;
}
