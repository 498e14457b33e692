import { LANES, U64_MAX, type Lane } from './lanes.js';
import { SortedWindow } from './sorted-window.js';

/** Default number of recent prices kept per lane. */
export const DEFAULT_PRICE_BOARD_WINDOW = 100;
/** Largest window the board (and its file format) accepts. */
export const MAX_PRICE_BOARD_WINDOW = 1_000_000;

/** The quantile bands of one lane (nearest-rank percentiles, see quantile.ts). */
export interface PriceBands {
  /** Prices currently in the lane's window. */
  count: number;
  p25: bigint;
  median: bigint;
  p75: bigint;
}

/** Checks a window size; throws a one-line RangeError naming the allowed range. */
export function checkWindow(window: number): number {
  if (!Number.isInteger(window) || window < 1 || window > MAX_PRICE_BOARD_WINDOW) {
    throw new RangeError(`price board window must be an integer from 1 to ${MAX_PRICE_BOARD_WINDOW}, got ${window}`);
  }
  return window;
}

/**
 * Suggested bid = median × (1 + backlog / window), in integers: ⌊median × (window + backlog) / window⌋,
 * capped at the largest u64. Rounding down never takes the bid below the median.
 */
export function suggestBid(median: bigint, backlog: number, window: number): bigint {
  if (!Number.isInteger(backlog) || backlog < 0)
    throw new RangeError(`backlog must be a non-negative integer, got ${backlog}`);
  checkWindow(window);
  const w = BigInt(window);
  const bid = (median * (w + BigInt(backlog))) / w;
  return bid > U64_MAX ? U64_MAX : bid;
}

/**
 * Recent offer prices per lane in a sliding window (oldest drop out as new ones arrive),
 * with quantile bands read straight from the ordered window.
 */
export class PriceBoard {
  private readonly lanes: Record<Lane, SortedWindow>;
  private changes = 0;

  constructor(readonly window: number = DEFAULT_PRICE_BOARD_WINDOW) {
    checkWindow(window);
    this.lanes = { consumer: new SortedWindow(window), industrial: new SortedWindow(window) };
  }

  /** Increases on every change; lets a host skip saving a board that has not changed. */
  get version(): number {
    return this.changes;
  }

  /** Records one price (u64) in a lane. */
  record(lane: Lane, price: bigint): void {
    this.lanes[lane].push(price);
    this.changes++;
  }

  /** Prices in a lane's window. */
  size(lane: Lane): number {
    return this.lanes[lane].size;
  }

  /** The nearest-rank percentile of a lane; undefined when the lane is empty. */
  percentile(lane: Lane, percent: number): bigint | undefined {
    return this.lanes[lane].percentile(percent);
  }

  /** p25 / median / p75 of a lane; undefined when the lane is empty. */
  bands(lane: Lane): PriceBands | undefined {
    const w = this.lanes[lane];
    if (w.size === 0) return undefined;
    return {
      count: w.size,
      p25: w.percentile(25) as bigint,
      median: w.percentile(50) as bigint,
      p75: w.percentile(75) as bigint,
    };
  }

  /**
   * The suggested bid for a lane given its backlog (queued jobs of that lane, not counting
   * deferred industrial jobs); undefined while the lane has no prices.
   */
  suggestedBid(lane: Lane, backlog: number): bigint | undefined {
    const median = this.lanes[lane].percentile(50);
    return median === undefined ? undefined : suggestBid(median, backlog, this.window);
  }

  /** A lane's prices in arrival order, oldest first (what persistence writes). */
  entries(lane: Lane): bigint[] {
    return this.lanes[lane].values();
  }

  /** Empties every lane. */
  clear(): void {
    for (const lane of LANES) this.lanes[lane].clear();
    this.changes++;
  }

  /**
   * A board with `window` holding the given prices (oldest first). When there are more
   * prices than the window holds, the newest ones are kept.
   */
  static from(window: number, lanes: Readonly<Record<Lane, readonly bigint[]>>): PriceBoard {
    const board = new PriceBoard(window);
    for (const lane of LANES) {
      const prices = lanes[lane];
      for (let i = Math.max(0, prices.length - window); i < prices.length; i++)
        board.lanes[lane].push(prices[i] as bigint);
    }
    board.changes = 0;
    return board;
  }
}
