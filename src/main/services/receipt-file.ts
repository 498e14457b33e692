import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { TesseraError } from '../../core/errors.js';
import { describeFsError } from './fs-errors.js';

/** Longest line a receipts file may have (one JSON receipt is well under 2 KiB). */
export const MAX_RECEIPT_LINE_BYTES = 64 * 1024;

/**
 * Streams the lines of a receipts file (JSON Lines) without loading it: the path must name a
 * regular file (checked with fstat after open, so /dev/zero, a FIFO or a directory is refused
 * at once) and every line is at most MAX_RECEIPT_LINE_BYTES, so memory stays bounded whatever
 * the file's length. Line numbers start at 1.
 */
export function* receiptFileLines(path: string): Generator<{ line: string; number: number }> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new TesseraError('FILE_UNREADABLE', describeFsError(err, path), { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new TesseraError('FILE_NOT_REGULAR', `${path} is a directory, not a receipts file`);
    if (!st.isFile())
      throw new TesseraError(
        'FILE_NOT_REGULAR',
        `${path} is not a regular file (a device, pipe or socket); the receipts file must be a plain file`,
      );
    const buf = Buffer.allocUnsafe(1 << 20);
    let carry: Buffer = Buffer.alloc(0);
    let number = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        throw new TesseraError('FILE_UNREADABLE', describeFsError(err, path), { cause: err });
      }
      if (n === 0) break;
      const chunk = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
        number++;
        if (nl - start > MAX_RECEIPT_LINE_BYTES) throw lineTooLong(path, number);
        yield { line: chunk.toString('utf8', start, nl), number };
        start = nl + 1;
      }
      carry = Buffer.from(chunk.subarray(start)); // a copy: `buf` is reused
      if (carry.length > MAX_RECEIPT_LINE_BYTES) throw lineTooLong(path, number + 1);
    }
    if (carry.length > 0) yield { line: carry.toString('utf8'), number: number + 1 };
  } finally {
    closeSync(fd);
  }
}

function lineTooLong(path: string, number: number): TesseraError {
  return new TesseraError(
    'RECEIPT_LINE_TOO_LONG',
    `${path} line ${number} is longer than ${MAX_RECEIPT_LINE_BYTES} bytes; a receipts file has one JSON receipt per line`,
  );
}
