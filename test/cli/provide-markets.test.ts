import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { marketUrlsOption, provideSpec, statusLine } from '../../src/cli/commands/provide.js';
import { main } from '../../src/cli/index.js';
import { providerStatus } from '../support/provider-status.js';
import { tempDir } from '../support/temp-dir.js';
import { captureIo } from './run.js';

/** `tessera provide --market`: several instances of one market, repeated or comma-separated; a bad one is one line naming it. */
describe('tessera provide --market', () => {
  it('takes several URLs: repeated, comma-separated, or both, in the order given', () => {
    const parsed = provideSpec.parse([
      '--market',
      'http://10.0.0.1:8080,http://10.0.0.2:8080',
      '--market',
      'https://market.example',
    ]);
    if (parsed.help !== undefined) throw new Error('help');
    expect(parsed.values.market).toEqual(['http://10.0.0.1:8080,http://10.0.0.2:8080', 'https://market.example']);
    expect(marketUrlsOption(parsed.values.market ?? [])).toEqual([
      'http://10.0.0.1:8080',
      'http://10.0.0.2:8080',
      'https://market.example',
    ]);
    expect(provideSpec.help()).toMatch(
      /--market URL\[,URL…\]\s+the market, .*repeat --market or separate URLs with commas/,
    );
  });

  it('a bad URL among them stops before anything starts, with one line naming it', async () => {
    const dataDir = tempDir('tessera-provide-markets-');
    for (const [value, line] of [
      [
        'http://127.0.0.1:1,ftp://files.example',
        'tessera: --market "ftp://files.example" must be an http://, https://, ws:// or wss:// URL, e.g. http://127.0.0.1:8080\n',
      ],
      [
        'http://127.0.0.1:1, market dot example',
        `tessera: --market "market dot example" is not a URL; give the market's address, e.g. http://127.0.0.1:8080\n`,
      ],
      [
        'http://127.0.0.1:1,',
        'tessera: --market "http://127.0.0.1:1," has an empty entry; give market URLs separated by commas, e.g. http://a:8080,http://b:8080\n',
      ],
    ] as const) {
      const t = captureIo();
      const code = await main(
        ['provide', '--data-dir', dataDir, '--market', 'http://127.0.0.1:2', '--market', value],
        t.io,
      );
      expect(code, value).toBe(2);
      expect(t.err(), value).toBe(line);
      expect(t.out()).toBe('');
    }
    // Nothing was started: no ledger, no identity.
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('the status line names the endpoint in use while connected', () => {
    const s = providerStatus({ failure: null, endpoint: 'http://market.example:8080 (10.0.0.2)' });
    expect(statusLine(s)).toMatch(/^connected {2}via http:\/\/market\.example:8080 \(10\.0\.0\.2\) {2}cpc1test /);
    expect(statusLine({ ...s, state: 'connecting' })).toMatch(/^connecting {2}cpc1test /);
  });
});
