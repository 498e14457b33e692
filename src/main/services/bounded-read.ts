import { constants, type FileHandle, open } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TesseraError } from '../../core/errors.js';
import { describeFsError } from './fs-errors.js';

/**
 * Reads a file the node depends on (config, price board, receipts file, bundle, key), bounded:
 * the path must name a regular file (checked with fstat after open, so a symlink to a device,
 * a FIFO or a directory is refused without blocking or reading) and the read stops at
 * `maxBytes` — a file that grows past the limit while being read is refused too.
 *
 * O_NONBLOCK on open keeps a FIFO from hanging the open itself; it has no effect on regular files.
 */
export async function readRegularFile(path: string, maxBytes: number, what = 'file'): Promise<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw unreadable(err, path);
  }
  try {
    const st = await fh.stat().catch((err: unknown) => {
      throw unreadable(err, path);
    });
    checkRegular(st, path, what, maxBytes);
    return await readAll(
      (buf, off, len, pos) =>
        fh.read(buf, off, len, pos).then(
          (r) => r.bytesRead,
          (err: unknown) => {
            throw unreadable(err, path);
          },
        ),
      path,
      what,
      maxBytes,
    );
  } finally {
    await fh.close();
  }
}

/** Synchronous twin of {@link readRegularFile} for start-up paths that are synchronous. */
export function readRegularFileSync(path: string, maxBytes: number, what = 'file'): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw unreadable(err, path);
  }
  try {
    checkRegular(fstatSync(fd), path, what, maxBytes);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        throw unreadable(err, path);
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooLarge(path, what, maxBytes);
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

function checkRegular(
  st: { isFile(): boolean; isDirectory(): boolean; size: number },
  path: string,
  what: string,
  maxBytes: number,
): void {
  if (st.isDirectory()) throw new TesseraError('FILE_NOT_REGULAR', `${path} is a directory, not a ${what}`);
  if (!st.isFile())
    throw new TesseraError(
      'FILE_NOT_REGULAR',
      `${path} is not a regular file (a device, pipe or socket); the ${what} must be a plain file`,
    );
  if (st.size > maxBytes) throw tooLarge(path, what, maxBytes);
}

async function readAll(
  read: (buf: Buffer, off: number, len: number, pos: null) => Promise<number>,
  path: string,
  what: string,
  maxBytes: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
    const n = await read(buf, 0, buf.length, null);
    if (n === 0) break;
    total += n;
    if (total > maxBytes) throw tooLarge(path, what, maxBytes);
    chunks.push(buf.subarray(0, n));
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(path: string, what: string, maxBytes: number): TesseraError {
  return new TesseraError(
    'FILE_TOO_LARGE',
    `${path} is larger than the ${maxBytes}-byte limit for a ${what}; check that it is the right file`,
  );
}

/** An open/stat/read failure: one line naming the path; the fs error is kept as `cause` (its `code` tells ENOENT apart). */
function unreadable(err: unknown, path: string): TesseraError {
  return new TesseraError('FILE_UNREADABLE', describeFsError(err, path), { cause: err });
}
