import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { MAX_MARKET_URLS, parseMarketUrls, providerSocketUrl } from '../../shared/market-urls.js';

export { MAX_MARKET_URLS, parseMarketUrls, providerSocketUrl };

/** Reconnect delays: capped exponential backoff with jitter. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 30_000 };

/**
 * Full-jitter backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * delay = random() × min(cap, base × 2^attempt), attempt counting from 0.
 */
export function fullJitterDelay(attempt: number, o: BackoffOptions, random: () => number): number {
  return Math.floor(random() * backoffCeiling(attempt, o));
}

/**
 * Equal-jitter backoff (same article): half the ceiling plus a random share of the other half,
 * so a failed endpoint always rests at least half its ceiling.
 */
export function equalJitterDelay(attempt: number, o: BackoffOptions, random: () => number): number {
  const ceiling = backoffCeiling(attempt, o);
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

function backoffCeiling(attempt: number, o: BackoffOptions): number {
  return Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
}

/** Resolves a host name to all its addresses (default: `dns.promises.lookup(host, { all: true })`). */
export type HostResolver = (host: string) => Promise<readonly { address: string; family: number }[]>;

export const systemResolver: HostResolver = (host) => lookup(host, { all: true });

/** One place the node may connect to: a market URL, pinned to one address when its host name has several. */
export interface MarketEndpoint {
  /** The URL as configured or learned (what status shows). */
  readonly url: string;
  /** The provider socket URL (its host name stays in it: the Host header and TLS name are the URL's). */
  readonly socketUrl: string;
  /** The address connected to, when the host is a DNS name; null: an IP literal, localhost, or a name that did not resolve. */
  readonly address: string | null;
  readonly family: 4 | 6 | null;
  /** Given by the user (`--market`, config) or learned from a market's welcome (`instances`). */
  readonly source: 'configured' | 'learned';
  /** Identifies the endpoint across re-resolutions: socket URL plus address. */
  readonly key: string;
}

/** How an endpoint reads in status and logs: the URL, and the address when it is pinned to one. */
export function describeEndpoint(e: Pick<MarketEndpoint, 'url' | 'address'>): string {
  return e.address === null ? e.url : `${e.url} (${e.address})`;
}

export interface MarketEndpointsOptions {
  /** The configured URLs, in order (already checked by parseMarketUrls or checked here). */
  urls: readonly string[];
  backoff?: BackoffOptions;
  /** Uniform in [0, 1); seeded in tests. */
  random?: () => number;
  resolve?: HostResolver;
  /** Told when a resolution failed (the URL stays one endpoint, connected by name). */
  onResolveError?: (host: string, err: unknown) => void;
}

/** What to connect to next, and after how long. */
export interface EndpointChoice {
  endpoint: MarketEndpoint;
  delayMs: number;
}

/**
 * The endpoints a market client may use and the rules for choosing among them: the configured
 * URLs first, then those learned from welcomes; a DNS name stands for each of its addresses
 * (resolved at every choice, so a changed record is seen). After a failure the client moves on
 * to the next endpoint in order after a short random pause (so the providers of a lost instance
 * do not all arrive at once), and an endpoint that failed rests — equal-jitter backoff, doubling
 * with each failure in a row, capped — before it is tried again. When every endpoint rests, the
 * one whose rest ends first is next.
 */
export class MarketEndpoints {
  private readonly configured: { url: string; socketUrl: string }[];
  private learnedUrls: { url: string; socketUrl: string }[] = [];
  private readonly rest = new Map<string, { failures: number; until: number }>();
  private lastKey: string | undefined;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly resolve: HostResolver;

  constructor(private readonly o: MarketEndpointsOptions) {
    this.configured = parseMarketUrls(o.urls).map((url) => ({ url, socketUrl: providerSocketUrl(url) }));
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
    this.random = o.random ?? Math.random;
    this.resolve = o.resolve ?? systemResolver;
  }

  /** The configured URLs, in order. */
  get configuredUrls(): string[] {
    return this.configured.map((c) => c.url);
  }

  /** The URLs learned from the latest welcome that named other instances. */
  get learned(): string[] {
    return this.learnedUrls.map((c) => c.url);
  }

  /**
   * Takes the instances a welcome named as the learned URLs (replacing the earlier ones): each
   * must be an http, https, ws or wss URL; one already configured is skipped; at most
   * MAX_MARKET_URLS are kept. Returns the URLs refused, with why, for the log.
   */
  learn(urls: readonly string[]): { url: string; why: string }[] {
    const refused: { url: string; why: string }[] = [];
    const seen = new Set(this.configured.map((c) => c.socketUrl));
    const next: { url: string; socketUrl: string }[] = [];
    for (const url of urls) {
      let socketUrl: string;
      try {
        socketUrl = providerSocketUrl(url, 'instance URL');
      } catch (err) {
        refused.push({ url, why: err instanceof Error ? err.message : String(err) });
        continue;
      }
      if (seen.has(socketUrl)) continue;
      if (next.length >= MAX_MARKET_URLS) {
        refused.push({ url, why: `more than ${MAX_MARKET_URLS} instance URLs; the rest are not used` });
        continue;
      }
      seen.add(socketUrl);
      next.push({ url, socketUrl });
    }
    this.learnedUrls = next;
    return refused;
  }

  /** Forgets a learned URL (its endpoint turned out to serve another market). */
  forget(url: string): void {
    this.learnedUrls = this.learnedUrls.filter((l) => l.url !== url);
  }

  /** Every endpoint now, in order: configured URLs, then learned ones, each name expanded to its addresses. */
  async list(): Promise<MarketEndpoint[]> {
    const expanded = await Promise.all(this.urls().map((c) => this.expand(c)));
    return dedupe(expanded.flat());
  }

  /**
   * The endpoint to connect to next and the pause before it: the first one after the endpoint
   * used last that is not resting (after a random pause below the backoff base, none when
   * `first`), else the one whose rest ends first (when it ends). Host names are resolved now.
   */
  async choose(now: number, first = false): Promise<EndpointChoice> {
    return this.chooseFrom(await this.list(), now, first);
  }

  /** `choose` without waiting, when no URL has a host name to resolve (IP literals, localhost); else undefined. */
  chooseNow(now: number, first = false): EndpointChoice | undefined {
    const urls = this.urls();
    if (urls.some((c) => needsLookup(c.socketUrl))) return undefined;
    return this.chooseFrom(dedupe(urls.map((c) => unresolved(c))), now, first);
  }

  private urls(): { url: string; socketUrl: string; source: 'configured' | 'learned' }[] {
    return [
      ...this.configured.map((c) => ({ ...c, source: 'configured' as const })),
      ...this.learnedUrls.map((c) => ({ ...c, source: 'learned' as const })),
    ];
  }

  private chooseFrom(list: MarketEndpoint[], now: number, first: boolean): EndpointChoice {
    const at = this.lastKey === undefined ? -1 : list.findIndex((e) => e.key === this.lastKey);
    const start = at + 1;
    let best: { endpoint: MarketEndpoint; until: number } | undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[(start + i) % list.length] as MarketEndpoint;
      const until = this.rest.get(e.key)?.until ?? 0;
      if (until <= now) {
        this.lastKey = e.key;
        return { endpoint: e, delayMs: first ? 0 : Math.floor(this.random() * this.backoff.baseMs) };
      }
      if (!best || until < best.until) best = { endpoint: e, until };
    }
    const chosen = best as { endpoint: MarketEndpoint; until: number };
    this.lastKey = chosen.endpoint.key;
    return { endpoint: chosen.endpoint, delayMs: chosen.until - now };
  }

  /** The endpoint's connection failed or dropped at `now`: it rests before it is tried again. */
  failed(e: MarketEndpoint, now: number): void {
    const failures = (this.rest.get(e.key)?.failures ?? 0) + 1;
    this.rest.set(e.key, { failures, until: now + equalJitterDelay(failures - 1, this.backoff, this.random) });
  }

  /** The market welcomed the node at this endpoint: its failures are forgotten. */
  succeeded(e: MarketEndpoint): void {
    this.rest.delete(e.key);
  }

  /** When a failed endpoint may be tried again (ms since the epoch); undefined while it is not resting. */
  restsUntil(e: MarketEndpoint): number | undefined {
    return this.rest.get(e.key)?.until;
  }

  private async expand(c: {
    url: string;
    socketUrl: string;
    source: 'configured' | 'learned';
  }): Promise<MarketEndpoint[]> {
    if (!needsLookup(c.socketUrl)) return [unresolved(c)];
    const host = hostOf(c.socketUrl);
    let addresses: readonly { address: string; family: number }[];
    try {
      addresses = await this.resolve(host);
    } catch (err) {
      this.o.onResolveError?.(host, err);
      return [unresolved(c)];
    }
    if (addresses.length === 0) return [unresolved(c)];
    return addresses.map((a) => ({
      ...c,
      address: a.address,
      family: a.family === 6 ? 6 : 4,
      key: `${c.socketUrl}|${a.address}`,
    }));
  }
}

function hostOf(socketUrl: string): string {
  return new URL(socketUrl).hostname.replace(/^\[(.*)\]$/, '$1');
}

/** True when the URL's host is a DNS name (not an IP literal, not localhost): it may stand for several addresses. */
function needsLookup(socketUrl: string): boolean {
  const host = hostOf(socketUrl);
  return isIP(host) === 0 && host !== 'localhost' && !host.endsWith('.localhost');
}

function unresolved(c: { url: string; socketUrl: string; source: 'configured' | 'learned' }): MarketEndpoint {
  return { ...c, address: null, family: null, key: c.socketUrl };
}

function dedupe(list: MarketEndpoint[]): MarketEndpoint[] {
  const keys = new Set<string>();
  return list.filter((e) => !keys.has(e.key) && keys.add(e.key));
}
