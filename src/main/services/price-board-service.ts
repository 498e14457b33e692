import type { Registry } from 'prom-client';
import { TesseraError, errorMessage } from '../../core/errors.js';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { LANES, type Lane } from '../../core/pricing/lanes.js';
import {
  encodedSize,
  encodePriceBoard,
  loadPriceBoard,
  type PriceBoardFileError,
} from '../../core/pricing/price-board-codec.js';
import { MAX_PRICE_BOARD_WINDOW, PriceBoard, type PriceBands } from '../../core/pricing/price-board.js';
import { dataPath } from '../config/load-config.js';
import type { NodeConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { counter, gauge } from '../metrics.js';
import { removeStaleTemps, writeFileAtomic } from './atomic-file.js';
import { readRegularFile } from './bounded-read.js';
import { describeFsError } from './fs-errors.js';

/** Why a board started empty: the file was missing, or one of the decoder's reasons. */
export type PriceBoardLoadFailure = 'MISSING' | PriceBoardFileError;

/** The result of reading the board file. Never an exception: a bad file means an empty board. */
export type PriceBoardLoad =
  | { status: 'loaded'; board: PriceBoard; bytes: number; storedWindow: number }
  | { status: 'empty'; board: PriceBoard; reason: PriceBoardLoadFailure; message: string };

/** Largest price board file read: two lanes of the largest window. */
export const MAX_PRICE_BOARD_FILE_BYTES = encodedSize(2 * MAX_PRICE_BOARD_WINDOW);

/**
 * Reads a price board file into a board with `window`. Missing, unreadable, truncated,
 * bit-flipped or foreign files give an empty board and the reason; this never throws. The
 * read is bounded: anything but a regular file (a symlink to a device, a FIFO, a directory) is
 * UNREADABLE, refused without blocking or reading from it; a file larger than any price board
 * is FOREIGN (never read whole, and never overwritten by a save).
 */
export async function readPriceBoardFile(path: string, hasher: Blake3Hasher, window: number): Promise<PriceBoardLoad> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, MAX_PRICE_BOARD_FILE_BYTES, 'price board');
  } catch (err) {
    const empty = (reason: PriceBoardLoadFailure, message: string): PriceBoardLoad => ({
      status: 'empty',
      board: new PriceBoard(window),
      reason,
      message,
    });
    if (!(err instanceof TesseraError)) return empty('UNREADABLE', describeFsError(err, path));
    if (err.code === 'FILE_TOO_LARGE') return empty('FOREIGN', err.message);
    const missing = (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    return empty(missing ? 'MISSING' : 'UNREADABLE', err.message);
  }
  let result: ReturnType<typeof loadPriceBoard>;
  try {
    result = loadPriceBoard(bytes, hasher, window);
  } catch (err) {
    // The decoder is total; this only guards the promise that loading never throws.
    result = { ok: false, error: 'UNREADABLE', message: `could not be loaded: ${errorMessage(err)}` };
  }
  if (!result.ok)
    return {
      status: 'empty',
      board: new PriceBoard(window),
      reason: result.error,
      message: `${path} ${result.message}`,
    };
  return { status: 'loaded', board: result.board, bytes: bytes.length, storedWindow: result.storedWindow };
}

export type PriceBoardSettings = Pick<
  NodeConfig,
  'price_board_path' | 'price_board_window' | 'price_board_save_interval'
>;

export interface PriceBoardServiceDeps {
  dataDir: string;
  config: PriceBoardSettings;
  hasher: Blake3Hasher;
  registry: Registry;
  logger?: Logger;
}

/**
 * Owns the node's price board: loads it from `<dataDir>/<price_board_path>` at start (empty
 * when the file is missing or damaged), saves it atomically every `price_board_save_interval`
 * seconds when it changed and on close, and exposes the quantile bands as metrics.
 */
export class PriceBoardService {
  readonly path: string;
  private timer: ReturnType<typeof setInterval> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private savedVersion: number;
  private closed = false;
  /** Set when the file at the board path is someone else's: saves then refuse to overwrite it. */
  private readonly protectedFile: string | undefined;
  private readonly saves;
  private readonly saveFailures;

  private constructor(
    readonly board: PriceBoard,
    /** How the board was obtained at start. */
    readonly loaded: PriceBoardLoad,
    private readonly opts: PriceBoardServiceDeps & { logger: Logger },
  ) {
    this.path = dataPath(opts.dataDir, opts.config.price_board_path);
    this.savedVersion = board.version;
    if (loaded.status !== 'loaded' && (loaded.reason === 'FOREIGN' || loaded.reason === 'UNSUPPORTED_VERSION')) {
      this.protectedFile = loaded.reason === 'FOREIGN' ? 'is not a price board file' : 'was written by a newer Tessera';
    }
    const { registry } = opts;
    const band = (name: string, help: string, percent: number) =>
      gauge<'lane'>(registry, {
        name,
        help,
        labelNames: ['lane'],
        collect() {
          for (const lane of LANES) {
            const v = board.percentile(lane, percent);
            if (v === undefined) this.remove({ lane });
            else this.set({ lane }, Number(v));
          }
        },
      });
    band('price_band_p25', 'p25 of recent prices per lane (nearest rank)', 25);
    band('price_band_median', 'Median of recent prices per lane (nearest rank)', 50);
    band('price_band_p75', 'p75 of recent prices per lane (nearest rank)', 75);
    this.saves = counter(registry, { name: 'price_board_save_total', help: 'Price board saves that reached the disk' });
    this.saveFailures = counter(registry, {
      name: 'price_board_save_failures_total',
      help: 'Price board saves that failed',
    });
  }

  /** Loads the board (never throws for file problems), logs how, and counts an empty start by reason. */
  static async open(options: PriceBoardServiceDeps): Promise<PriceBoardService> {
    const logger = options.logger ?? silentLogger;
    const path = dataPath(options.dataDir, options.config.price_board_path);
    const window = options.config.price_board_window;
    const removed = await removeStaleTemps(path);
    if (removed > 0) logger.info('removed unfinished price board saves', { path, files: removed });
    const loaded = await readPriceBoardFile(path, options.hasher, window);
    const failures = counter<'reason'>(options.registry, {
      name: 'price_board_load_failures_total',
      help: 'Starts with an empty price board, by reason (missing, truncated, checksum_mismatch, …)',
      labelNames: ['reason'],
    });
    if (loaded.status === 'loaded') {
      logger.info('loaded price board', {
        path,
        bytes: loaded.bytes,
        window,
        stored_window: loaded.storedWindow,
        ...laneCounts(loaded.board),
      });
    } else {
      failures.inc({ reason: loaded.reason.toLowerCase() });
      const fields = { path, reason: loaded.reason, detail: loaded.message };
      if (loaded.reason === 'MISSING') logger.info('no saved price board, starting empty', fields);
      else logger.warn('price board file unusable, starting empty', fields);
    }
    return new PriceBoardService(loaded.board, loaded, { ...options, logger });
  }

  /** Records an offer price (u64) in a lane. */
  record(lane: Lane, price: bigint): void {
    this.board.record(lane, price);
  }

  /** A lane's p25 / median / p75, or undefined while it has no prices. */
  bands(lane: Lane): PriceBands | undefined {
    return this.board.bands(lane);
  }

  /** Starts the periodic save (every `price_board_save_interval` seconds, only when the board changed). */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      if (this.board.version === this.savedVersion) return;
      this.save().catch(() => undefined); // logged and counted in save()
    }, this.opts.config.price_board_save_interval * 1000);
    this.timer.unref();
  }

  /** Saves the board now (atomically). Saves run one at a time; rejects when the write fails. */
  save(): Promise<void> {
    const run = this.chain.then(() => this.write());
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Waits for any save in progress. */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Stops the timer and saves one last time; a failed save is logged, not thrown. */
  async close(): Promise<void> {
    if (this.closed) return this.idle();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.save().catch(() => undefined);
  }

  private async write(): Promise<void> {
    if (this.protectedFile) {
      // The file at the board path is not ours (or is from a newer version): never overwrite it.
      this.saveFailures.inc();
      const error = `${this.path} ${this.protectedFile}; move it away (or set price_board_path) so the price board can be saved`;
      this.opts.logger.error('price board not saved', { path: this.path, error });
      throw new Error(error);
    }
    const started = performance.now();
    const version = this.board.version;
    const bytes = encodePriceBoard(this.board, this.opts.hasher);
    const counts = laneCounts(this.board);
    try {
      await writeFileAtomic(this.path, bytes);
    } catch (err) {
      this.saveFailures.inc();
      this.opts.logger.error('price board save failed', { path: this.path, error: describeFsError(err, this.path) });
      throw err;
    }
    this.savedVersion = version;
    this.saves.inc();
    this.opts.logger.info('saved price board', {
      path: this.path,
      bytes: bytes.length,
      ...counts,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
    });
  }
}

function laneCounts(board: PriceBoard): Record<string, number> {
  return Object.fromEntries(LANES.map((lane) => [`${lane}_prices`, board.size(lane)]));
}
