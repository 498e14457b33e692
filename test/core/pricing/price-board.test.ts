import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { U64_MAX, parseLane } from '../../../src/core/pricing/lanes.js';
import { PriceBoard, suggestBid } from '../../../src/core/pricing/price-board.js';
import { nearestRank } from '../../../src/core/pricing/quantile.js';
import { SortedBag, SortedWindow } from '../../../src/core/pricing/sorted-window.js';

/** The definition, spelled out naively: sort a copy, take the value of rank ceil(p·n/100). */
function naivePercentile(values: readonly bigint[], percent: number): bigint | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rank = Math.max(1, Math.ceil((percent * sorted.length) / 100));
  return sorted[rank - 1];
}

const price = fc.oneof(
  fc.bigInt({ min: 0n, max: 20n }),
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.constantFrom(0n, U64_MAX),
);
const PERCENTS = [1, 5, 25, 50, 75, 90, 95, 99, 100];

describe('nearest-rank quantiles', () => {
  it('follow the documented definition on small examples', () => {
    expect(nearestRank(1, 50)).toBe(1);
    expect(nearestRank(4, 50)).toBe(2); // lower median
    expect(nearestRank(5, 50)).toBe(3);
    expect(nearestRank(4, 25)).toBe(1);
    expect(nearestRank(4, 75)).toBe(3);
    expect(nearestRank(100, 90)).toBe(90);
    expect(nearestRank(101, 90)).toBe(91);
    expect(nearestRank(3, 100)).toBe(3);
    expect(nearestRank(3, 1)).toBe(1);
    expect(() => nearestRank(0, 50)).toThrow(RangeError);
    expect(() => nearestRank(3, 0)).toThrow(RangeError);
  });

  it('of a sliding window equal a naive sort of the last `window` prices', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(price, { maxLength: 200 }),
        fc.integer({ min: 1, max: 100 }),
        (window, prices, extra) => {
          const w = new SortedWindow(window);
          for (const p of prices) w.push(p);
          const tail = prices.slice(Math.max(0, prices.length - window));
          expect(w.size).toBe(tail.length);
          expect(w.values()).toEqual(tail);
          expect(w.ascending()).toEqual([...tail].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
          for (const p of [...PERCENTS, extra]) expect(w.percentile(p)).toBe(naivePercentile(tail, p));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('stay right at every step of a long run (checked after each update)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.bigInt({ min: 0n, max: 6n }), { minLength: 1, maxLength: 80 }),
        (window, prices) => {
          const w = new SortedWindow(window);
          prices.forEach((p, i) => {
            w.push(p);
            const tail = prices.slice(Math.max(0, i + 1 - window), i + 1);
            for (const q of [25, 50, 75]) expect(w.percentile(q)).toBe(naivePercentile(tail, q));
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('of a sorted bag equal a naive sort after random inserts and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 9n })), { maxLength: 150 }), (ops) => {
        const bag = new SortedBag();
        const model: bigint[] = [];
        for (const [add, v] of ops) {
          if (add) {
            bag.add(v);
            model.push(v);
          } else {
            const i = model.indexOf(v);
            expect(bag.delete(v)).toBe(i >= 0);
            if (i >= 0) model.splice(i, 1);
          }
        }
        expect(bag.size).toBe(model.length);
        for (const p of PERCENTS) expect(bag.percentile(p)).toBe(naivePercentile(model, p));
      }),
    );
  });
});

describe('PriceBoard', () => {
  it('keeps lanes apart and drops the oldest prices as new ones arrive', () => {
    const board = new PriceBoard(3);
    for (const p of [10n, 20n, 30n, 40n]) board.record('consumer', p);
    board.record('industrial', 7n);
    expect(board.entries('consumer')).toEqual([20n, 30n, 40n]);
    expect(board.bands('consumer')).toEqual({ count: 3, p25: 20n, median: 30n, p75: 40n });
    expect(board.bands('industrial')).toEqual({ count: 1, p25: 7n, median: 7n, p75: 7n });
    board.clear();
    expect(board.bands('consumer')).toBeUndefined();
    expect(board.size('industrial')).toBe(0);
  });

  it('defaults to a window of 100 and accepts only u64 prices', () => {
    const board = new PriceBoard();
    expect(board.window).toBe(100);
    expect(() => board.record('consumer', -1n)).toThrow(RangeError);
    expect(() => board.record('consumer', U64_MAX + 1n)).toThrow(RangeError);
    board.record('consumer', U64_MAX);
    expect(board.bands('consumer')?.median).toBe(U64_MAX);
    expect(() => new PriceBoard(0)).toThrow(/from 1 to/);
    expect(() => new PriceBoard(1.5)).toThrow(RangeError);
  });

  it('rebuilds from saved entries, keeping the newest when the window shrank', () => {
    const board = PriceBoard.from(2, { consumer: [1n, 2n, 3n], industrial: [9n] });
    expect(board.entries('consumer')).toEqual([2n, 3n]);
    expect(board.entries('industrial')).toEqual([9n]);
    expect(board.version).toBe(0);
  });

  it('parses lane names', () => {
    expect(parseLane('Consumer')).toBe('consumer');
    expect(parseLane(' INDUSTRIAL ')).toBe('industrial');
    expect(parseLane('retail')).toBeUndefined();
  });
});

describe('suggested bid', () => {
  it('is median × (1 + backlog / window) in integers, rounded down', () => {
    expect(suggestBid(100n, 0, 100)).toBe(100n);
    expect(suggestBid(100n, 50, 100)).toBe(150n);
    expect(suggestBid(100n, 100, 100)).toBe(200n);
    expect(suggestBid(7n, 1, 3)).toBe(9n); // 7 × 4 / 3 = 9.33…
    expect(suggestBid(U64_MAX, 5, 10)).toBe(U64_MAX); // capped at u64
    expect(() => suggestBid(1n, -1, 10)).toThrow(RangeError);
  });

  it('never goes below the median and matches exact rational arithmetic', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.nat({ max: 1_000_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (median, backlog, window) => {
          const bid = suggestBid(median, backlog, window);
          expect(bid >= median).toBe(true);
          const exact = (median * BigInt(window + backlog)) / BigInt(window);
          expect(bid).toBe(exact > U64_MAX ? U64_MAX : exact);
        },
      ),
    );
  });

  it('uses the lane median of the board', () => {
    const board = new PriceBoard(4);
    expect(board.suggestedBid('consumer', 3)).toBeUndefined();
    for (const p of [10n, 20n, 30n, 40n]) board.record('consumer', p);
    expect(board.suggestedBid('consumer', 2)).toBe(30n); // median 20 × 6 / 4
  });
});
