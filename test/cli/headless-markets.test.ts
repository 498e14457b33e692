import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headlessSpec } from '../../src/cli/commands/headless.js';
import { marketUrlsOption, provideSpec } from '../../src/cli/commands/provide.js';
import { main } from '../../src/cli/index.js';
import { tempDir } from '../support/temp-dir.js';
import { captureIo } from './run.js';

/** `tessera headless --market`: several instances of one market, exactly as `tessera provide` takes them. */
describe('tessera headless --market', () => {
  it('takes several URLs like tessera provide: repeated, comma-separated, or both, in the order given', () => {
    const argv = ['--market', 'http://10.0.0.1:8080,http://10.0.0.2:8080', '--market', 'https://market.example'];
    const parsed = headlessSpec.parse(argv);
    if (parsed.help !== undefined) throw new Error('help');
    expect(parsed.values.market).toEqual(['http://10.0.0.1:8080,http://10.0.0.2:8080', 'https://market.example']);
    expect(marketUrlsOption(parsed.values.market ?? [])).toEqual([
      'http://10.0.0.1:8080',
      'http://10.0.0.2:8080',
      'https://market.example',
    ]);
    // The same option shape as provide's.
    const provided = provideSpec.parse(argv);
    if (provided.help !== undefined) throw new Error('help');
    expect(parsed.values.market).toEqual(provided.values.market);
    expect(headlessSpec.help()).toMatch(
      /--market URL\[,URL…\]\s+the market to provide to .*repeat --market or separate URLs with commas/,
    );
  });

  it('a bad URL among them stops before anything starts, with the one line tessera provide prints for it', async () => {
    const base = tempDir('tessera-headless-markets-');
    const dataDir = join(base, 'node');
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
      const args = ['--data-dir', dataDir, '--market', 'http://127.0.0.1:2', '--market', value];
      const h = captureIo();
      const code = await main(['headless', '--port', '0', '--no-gpu', ...args], h.io);
      expect(code, value).toBe(2);
      expect(h.err(), value).toBe(line);
      expect(h.out()).toBe('');
      const p = captureIo();
      expect(await main(['provide', ...args], p.io), value).toBe(2);
      expect(p.err(), value).toBe(h.err());
    }
    const many = Array.from({ length: 17 }, (_, i) => `http://10.0.0.${i + 1}:8080`).join(',');
    const h = captureIo();
    expect(await main(['headless', '--port', '0', '--data-dir', dataDir, '--market', many], h.io)).toBe(2);
    expect(h.err()).toBe('tessera: --market gives 17 market URLs; at most 16 are allowed\n');
    // Nothing was started: no data dir, no token, no ledger.
    expect(existsSync(dataDir)).toBe(false);
  });
});
