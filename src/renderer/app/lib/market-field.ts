import { isTesseraError } from '../../../core/errors.js';
import { parseMarketUrls } from '../../../shared/market-urls.js';

/** How the market address field is named in the UI and in its errors. */
export const MARKET_FIELD_LABEL = 'Market address';

/** What the field says under it: one or several instances of one market, and the order they are tried in. */
export const MARKET_FIELD_HINT =
  'One or more instances of the same market, tried in order: one URL per line (commas also separate).';

export type MarketField = { urls: string[]; error: null } | { urls: null; error: string };

/**
 * The market address as typed: one URL per line, commas also separating, blank lines ignored.
 * Each URL goes through parseMarketUrls — the parser `--market` and the node use — so the first
 * bad one is a one-line error naming it. Empty text is no URLs (the caller says whether that is allowed).
 */
export function parseMarketField(text: string): MarketField {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length === 0) return { urls: [], error: null };
  try {
    return { urls: parseMarketUrls(lines, MARKET_FIELD_LABEL), error: null };
  } catch (err) {
    if (!isTesseraError(err)) throw err;
    return { urls: null, error: `${err.message}.` };
  }
}

/** A stored market address (one URL, or several instances) as the field shows it: one URL per line. */
export function marketFieldText(value: string | readonly string[] | null | undefined): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : value.join('\n');
}

/** Rows for the field's textarea: one per URL typed, at least 2, at most 6 (it scrolls beyond). */
export function marketFieldRows(text: string): number {
  return Math.min(6, Math.max(2, text.split(/\r?\n/).length));
}
