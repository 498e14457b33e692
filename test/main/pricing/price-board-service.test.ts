import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodePriceBoard } from '../../../src/core/pricing/price-board-codec.js';
import { PriceBoard } from '../../../src/core/pricing/price-board.js';
import { defaultConfig, parseConfig } from '../../../src/main/config/load-config.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { jsonLineSink, sinkLogger } from '../../../src/node/log.js';
import { createMetricsRegistry, metricValue } from '../../../src/main/metrics.js';
import { PriceBoardService, type PriceBoardSettings } from '../../../src/main/services/price-board-service.js';
import { tempDir } from '../../support/temp-dir.js';

const hasher = loadNativeBlake3();

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: sinkLogger(jsonLineSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>))) };
}

async function open(dataDir: string, config: Partial<PriceBoardSettings> = {}) {
  const { lines, logger } = capture();
  const registry = createMetricsRegistry();
  const service = await PriceBoardService.open({
    dataDir,
    config: { ...defaultConfig(), ...config },
    hasher,
    registry,
    logger,
  });
  return { service, registry, lines };
}

const boardFile = (dir: string) => join(dir, 'state', 'price_board.v1.bin');

afterEach(() => {
  vi.useRealTimers();
});

describe('PriceBoardService', () => {
  it('starts empty without a file, says why and counts it', async () => {
    const dir = tempDir();
    const { service, registry, lines } = await open(dir);
    expect(service.loaded.status).toBe('empty');
    expect(service.bands('consumer')).toBeUndefined();
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'no saved price board, starting empty',
        level: 'info',
        reason: 'MISSING',
        path: boardFile(dir),
      }),
    ]);
    expect(await metricValue(registry, 'price_board_load_failures_total', { reason: 'missing' })).toBe(1);
  });

  it('saves on close and loads the same board back, with band metrics per lane', async () => {
    const dir = tempDir();
    const first = await open(dir);
    for (let i = 1; i <= 120; i++) first.service.record('consumer', BigInt(i));
    first.service.record('industrial', 18_446_744_073_709_551_615n);
    await first.service.close();
    expect(first.lines.at(-1)).toMatchObject({
      msg: 'saved price board',
      path: boardFile(dir),
      bytes: 24 + 8 * 101 + 32,
      consumer_prices: 100,
      industrial_prices: 1,
    });
    expect(readdirSync(join(dir, 'state'))).toEqual(['price_board.v1.bin']); // no temp files left

    const second = await open(dir);
    expect(second.service.loaded.status).toBe('loaded');
    expect(second.lines).toEqual([
      expect.objectContaining({
        msg: 'loaded price board',
        level: 'info',
        consumer_prices: 100,
        industrial_prices: 1,
        window: 100,
      }),
    ]);
    expect(second.service.bands('consumer')).toEqual({ count: 100, p25: 45n, median: 70n, p75: 95n });
    expect(second.service.board.entries('consumer')).toEqual(first.service.board.entries('consumer'));
    expect(await metricValue(second.registry, 'price_band_p25', { lane: 'consumer' })).toBe(45);
    expect(await metricValue(second.registry, 'price_band_median', { lane: 'consumer' })).toBe(70);
    expect(await metricValue(second.registry, 'price_band_p75', { lane: 'consumer' })).toBe(95);
    expect(await metricValue(second.registry, 'price_band_median', { lane: 'industrial' })).toBe(
      Number(18_446_744_073_709_551_615n),
    );
    const text = await second.registry.metrics();
    expect(text).toContain('price_band_median{lane="consumer"} 70');
    expect(text).not.toContain('price_board_load_failures_total{');
  });

  it('honours price_board_path and price_board_window (a smaller window keeps the newest prices)', async () => {
    const dir = tempDir();
    const a = await open(dir, { price_board_path: 'custom/board.bin', price_board_window: 10 });
    for (let i = 1; i <= 10; i++) a.service.record('industrial', BigInt(i));
    await a.service.close();
    expect(existsSync(join(dir, 'custom', 'board.bin'))).toBe(true);
    const b = await open(dir, { price_board_path: 'custom/board.bin', price_board_window: 4 });
    expect(b.service.board.entries('industrial')).toEqual([7n, 8n, 9n, 10n]);
  });

  it.each([
    ['truncated', (b: Uint8Array) => b.subarray(0, b.length - 9), 'TRUNCATED'],
    ['bit-flipped', (b: Uint8Array) => b.map((x, i) => (i === 40 ? x ^ 4 : x)), 'CHECKSUM_MISMATCH'],
    ['foreign', () => new TextEncoder().encode('{"prices": [1, 2, 3]}'), 'FOREIGN'],
    ['empty', () => new Uint8Array(0), 'TRUNCATED'],
  ])('starts empty from a %s file, logs why and counts it', async (_name, damage, reason) => {
    const dir = tempDir();
    const board = new PriceBoard(100);
    for (let i = 0; i < 50; i++) board.record('consumer', BigInt(i));
    mkdirSync(join(dir, 'state'));
    writeFileSync(boardFile(dir), damage(encodePriceBoard(board, hasher)));
    const { service, registry, lines } = await open(dir);
    expect(service.loaded).toMatchObject({ status: 'empty', reason });
    expect(service.board.size('consumer')).toBe(0);
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'price board file unusable, starting empty', level: 'warn', reason }),
    ]);
    expect(await metricValue(registry, 'price_board_load_failures_total', { reason: reason.toLowerCase() })).toBe(1);
  });

  it('starts empty when the path cannot be read (a directory)', async () => {
    const dir = tempDir();
    mkdirSync(boardFile(dir), { recursive: true });
    const { service, registry } = await open(dir);
    expect(service.loaded).toMatchObject({ status: 'empty', reason: 'UNREADABLE' });
    expect(await metricValue(registry, 'price_board_load_failures_total', { reason: 'unreadable' })).toBe(1);
    await service.close(); // the save fails (path is a directory): logged and counted, not thrown
  });

  it('loads random corruptions of a saved file as an empty board, never throwing', async () => {
    const dir = tempDir();
    const board = new PriceBoard(16);
    for (let i = 0; i < 16; i++) {
      board.record('consumer', BigInt(i * 1000));
      board.record('industrial', BigInt(i * 7));
    }
    const good = encodePriceBoard(board, hasher);
    mkdirSync(join(dir, 'state'));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: good.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.nat({ max: good.length }),
        async (at, mask, cut) => {
          const bytes = good.slice(0, Math.max(cut, at + 1));
          bytes[at] = (bytes[at] as number) ^ mask;
          writeFileSync(boardFile(dir), bytes);
          const { service } = await open(dir, { price_board_window: 16 });
          expect(service.loaded.status).toBe('empty');
          expect(service.board.size('consumer') + service.board.size('industrial')).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('saves every price_board_save_interval seconds while the board changes, and only then', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const dir = tempDir();
    const { service, registry, lines } = await open(dir, { price_board_save_interval: 30 });
    service.start();
    service.record('consumer', 5n);
    vi.advanceTimersByTime(29_999);
    await service.idle();
    expect(existsSync(boardFile(dir))).toBe(false);
    vi.advanceTimersByTime(1);
    await service.idle();
    expect(existsSync(boardFile(dir))).toBe(true);
    vi.advanceTimersByTime(90_000); // unchanged: no more writes
    await service.idle();
    expect(lines.filter((l) => l.msg === 'saved price board')).toHaveLength(1);
    service.record('consumer', 6n);
    vi.advanceTimersByTime(30_000);
    await service.idle();
    expect(lines.filter((l) => l.msg === 'saved price board')).toHaveLength(2);
    expect(await metricValue(registry, 'price_board_save_total')).toBe(2);
    await service.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('logs and counts a failed save; close() still resolves', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'not-a-dir'), '');
    // The data directory is a file, so the save cannot create its directory (works as root too).
    const blocked = await open(join(dir, 'not-a-dir'));
    blocked.service.record('consumer', 3n);
    await expect(blocked.service.save()).rejects.toThrow();
    expect(blocked.lines.at(-1)).toMatchObject({ msg: 'price board save failed', level: 'error' });
    expect(await metricValue(blocked.registry, 'price_board_save_failures_total')).toBe(1);
    await expect(blocked.service.close()).resolves.toBeUndefined();
    expect(await metricValue(blocked.registry, 'price_board_save_failures_total')).toBe(2);
  });

  it('removes temp files an interrupted save left behind', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'price_board.v1.bin.tmp-123-abcd'), 'partial');
    writeFileSync(join(dir, 'state', 'other.bin'), 'keep');
    const { lines } = await open(dir);
    expect(readdirSync(join(dir, 'state')).sort()).toEqual(['other.bin']);
    expect(lines[0]).toMatchObject({ msg: 'removed unfinished price board saves', files: 1 });
  });
});

describe('files that are not ours', () => {
  it("never overwrites a foreign file at the board path, and config refuses the node's own files", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'state'));
    const path = join(dir, 'state/price_board.v1.bin');
    writeFileSync(path, "somebody else's notes");
    const svc = await PriceBoardService.open({
      dataDir: dir,
      config: defaultConfig(),
      hasher: loadNativeBlake3(),
      registry: createMetricsRegistry(),
    });
    svc.record('consumer', 5n);
    await expect(svc.save()).rejects.toThrow(/is not a price board file; move it away/);
    await svc.close();
    expect(readFileSync(path, 'utf8')).toBe("somebody else's notes");
    for (const bad of ['config.toml', 'ledger.db', 'ledger.db-wal', 'identity.pem', 'bundles/x.bin', './config.toml']) {
      expect(() => parseConfig(`price_board_path = "${bad}"`, 'config.toml'), bad).toThrow(
        /price_board_path must be a file path .* not config\.toml/,
      );
    }
  });
});
