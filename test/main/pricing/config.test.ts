import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from '../../../src/main/config/load-config.js';
import { CONFIG_SCHEMA } from '../../../src/main/config/schema.js';
import { configProblems } from '../../support/config-problems.js';
import { tempDir } from '../../support/temp-dir.js';

const FILE = '/data/config.toml';

const problems = (text: string) => configProblems(text, FILE);

describe('config.toml', () => {
  it('uses the defaults when the file is missing', async () => {
    const config = await loadConfig(tempDir());
    expect(config).toEqual(defaultConfig());
    expect(config.price_board_path).toBe('state/price_board.v1.bin');
    expect(config.price_board_window).toBe(100);
    expect(config.price_board_save_interval).toBe(30);
  });

  it('reads the price board and admission keys, keeping defaults for the rest', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'config.toml'),
      [
        'price_board_path = "boards/prices.bin"',
        'price_board_window = 250',
        'price_board_save_interval = 5',
        'comfort_threshold_p90 = 9223372036854775807',
        'comfort_recovery_secs = 0',
      ].join('\n'),
    );
    const config = await loadConfig(dir);
    expect(config).toMatchObject({
      price_board_path: 'boards/prices.bin',
      price_board_window: 250,
      price_board_save_interval: 5,
      comfort_threshold_p90: 9223372036854775807n,
      comfort_recovery_secs: 0,
      mempool_max_jobs: CONFIG_SCHEMA.mempool_max_jobs.default,
    });
  });

  it.each([
    ['price_board_window = 0', 'price_board_window must be an integer from 1 to 1000000 (got 0)'],
    ['price_board_window = 1000001', 'price_board_window must be an integer from 1 to 1000000 (got 1000001)'],
    ['price_board_window = "100"', 'price_board_window must be an integer from 1 to 1000000 (got "100")'],
    ['price_board_window = 10.5', 'price_board_window must be an integer from 1 to 1000000 (got 10.5, a float)'],
    ['price_board_window = 100.0', 'price_board_window must be an integer from 1 to 1000000 (got 100.0, a float)'],
    [
      'price_board_save_interval = -1',
      'price_board_save_interval must be a whole number of seconds from 1 to 86400 (got -1)',
    ],
    [
      'price_board_path = "/etc/passwd"',
      'price_board_path must be a file path relative to the data directory that stays inside it',
    ],
    ['price_board_path = "../outside.bin"', 'price_board_path must be a file path relative to the data directory'],
    ['price_board_path = ""', 'price_board_path must be'],
    [
      'price_board_path = 3',
      'price_board_path must be a file path relative to the data directory that stays inside it and is not config.toml, ledger.db, identity.pem or bundles/, such as "state/price_board.v1.bin" (got 3)',
    ],
    [
      'comfort_threshold_p90 = -5',
      'comfort_threshold_p90 must be a non-negative integer fee (credit minor units) (got -5)',
    ],
    ['comfort_recovery_percent = 101', 'comfort_recovery_percent must be an integer percent from 1 to 100 (got 101)'],
    [
      'capacity_window_secs = [1, 2]',
      'capacity_window_secs must be a whole number of seconds from 1 to 86400 (got an array)',
    ],
  ])('names the key, the file and what is allowed: %s', (line, message) => {
    const out = problems(line);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(`${FILE}: `);
    expect(out[0]).toContain(message);
  });

  it('refuses unknown keys, naming them', () => {
    expect(problems('price_board_windw = 100')).toEqual([
      expect.stringMatching(/^\/data\/config\.toml: unknown key "price_board_windw" \(known keys: price_board_path, /),
    ]);
    expect(problems('[price_board]\nwindow = 100')[0]).toContain('unknown key "price_board"');
  });

  it('validates everything before returning: every problem is reported and nothing half-read is used', () => {
    const out = problems(
      'price_board_window = 50\nprice_board_save_interval = 0\nbogus = true\nprice_board_path = "/abs"',
    );
    expect(out).toHaveLength(3);
    expect(out.join('\n')).toMatch(/price_board_save_interval[\s\S]*bogus[\s\S]*price_board_path/);
  });

  it('reports TOML syntax errors with file, line and column', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.toml'), 'price_board_window = 100\nprice_board_path = \n');
    const err = await loadConfig(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(
      new RegExp(`^${join(dir, 'config.toml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: not valid TOML`),
    );
    expect((err as ConfigError).message.split('\n')).toHaveLength(1);
  });

  it('reports an unreadable config file as a one-line error', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'config.toml'));
    await expect(loadConfig(dir)).rejects.toThrow(/config\.toml is a directory/);
  });
});
