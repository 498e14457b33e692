import { TesseraError } from '../core/errors.js';

/**
 * Market URLs as users give them (`--market`, the market_url setting, the Join screen): the
 * one parser every host and the UI use, so a URL the UI accepts is one the node accepts.
 */

/** Most market URLs a node is given (`--market`, config) and most it learns from welcomes, each. */
export const MAX_MARKET_URLS = 16;

/**
 * The URL of a market's provider socket: http(s) becomes ws(s) and `/ws/provider` is appended.
 * `label` names where the URL came from in the one-line error (e.g. `--market`).
 */
export function providerSocketUrl(market: string, label = '--market'): string {
  let u: URL;
  try {
    u = new URL(market);
  } catch {
    throw new TesseraError(
      'BAD_MARKET_URL',
      `${label} "${market}" is not a URL; give the market's address, e.g. http://127.0.0.1:8080`,
    );
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    throw new TesseraError(
      'BAD_MARKET_URL',
      `${label} "${market}" must be an http://, https://, ws:// or wss:// URL, e.g. http://127.0.0.1:8080`,
    );
  if (!u.pathname.endsWith('/ws/provider')) u.pathname = `${u.pathname.replace(/\/$/, '')}/ws/provider`;
  return u.toString();
}

/**
 * The market URLs a node was given: each value may itself be a comma-separated list
 * (`--market A,B --market C`). Every URL is checked (http, https, ws or wss); the first bad one
 * throws a one-line BAD_MARKET_URL naming it. Duplicates are dropped; at most MAX_MARKET_URLS.
 */
export function parseMarketUrls(values: string | readonly string[], label = '--market'): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const value of typeof values === 'string' ? [values] : values) {
    const parts = value.split(',').map((p) => p.trim());
    for (const part of parts) {
      if (part === '')
        throw new TesseraError(
          'BAD_MARKET_URL',
          `${label} "${value}" has an empty entry; give market URLs separated by commas, e.g. http://a:8080,http://b:8080`,
        );
      const socket = providerSocketUrl(part, label);
      if (seen.has(socket)) continue;
      seen.add(socket);
      out.push(part);
    }
  }
  if (out.length === 0)
    throw new TesseraError('BAD_MARKET_URL', `${label} needs a market URL, e.g. http://127.0.0.1:8080`);
  if (out.length > MAX_MARKET_URLS)
    throw new TesseraError(
      'BAD_MARKET_URL',
      `${label} gives ${out.length} market URLs; at most ${MAX_MARKET_URLS} are allowed`,
    );
  return out;
}

/**
 * A market setting or join target — one URL, or a list of the instances of one market — as
 * it is stored: a string for one instance (what older versions read), an array for several.
 */
export function marketUrlValue(urls: readonly string[]): string | string[] {
  return urls.length === 1 ? (urls[0] as string) : [...urls];
}
