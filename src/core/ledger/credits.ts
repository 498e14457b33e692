/**
 * Credit amounts are integers held in SQLite INTEGER columns (signed 64-bit). These are the one
 * definition of that range; the ledger, receipts and the courier contract all import it.
 */

/** Largest balance or amount the ledger can hold: 2^63 − 1 credits. */
export const MAX_CREDITS = (1n << 63n) - 1n;

/** Smallest balance the ledger can hold: −2^63 credits (source accounts such as `market:courier` go negative). */
export const MIN_BALANCE = -(1n << 63n);
