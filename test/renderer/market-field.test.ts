import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, SettingsPatchSchema } from '../../src/shared/contract.js';
import { marketFieldRows, marketFieldText, parseMarketField } from '../../src/renderer/app/lib/market-field.js';
import { toForm, validateSettings } from '../../src/renderer/app/lib/settings-form.js';
import { describeMarket } from '../../src/renderer/app/lib/status.js';
import { nodeStatus } from '../support/node-status.js';

/** The market address field (Settings, Join): one or more instances of one market, one URL per line. */
describe('market address field', () => {
  it('reads one URL per line, commas also separating, blank lines and spaces ignored, duplicates once', () => {
    expect(parseMarketField('')).toEqual({ urls: [], error: null });
    expect(parseMarketField(' \n  \n')).toEqual({ urls: [], error: null });
    expect(parseMarketField(' https://market.example.org ')).toEqual({
      urls: ['https://market.example.org'],
      error: null,
    });
    expect(
      parseMarketField('https://a.example\r\n\n  http://10.0.0.2:8080, http://10.0.0.3:8080\nhttps://a.example/\n'),
    ).toEqual({ urls: ['https://a.example', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080'], error: null });
  });

  it('a bad URL is one line naming it (the first bad one), whichever line it is on', () => {
    expect(parseMarketField('https://a.example\nftp://b.example\nnope')).toEqual({
      urls: null,
      error:
        'Market address "ftp://b.example" must be an http://, https://, ws:// or wss:// URL, e.g. http://127.0.0.1:8080.',
    });
    expect(parseMarketField('https://a.example\nmarket dot example')).toEqual({
      urls: null,
      error: `Market address "market dot example" is not a URL; give the market's address, e.g. http://127.0.0.1:8080.`,
    });
    expect(parseMarketField('https://a.example,,https://b.example').error).toBe(
      'Market address "https://a.example,,https://b.example" has an empty entry; give market URLs separated by commas, e.g. http://a:8080,http://b:8080.',
    );
    const many = Array.from({ length: 17 }, (_, i) => `http://10.0.0.${i + 1}:8080`).join('\n');
    expect(parseMarketField(many).error).toBe('Market address gives 17 market URLs; at most 16 are allowed.');
  });

  it('shows a stored value back one URL per line; grows from 2 to 6 rows', () => {
    expect(marketFieldText(null)).toBe('');
    expect(marketFieldText('https://a.example')).toBe('https://a.example');
    expect(marketFieldText(['https://a.example', 'http://b.example'])).toBe('https://a.example\nhttp://b.example');
    expect(marketFieldRows('')).toBe(2);
    expect(marketFieldRows('a\nb\nc')).toBe(3);
    expect(marketFieldRows('a\n'.repeat(10))).toBe(6);
  });
});

describe('settings form: market_url', () => {
  const form = toForm(DEFAULT_SETTINGS);

  it('saves one URL as a string, several as a list, none as null; each patch passes the node’s own schema', () => {
    const cases = [
      ['', null],
      ['https://a.example', 'https://a.example'],
      ['https://a.example\nhttp://10.0.0.2:8080', ['https://a.example', 'http://10.0.0.2:8080']],
      ['https://a.example, http://10.0.0.2:8080', ['https://a.example', 'http://10.0.0.2:8080']],
    ] as const;
    for (const [text, stored] of cases) {
      const v = validateSettings({ ...form, market_url: text });
      expect(v.errors, text).toEqual({});
      expect(v.patch?.market_url, text).toEqual(stored);
      expect(SettingsPatchSchema.safeParse(v.patch).success, text).toBe(true);
    }
  });

  it('shows a saved list back as typed (one per line), and that form is not a change', () => {
    const v = validateSettings({ ...form, market_url: 'https://a.example\n\nhttp://10.0.0.2:8080\n' });
    if (!v.patch) throw new Error(JSON.stringify(v.errors));
    const again = toForm(v.patch);
    expect(again.market_url).toBe('https://a.example\nhttp://10.0.0.2:8080');
    expect(validateSettings(again).patch).toEqual(v.patch);
  });

  it('a bad instance is an error on the field naming it, and no patch', () => {
    const v = validateSettings({ ...form, market_url: 'https://a.example\nhttps://b example' });
    expect(v.patch).toBeNull();
    expect(v.errors).toEqual({
      market_url: `Market address "https://b example" is not a URL; give the market's address, e.g. http://127.0.0.1:8080.`,
    });
  });
});

describe('the market as the status bar and Join say it', () => {
  const s = nodeStatus({
    market: { kind: 'url', url: ['http://a.example:8080', 'http://b.example:8080', 'http://c.example:8080'] },
    state: 'connecting',
    endpoint: 'http://a.example:8080',
  });

  it('several instances: the one connected to now, else the first and how many more', () => {
    expect(describeMarket(s)).toBe('http://a.example:8080 and 2 more instances');
    expect(describeMarket({ ...s, state: 'connected', endpoint: 'http://b.example:8080 (10.0.0.2)' })).toBe(
      'http://b.example:8080 (10.0.0.2), one of 3 instances',
    );
    expect(
      describeMarket({ ...s, market: { kind: 'url', url: ['http://a.example:8080', 'http://b.example:8080'] } }),
    ).toBe('http://a.example:8080 and 1 more instance');
  });

  it('one URL and the practice market read as before', () => {
    expect(describeMarket({ ...s, market: { kind: 'url', url: 'http://a.example:8080' }, endpoint: null })).toBe(
      'http://a.example:8080',
    );
    expect(describeMarket({ ...s, market: { kind: 'practice' } })).toBe('the practice market');
    expect(describeMarket({ ...s, market: null })).toBe('no market');
  });
});
