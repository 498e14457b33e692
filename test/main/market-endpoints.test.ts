import { describe, expect, it } from 'vitest';
import {
  MAX_MARKET_URLS,
  MarketEndpoints,
  parseMarketUrls,
  type HostResolver,
  type MarketEndpoint,
} from '../../src/main/services/market-endpoints.js';
import { seededRandom } from '../support/data.js';

/**
 * The endpoints a provider fails over among: the configured market URLs (each DNS name counted
 * once per address it resolves to), then the instances a welcome named; after a failure the
 * next endpoint after a short random pause, and a failed endpoint rests (doubling) before it is
 * tried again. Randomness is seeded; each test prints its seed.
 */
const SEED = 0x5eed19;
console.log(`market endpoints test seed ${SEED}`);

const BACKOFF = { baseMs: 100, capMs: 6_400 };

/** A resolver from a fixed table that counts its calls; an unknown name fails as ENOTFOUND would. */
function tableResolver(table: Record<string, string[]>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

const labels = (list: MarketEndpoint[]) => list.map((e) => (e.address ? `${e.url} @${e.address}` : e.url));

describe('market URLs given to a provider', () => {
  it('--market may be repeated and each value may list URLs separated by commas; duplicates are dropped', () => {
    expect(
      parseMarketUrls(['http://a.example:8080, http://b.example:8080', 'ws://10.0.0.3:9000', 'http://a.example:8080/']),
    ).toEqual(['http://a.example:8080', 'http://b.example:8080', 'ws://10.0.0.3:9000']);
    expect(parseMarketUrls('https://m.example')).toEqual(['https://m.example']);
  });

  it('a bad value is one line naming it', () => {
    const message = (v: string | string[]) => {
      try {
        parseMarketUrls(v, '--market');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(message(['http://a:1', 'ftp://files.example'])).toBe(
      '--market "ftp://files.example" must be an http://, https://, ws:// or wss:// URL, e.g. http://127.0.0.1:8080',
    );
    expect(message('http://a:1,not a url')).toBe(
      `--market "not a url" is not a URL; give the market's address, e.g. http://127.0.0.1:8080`,
    );
    expect(message('http://a:1,,http://b:1')).toMatch(/^--market "http:\/\/a:1,,http:\/\/b:1" has an empty entry/);
    const many = Array.from({ length: MAX_MARKET_URLS + 1 }, (_, i) => `http://10.0.0.${i + 1}:8080`);
    expect(message(many)).toBe(`--market gives ${MAX_MARKET_URLS + 1} market URLs; at most 16 are allowed`);
    for (const v of [['http://a:1', 'ftp://files.example'], 'http://a:1,not a url'])
      expect(message(v)).not.toContain('\n');
  });
});

describe('the endpoint list', () => {
  it('a DNS name stands for each of its addresses, resolved at every choice; an IP literal or localhost stays one', async () => {
    const resolve = tableResolver({ 'market.example': ['10.0.0.1', '10.0.0.2'] });
    const endpoints = new MarketEndpoints({
      urls: ['http://market.example:8080', 'http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost:8080'],
      resolve,
      random: seededRandom(SEED),
    });
    expect(labels(await endpoints.list())).toEqual([
      'http://market.example:8080 @10.0.0.1',
      'http://market.example:8080 @10.0.0.2',
      'http://127.0.0.1:8080',
      'http://[::1]:8080',
      'http://localhost:8080',
    ]);
    // Only the name was looked up; its socket URL keeps the name (the Host header and TLS name stay the market's).
    expect(resolve.calls).toEqual(['market.example']);
    const [first] = await endpoints.list();
    expect(first?.socketUrl).toBe('ws://market.example:8080/ws/provider');

    // Each choice resolves again: an address added to the record is used.
    const grown = tableResolver({ 'market.example': ['10.0.0.1', '10.0.0.2', '10.0.0.9'] });
    const again = new MarketEndpoints({ urls: ['http://market.example:8080'], resolve: grown });
    await again.choose(0, true);
    expect(grown.calls).toHaveLength(1);
    await again.choose(0);
    expect(grown.calls).toHaveLength(2);
  });

  it('a name that does not resolve stays one endpoint, connected by name (its error is then the connection error)', async () => {
    const failed: string[] = [];
    const endpoints = new MarketEndpoints({
      urls: ['http://gone.example:8080', 'http://10.0.0.5:8080'],
      resolve: tableResolver({}),
      onResolveError: (host) => failed.push(host),
    });
    expect(labels(await endpoints.list())).toEqual(['http://gone.example:8080', 'http://10.0.0.5:8080']);
    expect(failed).toEqual(['gone.example']);
  });

  it("a welcome's instances come after the configured URLs: checked, never twice, at most 16, replaced by the next welcome's", async () => {
    const endpoints = new MarketEndpoints({ urls: ['http://10.0.0.1:8080'] });
    const refused = endpoints.learn([
      'http://10.0.0.2:8080',
      'ws://10.0.0.1:8080/ws/provider', // the configured one, written as its socket
      'ftp://10.0.0.3',
      'javascript:alert(1)',
      'https://10.0.0.4',
      'http://10.0.0.2:8080',
    ]);
    expect(labels(await endpoints.list())).toEqual([
      'http://10.0.0.1:8080',
      'http://10.0.0.2:8080',
      'https://10.0.0.4',
    ]);
    expect(refused.map((r) => r.url)).toEqual(['ftp://10.0.0.3', 'javascript:alert(1)']);
    expect(refused[0]?.why).toMatch(/^instance URL "ftp:\/\/10.0.0.3" must be an http/);

    const flood = Array.from({ length: 40 }, (_, i) => `http://10.1.0.${i + 1}:8080`);
    expect(endpoints.learn(flood)).toHaveLength(40 - MAX_MARKET_URLS);
    expect(endpoints.learned).toHaveLength(MAX_MARKET_URLS);

    endpoints.learn(['http://10.0.0.7:8080']);
    expect(labels(await endpoints.list())).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.7:8080']);
  });
});

describe('failover', () => {
  it('after a failure the next endpoint is tried after a pause below the base; the failed one rests', async () => {
    const endpoints = new MarketEndpoints({
      urls: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080'],
      backoff: BACKOFF,
      random: seededRandom(SEED),
    });
    const a = await endpoints.choose(0, true);
    expect([a.endpoint.url, a.delayMs]).toEqual(['http://10.0.0.1:8080', 0]);
    endpoints.failed(a.endpoint, 1_000);
    const b = await endpoints.choose(1_000);
    expect(b.endpoint.url).toBe('http://10.0.0.2:8080');
    expect(b.delayMs).toBeGreaterThanOrEqual(0);
    expect(b.delayMs).toBeLessThan(BACKOFF.baseMs);
    // The first endpoint rests half to all of the base after its first failure.
    const rest = (endpoints.restsUntil(a.endpoint) as number) - 1_000;
    expect(rest).toBeGreaterThanOrEqual(BACKOFF.baseMs / 2);
    expect(rest).toBeLessThan(BACKOFF.baseMs);
    // A welcome clears an endpoint's failures.
    endpoints.succeeded(a.endpoint);
    expect(endpoints.restsUntil(a.endpoint)).toBeUndefined();
  });

  it('does not hammer a dead endpoint: over a simulated minute with every endpoint dead, each rests longer after each failure', async () => {
    const random = seededRandom(SEED + 1);
    const resolve = tableResolver({ 'market.example': ['10.0.0.1', '10.0.0.2'] });
    const endpoints = new MarketEndpoints({ urls: ['http://market.example:8080'], backoff: BACKOFF, random, resolve });
    const tries = new Map<string, number[]>();
    let now = 0;
    let choice = await endpoints.choose(now, true);
    while (now < 60_000) {
      now += choice.delayMs;
      const key = choice.endpoint.address as string;
      tries.set(key, [...(tries.get(key) ?? []), now]);
      endpoints.failed(choice.endpoint, now); // refused at once
      choice = await endpoints.choose(now);
    }
    expect([...tries.keys()].sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    for (const [address, times] of tries) {
      const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
      // Attempt k+1 comes at least half the k-th ceiling later: base/2, base, 2·base, … up to cap/2.
      gaps.forEach((gap, k) =>
        expect(gap, `${address} gap ${k}`).toBeGreaterThanOrEqual(Math.min(BACKOFF.capMs, BACKOFF.baseMs * 2 ** k) / 2),
      );
      // Without rests, a one-minute outage would be tried thousands of times; with them, a handful plus one per cap.
      expect(times.length, address).toBeLessThanOrEqual(7 + Math.ceil(60_000 / (BACKOFF.capMs / 2)));
    }
  });

  it('when every endpoint rests, the one whose rest ends first is next, at the end of its rest', async () => {
    const endpoints = new MarketEndpoints({
      urls: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'],
      backoff: BACKOFF,
      random: seededRandom(SEED + 2),
    });
    const [a, b] = await endpoints.list();
    endpoints.failed(a as MarketEndpoint, 0);
    endpoints.failed(a as MarketEndpoint, 0); // a has failed twice: it rests longer
    endpoints.failed(b as MarketEndpoint, 0);
    const next = await endpoints.choose(0);
    expect(next.endpoint.url).toBe('http://10.0.0.2:8080');
    expect(next.delayMs).toBe((endpoints.restsUntil(b as MarketEndpoint) as number) - 0);
  });
});
