import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Blake3Hasher } from '../../../src/core/hash/hasher.js';
import { LANES, U64_MAX } from '../../../src/core/pricing/lanes.js';
import {
  decodePriceBoard,
  encodePriceBoard,
  encodedSize,
  loadPriceBoard,
} from '../../../src/core/pricing/price-board-codec.js';
import { PriceBoard } from '../../../src/core/pricing/price-board.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';

const hasher: Blake3Hasher = loadNativeBlake3();

const boardArb = fc
  .integer({ min: 1, max: 64 })
  .chain((window) =>
    fc.record({
      window: fc.constant(window),
      consumer: fc.array(fc.bigInt({ min: 0n, max: U64_MAX }), { maxLength: 100 }),
      industrial: fc.array(fc.bigInt({ min: 0n, max: U64_MAX }), { maxLength: 100 }),
    }),
  )
  .map(({ window, consumer, industrial }) => {
    const board = new PriceBoard(window);
    for (const p of consumer) board.record('consumer', p);
    for (const p of industrial) board.record('industrial', p);
    return board;
  });

function sample(window: number, n: number): PriceBoard {
  const board = new PriceBoard(window);
  for (let i = 0; i < n; i++) {
    board.record('consumer', BigInt(i * 37 + 1));
    board.record('industrial', U64_MAX - BigInt(i));
  }
  return board;
}

describe('price board file format', () => {
  it('round-trips every board exactly (window, order, full u64 range)', () => {
    fc.assert(
      fc.property(boardArb, (board) => {
        const bytes = encodePriceBoard(board, hasher);
        const total = LANES.reduce((n, l) => n + board.size(l), 0);
        expect(bytes.length).toBe(encodedSize(total));
        const decoded = decodePriceBoard(bytes, hasher);
        if (!decoded.ok) throw new Error(decoded.message);
        expect(decoded.value.window).toBe(board.window);
        for (const lane of LANES) expect(decoded.value.lanes[lane]).toEqual(board.entries(lane));
        const loaded = loadPriceBoard(bytes, hasher, board.window);
        if (!loaded.ok) throw new Error(loaded.message);
        for (const lane of LANES) expect(loaded.board.bands(lane)).toEqual(board.bands(lane));
      }),
      { numRuns: 300 },
    );
  });

  it('takes 8 bytes per price plus a 24-byte header and a 32-byte checksum', () => {
    const full = encodePriceBoard(sample(100, 100), hasher);
    expect(full.length).toBe(24 + 2 * 8 * 100 + 32); // 1656 bytes for the default window
    // The magic as docs/price-board-format.md gives it (89 54 50 42 0D 0A 1A 0A), not the code's constant.
    expect(Array.from(full.subarray(0, 8))).toEqual([0x89, 0x54, 0x50, 0x42, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(Buffer.from(full.subarray(0, 8)).toString('latin1')).toBe('\x89TPB\r\n\x1a\n');
    const view = new DataView(full.buffer);
    expect(view.getUint16(8, true)).toBe(1); // version
    expect(view.getUint16(10, true)).toBe(2); // lanes
    expect(view.getUint32(12, true)).toBe(100); // window
    expect(view.getBigUint64(24, true)).toBe(1n); // first consumer price, little-endian
    expect(encodePriceBoard(new PriceBoard(), hasher).length).toBe(56);
  });

  it('detects every single-bit flip anywhere in the file', () => {
    const bytes = encodePriceBoard(sample(8, 6), hasher);
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const copy = bytes.slice();
      copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
      const r = decodePriceBoard(copy, hasher);
      expect(r.ok, `bit ${bit}`).toBe(false);
    }
  });

  it('detects every truncation and any appended bytes', () => {
    const bytes = encodePriceBoard(sample(8, 6), hasher);
    for (let len = 0; len < bytes.length; len++) {
      const r = decodePriceBoard(bytes.subarray(0, len), hasher);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toBe('TRUNCATED');
    }
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    const r = decodePriceBoard(longer, hasher);
    expect(r.ok ? undefined : r.error).toBe('LENGTH_MISMATCH');
  });

  it('gives an error result, never a throw, for random corruptions and foreign bytes', () => {
    const corruption = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('overwrite' as const),
        at: fc.nat(),
        data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      }),
      fc.record({ kind: fc.constant('foreign' as const), data: fc.uint8Array({ maxLength: 3000 }) }),
    );
    fc.assert(
      fc.property(boardArb, fc.array(corruption, { minLength: 1, maxLength: 4 }), (board, cuts) => {
        const original = encodePriceBoard(board, hasher);
        let bytes = original.slice();
        for (const c of cuts) {
          if (c.kind === 'flip') bytes[c.at % bytes.length] = (bytes[c.at % bytes.length] as number) ^ c.mask;
          else if (c.kind === 'truncate') bytes = bytes.slice(0, c.at % bytes.length);
          else if (c.kind === 'foreign') bytes = c.data;
          else if (bytes.length > 0) {
            const at = c.at % bytes.length;
            bytes.set(c.data.subarray(0, bytes.length - at), at);
          }
        }
        const unchanged = bytes.length === original.length && bytes.every((b, i) => b === original[i]);
        const r = decodePriceBoard(bytes, hasher);
        expect(r.ok).toBe(unchanged);
        const loaded = loadPriceBoard(bytes, hasher, 100);
        expect(loaded.ok).toBe(unchanged);
      }),
      { numRuns: 1000 },
    );
  });

  it('names the reason', () => {
    const good = encodePriceBoard(sample(4, 4), hasher);
    const reason = (bytes: Uint8Array) => {
      const r = decodePriceBoard(bytes, hasher);
      return r.ok ? 'ok' : r.error;
    };
    expect(reason(good)).toBe('ok');
    expect(reason(new TextEncoder().encode('price_board_window = 100\n'))).toBe('FOREIGN');
    expect(reason(new Uint8Array(0))).toBe('TRUNCATED');
    const v2 = good.slice();
    v2[8] = 2;
    expect(reason(v2)).toBe('UNSUPPORTED_VERSION');
    const lanes = good.slice();
    lanes[10] = 3;
    expect(reason(lanes)).toBe('BAD_HEADER');
    const flipped = good.slice();
    flipped[30] = (flipped[30] as number) ^ 0x10;
    expect(reason(flipped)).toBe('CHECKSUM_MISMATCH');
  });

  it('refuses a checksummed file whose counts exceed its window', () => {
    const bytes = encodePriceBoard(sample(4, 4), hasher);
    const view = new DataView(bytes.buffer);
    view.setUint32(12, 2, true); // window 2 but 4 prices per lane, checksum recomputed
    bytes.set(hasher.hash(bytes.subarray(0, bytes.length - 32)), bytes.length - 32);
    const r = decodePriceBoard(bytes, hasher);
    expect(r.ok ? 'ok' : r.error).toBe('BAD_HEADER');
  });

  it('reports a hasher failure as an error result', () => {
    const broken: Blake3Hasher = {
      ...hasher,
      implementation: 'broken',
      hash: () => {
        throw new Error('boom');
      },
    };
    const r = decodePriceBoard(encodePriceBoard(sample(2, 2), hasher), broken);
    expect(r.ok ? 'ok' : r.error).toBe('UNREADABLE');
  });

  it('loads into a smaller window keeping the newest prices', () => {
    const loaded = loadPriceBoard(encodePriceBoard(sample(10, 10), hasher), hasher, 3);
    if (!loaded.ok) throw new Error(loaded.message);
    expect(loaded.storedWindow).toBe(10);
    expect(loaded.board.entries('consumer')).toEqual([7n * 37n + 1n, 8n * 37n + 1n, 9n * 37n + 1n]);
  });
});
