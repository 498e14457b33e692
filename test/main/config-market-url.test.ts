import { describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig } from '../../src/main/config/load-config.js';
import { DEFAULT_MARKET_URL } from '../../src/shared/defaults.js';
import { configProblems } from '../support/config-problems.js';

/** config.toml's market_url: one URL as before, or a list of the instances of one market. */
const FILE = '/data/config.toml';

const problems = (text: string) => configProblems(text, FILE);

describe('config.toml market_url', () => {
  it('one URL stays valid (every config written before lists existed still loads); the default is one URL', () => {
    expect(parseConfig('market_url = "https://market.example"\n', FILE).market_url).toEqual(['https://market.example']);
    expect(defaultConfig().market_url).toEqual([DEFAULT_MARKET_URL]);
  });

  it('a list names several instances, in order', () => {
    expect(parseConfig('market_url = ["http://a.example:8080", "http://b.example:8080"]\n', FILE).market_url).toEqual([
      'http://a.example:8080',
      'http://b.example:8080',
    ]);
  });

  it('a bad entry, an empty list or more than 16 URLs is one line naming the key', () => {
    const allowed =
      'an http(s) URL such as "http://127.0.0.1:7070", or a list of 1 to 16 of them (instances of one market, tried in order)';
    expect(problems('market_url = ["http://a.example", "ftp://b.example"]\n')).toEqual([
      `${FILE}: market_url must be ${allowed} (got an array)`,
    ]);
    expect(problems('market_url = []\n')).toEqual([`${FILE}: market_url must be ${allowed} (got an array)`]);
    const many = Array.from({ length: 17 }, (_, i) => `"http://10.0.0.${i + 1}"`).join(', ');
    expect(problems(`market_url = [${many}]\n`)).toHaveLength(1);
    expect(problems('market_url = "ftp://x"\n')).toEqual([`${FILE}: market_url must be ${allowed} (got "ftp://x")`]);
  });
});
