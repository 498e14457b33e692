import { describe, expect, it } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import type { AppProvider } from '../../../src/main/api/app-service.js';
import { DEFAULT_SETTINGS, dispatchContractCall, type DiagnosticCheck } from '../../../src/shared/contract.js';
import { providerStatus } from '../../support/provider-status.js';
import { testAppNode } from './fixtures.js';

/**
 * A market given as several instances (the Settings and Join screens' market address): the node
 * checks each URL with the parser `--market` uses, whatever the page sent; a refusal changes nothing.
 */

/** A provider that never connects anywhere; it reports the endpoint it is "on". */
function fakeProvider(endpoint: string): AppProvider {
  const status = providerStatus({ failure: null, endpoint });
  return {
    start: () => undefined,
    status: () => status,
    onDidChange: () => () => undefined,
    drain: async () => undefined,
    currentAsk: () => 0n,
  };
}

describe('market_url and node:join with several instances of one market', () => {
  it('settings:set stores a list, and settings:get gives it back in order', async () => {
    const h = createAppHandlers(await testAppNode());
    const urls = ['https://a.market.example', 'http://10.0.0.2:8080'];
    expect(await dispatchContractCall(h, 'settings:set', [{ market_url: urls }])).toMatchObject({
      ok: true,
      result: { market_url: urls },
    });
    expect(await dispatchContractCall(h, 'settings:get', [])).toMatchObject({ ok: true, result: { market_url: urls } });
    // One URL stays a string (what older versions stored and read).
    expect(await dispatchContractCall(h, 'settings:set', [{ market_url: 'https://a.market.example' }])).toMatchObject({
      ok: true,
      result: { market_url: 'https://a.market.example' },
    });
  });

  it('a bad URL in the list is refused at the boundary naming it, and nothing stored changes', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    await dispatchContractCall(h, 'settings:set', [{ market_url: ['https://a.market.example'], threads: 2 }]);
    const before = node.settings.get();
    for (const [market_url, message] of [
      [
        ['https://a.market.example', 'ftp://b.market.example'],
        'settings:set: market URL "ftp://b.market.example" must be an http://, https://, ws:// or wss:// URL, e.g. http://127.0.0.1:8080 at 0.market_url',
      ],
      [
        ['https://a.market.example', 'market b'],
        `settings:set: market URL "market b" is not a URL; give the market's address, e.g. http://127.0.0.1:8080 at 0.market_url`,
      ],
      [[], 'settings:set: Too small: expected array to have >=1 items at 0.market_url'],
    ] as const) {
      const r = await dispatchContractCall(h, 'settings:set', [{ market_url: market_url, threads: 3 }]);
      expect(r, JSON.stringify(market_url)).toEqual({ ok: false, error: { code: 'BAD_ARGUMENTS', message } });
      expect(node.settings.get()).toEqual(before);
    }
    const many = Array.from({ length: 17 }, (_, i) => `http://10.0.0.${i + 1}:8080`);
    expect(await dispatchContractCall(h, 'settings:set', [{ market_url: many }])).toMatchObject({
      ok: false,
      error: { code: 'BAD_ARGUMENTS' },
    });
    expect(node.settings.get()).toEqual(before);
    expect(before).toEqual({ ...DEFAULT_SETTINGS, market_url: ['https://a.market.example'], threads: 2 });
  });

  it('node:join hands the provider every instance in order; status and Diagnostics say which one it is on', async () => {
    const given: (readonly string[])[] = [];
    const node = await testAppNode({
      createProvider: (urls) => {
        given.push(urls);
        return fakeProvider('http://10.0.0.2:8080');
      },
    });
    const h = createAppHandlers(node);
    const bad = await dispatchContractCall(h, 'node:join', [
      { kind: 'url', url: ['http://10.0.0.1:8080', 'gopher://10.0.0.2'] },
    ]);
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENTS', message: /"gopher:\/\/10\.0\.0\.2"/ } });
    expect(node.status().joined).toBe(false);

    const r = await dispatchContractCall(h, 'node:join', [
      { kind: 'url', url: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080'] },
    ]);
    expect(r).toMatchObject({ ok: true, result: { joined: true, endpoint: 'http://10.0.0.2:8080' } });
    expect(given).toEqual([['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080']]);
    // Courier flushes go to the first.
    expect(node.marketUrl()).toBe('http://10.0.0.1:8080');
    const rep = await dispatchContractCall(h, 'diagnostics:report', []);
    if (!rep.ok) throw new Error(JSON.stringify(rep));
    const checks = (rep.result as { checks: DiagnosticCheck[] }).checks;
    expect(checks.find((c) => c.id === 'joined')?.label).toBe(
      'Joined the market at http://10.0.0.1:8080 and 2 more instances of it (tried in order)',
    );
    expect(checks.find((c) => c.id === 'connected')?.label).toBe('Connected to the market at http://10.0.0.2:8080');
  });
});
