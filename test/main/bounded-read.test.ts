import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/core/errors.js';
import { PriceBoard } from '../../src/core/pricing/price-board.js';
import { encodePriceBoard } from '../../src/core/pricing/price-board-codec.js';
import { ConfigError, defaultConfig, loadConfig, MAX_CONFIG_BYTES } from '../../src/main/config/load-config.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { createMetricsRegistry, metricValue } from '../../src/main/metrics.js';
import { readRegularFile, readRegularFileSync } from '../../src/main/services/bounded-read.js';
import { PriceBoardService } from '../../src/main/services/price-board-service.js';
import { tempDir } from '../support/temp-dir.js';

/** Each case must answer well within this; a FIFO read without the guard blocks forever. */
const QUICK = { timeout: 5_000 };

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr.toString()}`);
}

/** The error both readers give for `path` (they must agree), checked to be a one-line TesseraError. */
async function refusal(path: string, maxBytes: number, what = 'test file'): Promise<TesseraError> {
  const asyncErr = await readRegularFile(path, maxBytes, what).then(
    () => undefined,
    (e: unknown) => e,
  );
  let syncErr: unknown;
  try {
    readRegularFileSync(path, maxBytes, what);
  } catch (e) {
    syncErr = e;
  }
  for (const err of [asyncErr, syncErr]) {
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    expect((err as Error).message).toContain(path);
  }
  expect((syncErr as TesseraError).code).toBe((asyncErr as TesseraError).code);
  return asyncErr as TesseraError;
}

describe('readRegularFile / readRegularFileSync', () => {
  it('reads a regular file up to the limit exactly', QUICK, async () => {
    const path = join(tempDir(), 'ok.bin');
    writeFileSync(path, Buffer.alloc(4096, 7));
    expect((await readRegularFile(path, 4096)).equals(Buffer.alloc(4096, 7))).toBe(true);
    expect(readRegularFileSync(path, 4096).equals(Buffer.alloc(4096, 7))).toBe(true);
  });

  it('refuses a symlink to /dev/zero without reading it (FILE_NOT_REGULAR)', QUICK, async () => {
    const path = join(tempDir(), 'zero');
    symlinkSync('/dev/zero', path);
    const err = await refusal(path, 1 << 30);
    expect(err.code).toBe('FILE_NOT_REGULAR');
    expect(err.message).toMatch(/is not a regular file \(a device, pipe or socket\)/);
  });

  it('refuses a FIFO without blocking (FILE_NOT_REGULAR)', QUICK, async () => {
    const path = join(tempDir(), 'fifo');
    mkfifo(path);
    expect((await refusal(path, 1024)).code).toBe('FILE_NOT_REGULAR');
  });

  it('refuses a directory (FILE_NOT_REGULAR)', QUICK, async () => {
    const path = join(tempDir(), 'dir');
    mkdirSync(path);
    const err = await refusal(path, 1024, 'config file');
    expect(err.code).toBe('FILE_NOT_REGULAR');
    expect(err.message).toBe(`${path} is a directory, not a config file`);
  });

  it('refuses a file over the limit by its size (FILE_TOO_LARGE)', QUICK, async () => {
    const path = join(tempDir(), 'big.bin');
    writeFileSync(path, Buffer.alloc(1025));
    const err = await refusal(path, 1024, 'price board');
    expect(err.code).toBe('FILE_TOO_LARGE');
    expect(err.message).toMatch(/larger than the 1024-byte limit for a price board/);
  });

  it(
    'stops at the limit when a file yields more than its size said, as a growing file does (FILE_TOO_LARGE)',
    QUICK,
    async () => {
      // A /proc file reports size 0 and then yields more: the same path as a file that grows
      // after fstat. The read must stop at limit + 1 bytes rather than trust the size.
      const path = '/proc/self/status';
      const err = await refusal(path, 64);
      expect(err.code).toBe('FILE_TOO_LARGE');
    },
  );

  it('names a missing file (FILE_UNREADABLE, ENOENT kept as the cause)', QUICK, async () => {
    const path = join(tempDir(), 'nope');
    const err = await refusal(path, 10);
    expect(err.code).toBe('FILE_UNREADABLE');
    expect(err.message).toBe(`${path}: no such file`);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('files the node reads through the real services', () => {
  const hasher = loadNativeBlake3();

  it('config.toml as a FIFO: refused at once, naming the file (FILE_NOT_REGULAR)', QUICK, async () => {
    const dir = tempDir();
    mkfifo(join(dir, 'config.toml'));
    const err = await loadConfig(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('FILE_NOT_REGULAR');
    expect((err as ConfigError).message).toBe(
      `${join(dir, 'config.toml')} is not a regular file (a device, pipe or socket); the config file must be a plain file`,
    );
  });

  it('config.toml over 1 MiB: refused with the limit in the message (FILE_TOO_LARGE)', QUICK, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.toml'), `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    const err = await loadConfig(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'FILE_TOO_LARGE',
      message: expect.stringContaining('1048576-byte limit for a config file'),
    });
    expect(MAX_CONFIG_BYTES).toBe(1024 * 1024);
  });

  it(
    'price board symlinked to /dev/zero: an empty board, no read, and the first save replaces the link',
    QUICK,
    async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'state'));
      const path = join(dir, 'state', 'price_board.v1.bin');
      symlinkSync('/dev/zero', path);
      const registry = createMetricsRegistry();
      const svc = await PriceBoardService.open({ dataDir: dir, config: defaultConfig(), hasher, registry });
      expect(svc.loaded).toMatchObject({
        status: 'empty',
        reason: 'UNREADABLE',
        message: expect.stringMatching(/is not a regular file/),
      });
      expect(await metricValue(registry, 'price_board_load_failures_total', { reason: 'unreadable' })).toBe(1);
      svc.record('consumer', 9n);
      await svc.close();
      const board = new PriceBoard(defaultConfig().price_board_window);
      board.record('consumer', 9n);
      const again = await PriceBoardService.open({
        dataDir: dir,
        config: defaultConfig(),
        hasher,
        registry: createMetricsRegistry(),
      });
      expect(again.loaded.status).toBe('loaded');
      expect(again.board.entries('consumer')).toEqual([9n]);
      expect(encodePriceBoard(again.board, hasher)).toEqual(encodePriceBoard(board, hasher));
      await again.close();
    },
  );

  it('price board as a FIFO: an empty board at once', QUICK, async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'state'));
    mkfifo(join(dir, 'state', 'price_board.v1.bin'));
    const svc = await PriceBoardService.open({
      dataDir: dir,
      config: defaultConfig(),
      hasher,
      registry: createMetricsRegistry(),
    });
    expect(svc.loaded).toMatchObject({ status: 'empty', reason: 'UNREADABLE' });
    await svc.close();
  });
});
