import type { Blake3Hasher } from '../hash/hasher.js';
import { DIGEST_BYTES } from '../hash/hasher.js';
import { LANES, type Lane } from './lanes.js';
import { MAX_PRICE_BOARD_WINDOW, PriceBoard } from './price-board.js';
import { errorMessage } from '../errors.js';

/**
 * The price board file, version 1 (docs/price-board-format.md). All integers little-endian.
 *
 *   offset  size     field
 *   0       8        magic 89 54 50 42 0D 0A 1A 0A ("\x89TPB\r\n\x1a\n")
 *   8       2        format version (u16) = 1
 *   10      2        lane count (u16) = 2
 *   12      4        window (u32), 1..1,000,000
 *   16      4 × L    entries per lane (u32 each, ≤ window), lanes in order consumer, industrial
 *   16+4L   8 × N    the prices (u64 each), lane after lane, oldest first
 *   end−32  32       BLAKE3 of every byte before it
 */
export const PRICE_BOARD_MAGIC = Uint8Array.of(0x89, 0x54, 0x50, 0x42, 0x0d, 0x0a, 0x1a, 0x0a);
export const PRICE_BOARD_FORMAT_VERSION = 1;
const FIXED_HEADER = 16;

/** Why a price board file could not be used; stable codes, also used as metric labels. */
export type PriceBoardFileError =
  | 'TRUNCATED'
  | 'FOREIGN'
  | 'UNSUPPORTED_VERSION'
  | 'BAD_HEADER'
  | 'LENGTH_MISMATCH'
  | 'CHECKSUM_MISMATCH'
  | 'UNREADABLE';

/** The contents of a valid file: its window and each lane's prices, oldest first. */
export interface PriceBoardContents {
  window: number;
  lanes: Record<Lane, bigint[]>;
}

export type DecodeResult =
  { ok: true; value: PriceBoardContents } | { ok: false; error: PriceBoardFileError; message: string };

/** Size in bytes of the file for a board holding `entries` prices in total. */
export function encodedSize(entries: number): number {
  return FIXED_HEADER + 4 * LANES.length + 8 * entries + DIGEST_BYTES;
}

/** Serializes a board (its window and every lane's prices, oldest first) with a BLAKE3 checksum. */
export function encodePriceBoard(board: PriceBoard, hasher: Blake3Hasher): Uint8Array {
  const lanes = LANES.map((lane) => board.entries(lane));
  const total = lanes.reduce((n, l) => n + l.length, 0);
  const bytes = new Uint8Array(encodedSize(total));
  const view = new DataView(bytes.buffer);
  bytes.set(PRICE_BOARD_MAGIC, 0);
  view.setUint16(8, PRICE_BOARD_FORMAT_VERSION, true);
  view.setUint16(10, LANES.length, true);
  view.setUint32(12, board.window, true);
  let off = FIXED_HEADER;
  for (const l of lanes) {
    view.setUint32(off, l.length, true);
    off += 4;
  }
  for (const l of lanes) {
    for (const price of l) {
      view.setBigUint64(off, price, true);
      off += 8;
    }
  }
  bytes.set(hasher.hash(bytes.subarray(0, off)), off);
  return bytes;
}

/**
 * Parses a price board file. Total: any input (truncated, bit-flipped, another program's
 * file) gives `{ ok: false }` with a reason; it never throws.
 */
export function decodePriceBoard(bytes: Uint8Array, hasher: Blake3Hasher): DecodeResult {
  try {
    return decode(bytes, hasher);
  } catch (err) {
    return fail('UNREADABLE', `could not be decoded: ${errorMessage(err)}`);
  }
}

/** Decodes a file into a board with the given window (newest prices kept when it is smaller). */
export function loadPriceBoard(
  bytes: Uint8Array,
  hasher: Blake3Hasher,
  window: number,
): { ok: true; board: PriceBoard; storedWindow: number } | { ok: false; error: PriceBoardFileError; message: string } {
  const decoded = decodePriceBoard(bytes, hasher);
  if (!decoded.ok) return decoded;
  return { ok: true, board: PriceBoard.from(window, decoded.value.lanes), storedWindow: decoded.value.window };
}

function fail(error: PriceBoardFileError, message: string): DecodeResult {
  return { ok: false, error, message };
}

function decode(bytes: Uint8Array, hasher: Blake3Hasher): DecodeResult {
  const magicLen = Math.min(bytes.length, PRICE_BOARD_MAGIC.length);
  for (let i = 0; i < magicLen; i++) {
    if (bytes[i] !== PRICE_BOARD_MAGIC[i]) return fail('FOREIGN', 'is not a price board file (unknown magic bytes)');
  }
  if (bytes.length < FIXED_HEADER)
    return fail('TRUNCATED', `is truncated (${bytes.length} bytes, shorter than the header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== PRICE_BOARD_FORMAT_VERSION)
    return fail(
      'UNSUPPORTED_VERSION',
      `has format version ${version}; this build reads version ${PRICE_BOARD_FORMAT_VERSION}`,
    );
  const laneCount = view.getUint16(10, true);
  if (laneCount !== LANES.length)
    return fail('BAD_HEADER', `declares ${laneCount} lanes; version ${PRICE_BOARD_FORMAT_VERSION} has ${LANES.length}`);
  const countsEnd = FIXED_HEADER + 4 * laneCount;
  if (bytes.length < countsEnd + DIGEST_BYTES)
    return fail('TRUNCATED', `is truncated (${bytes.length} bytes, shorter than the header and checksum)`);
  const counts: number[] = [];
  for (let i = 0; i < laneCount; i++) counts.push(view.getUint32(FIXED_HEADER + 4 * i, true));
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = encodedSize(total);
  if (bytes.length < expected)
    return fail('TRUNCATED', `is truncated (${bytes.length} bytes, the header promises ${expected})`);
  if (bytes.length > expected)
    return fail('LENGTH_MISMATCH', `has ${bytes.length - expected} unexpected bytes after its contents`);
  const body = bytes.subarray(0, expected - DIGEST_BYTES);
  const digest = hasher.hash(body);
  const stored = bytes.subarray(expected - DIGEST_BYTES);
  let diff = digest.length === DIGEST_BYTES ? 0 : 1;
  for (let i = 0; i < DIGEST_BYTES; i++) diff |= (digest[i] as number) ^ (stored[i] as number);
  if (diff !== 0) return fail('CHECKSUM_MISMATCH', 'is damaged (BLAKE3 checksum mismatch)');
  const window = view.getUint32(12, true);
  if (window < 1 || window > MAX_PRICE_BOARD_WINDOW)
    return fail('BAD_HEADER', `declares window ${window}; allowed 1 to ${MAX_PRICE_BOARD_WINDOW}`);
  const over = counts.findIndex((c) => c > window);
  if (over >= 0)
    return fail('BAD_HEADER', `lane ${LANES[over]} holds ${counts[over]} prices, more than its window ${window}`);
  const lanes = { consumer: [] as bigint[], industrial: [] as bigint[] };
  let off = countsEnd;
  LANES.forEach((lane, i) => {
    const out = lanes[lane];
    for (let k = 0; k < (counts[i] as number); k++, off += 8) out.push(view.getBigUint64(off, true));
  });
  return { ok: true, value: { window, lanes } };
}
