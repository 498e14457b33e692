import { TesseraError } from '../../core/errors.js';

/** How long the node waits for the market's balance answer by default. */
export const MARKET_BALANCE_TIMEOUT_MS = 5_000;

export interface MarketBalanceOptions {
  timeoutMs?: number;
  /** The fetch to use (tests give one that fails or answers what they need). */
  fetch?: typeof fetch;
}

/** `GET {market}/balances/{address}`, keeping the market URL's path prefix and query (an access token). */
export function balanceUrl(marketUrl: string, address: string): string {
  let url: URL;
  try {
    url = new URL(marketUrl);
  } catch {
    throw new TesseraError(
      'BAD_MARKET_URL',
      `market URL "${marketUrl}" is not a valid URL (e.g. http://127.0.0.1:7070)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TesseraError('BAD_MARKET_URL', `market URL "${marketUrl}" must use http or https`);
  url.pathname = `${url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`}balances/${encodeURIComponent(address)}`;
  url.hash = '';
  return url.href;
}

/**
 * What the market says this node's worker account there holds (micro-CPC), from its public
 * balance endpoint (src/market/http/routes/courier.ts). Throws MARKET_UNREACHABLE with the
 * reason (refused, timed out, an HTTP error, an answer that is not a balance) in one line.
 */
export async function fetchMarketBalance(
  marketUrl: string,
  address: string,
  options: MarketBalanceOptions = {},
): Promise<bigint> {
  const href = balanceUrl(marketUrl, address);
  const timeoutMs = options.timeoutMs ?? MARKET_BALANCE_TIMEOUT_MS;
  const unreachable = (why: string, cause?: unknown) =>
    new TesseraError('MARKET_UNREACHABLE', `could not read this node's balance at the market (${href}): ${why}`, {
      ...(cause !== undefined ? { cause } : {}),
    });
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(href, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw unreachable(describeNetworkError(err, timeoutMs), err);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw unreachable(`HTTP ${res.status}, and the answer is not JSON`, err);
  }
  if (!res.ok) {
    const message = (body as { message?: unknown } | null)?.message;
    throw unreachable(`HTTP ${res.status}${typeof message === 'string' ? `: ${message.slice(0, 200)}` : ''}`);
  }
  const micro = (body as { balance_micro?: unknown } | null)?.balance_micro;
  if (typeof micro !== 'string' || !/^\d{1,20}$/.test(micro))
    throw unreachable('the answer has no balance_micro (is this a Tessera market?)');
  return BigInt(micro);
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
    // fetch reports "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is on its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message;
    return why ? `${err.message} (${why})` : err.message;
  }
  return String(err);
}
