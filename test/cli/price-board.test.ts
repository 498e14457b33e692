import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { priceBoardCommand } from '../../src/cli/commands/price-board.js';
import { CliError } from '../../src/cli/errors.js';
import { defaultConfig } from '../../src/main/config/load-config.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { createMetricsRegistry } from '../../src/main/metrics.js';
import { PriceBoardService } from '../../src/main/services/price-board-service.js';
import { tempDir } from '../support/temp-dir.js';
import { captureIo } from './run.js';

async function saveBoard(dataDir: string, fill: (s: PriceBoardService) => void) {
  const service = await PriceBoardService.open({
    dataDir,
    config: defaultConfig(),
    hasher: loadNativeBlake3(),
    registry: createMetricsRegistry(),
  });
  fill(service);
  await service.close();
}

describe('tessera price-board', () => {
  it('show prints the bands of the saved board, as a table or JSON', async () => {
    const dir = tempDir();
    await saveBoard(dir, (s) => {
      for (let i = 1; i <= 8; i++) s.record('consumer', BigInt(i * 10));
    });
    const text = captureIo();
    expect(await priceBoardCommand(['show', '--data-dir', dir], text.io)).toBe(0);
    expect(text.out()).toContain(`price board ${join(dir, 'state', 'price_board.v1.bin')} (window 100)`);
    expect(text.out()).toMatch(/consumer\s+8\s+20\s+40\s+60/);
    expect(text.out()).toMatch(/industrial\s+0\s+-\s+-\s+-/);

    const json = captureIo();
    expect(await priceBoardCommand(['show', '--json', '--data-dir', dir], json.io)).toBe(0);
    expect(JSON.parse(json.out())).toEqual({
      path: join(dir, 'state', 'price_board.v1.bin'),
      window: 100,
      status: 'loaded',
      stored_window: 100,
      lanes: { consumer: { count: 8, p25: '20', median: '40', p75: '60' }, industrial: { count: 0 } },
    });
  });

  it('show explains a missing or unusable file', async () => {
    const dir = tempDir();
    const missing = captureIo();
    await priceBoardCommand(['show', '--data-dir', dir], missing.io);
    expect(missing.out()).toMatch(/^no saved price board at .*; the node starts with an empty board\n$/);
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'price_board.v1.bin'), 'not a board');
    const bad = captureIo();
    await priceBoardCommand(['show', '--json', '--data-dir', dir], bad.io);
    expect(JSON.parse(bad.out())).toMatchObject({
      status: 'unusable',
      reason: 'FOREIGN',
      lanes: { consumer: { count: 0 } },
    });
  });

  it('clear deletes the saved board (and says so when there is none)', async () => {
    const dir = tempDir();
    await saveBoard(dir, (s) => s.record('industrial', 5n));
    const file = join(dir, 'state', 'price_board.v1.bin');
    const first = captureIo();
    expect(await priceBoardCommand(['clear', '--data-dir', dir], first.io)).toBe(0);
    expect(first.out()).toBe(`cleared price board: removed ${file}\n`);
    expect(existsSync(file)).toBe(false);
    const again = captureIo();
    await priceBoardCommand(['clear', '--data-dir', dir], again.io);
    expect(again.out()).toBe(`no saved price board at ${file}; nothing to clear\n`);
  });

  it('follows price_board_path from config.toml and refuses a bad config with one line per problem', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.toml'), 'price_board_path = "elsewhere/board.bin"\n');
    const out = captureIo();
    await priceBoardCommand(['show', '--data-dir', dir], out.io);
    expect(out.out()).toContain(join(dir, 'elsewhere', 'board.bin'));
    writeFileSync(join(dir, 'config.toml'), 'price_board_window = 0\n');
    await expect(priceBoardCommand(['show', '--data-dir', dir], captureIo().io)).rejects.toThrow(
      new CliError(`${join(dir, 'config.toml')}: price_board_window must be an integer from 1 to 1000000 (got 0)`),
    );
  });

  it('rejects unknown actions and stray arguments', async () => {
    await expect(priceBoardCommand([], captureIo().io)).rejects.toThrow(
      'tessera price-board needs a subcommand: show or clear',
    );
    await expect(priceBoardCommand(['wipe'], captureIo().io)).rejects.toThrow(
      'unknown price-board subcommand "wipe" (expected show or clear',
    );
    await expect(priceBoardCommand(['show', 'extra'], captureIo().io)).rejects.toThrow(
      'tessera price-board show: unexpected argument "extra" (it takes no arguments)',
    );
    await expect(priceBoardCommand(['clear', '--json'], captureIo().io)).rejects.toThrow(
      "unknown option '--json' for tessera price-board clear",
    );
    const help = captureIo();
    expect(await priceBoardCommand(['--help'], help.io)).toBe(0);
    expect(help.out()).toMatch(/^usage: tessera price-board <subcommand> \[options\]\n/);
    expect(help.out()).toMatch(/\n {2}show +print the quantile bands/);
  });
});
