import { TesseraError } from '../../core/errors.js';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { toHex } from '../../core/hex.js';
import { describeFsError } from './fs-errors.js';

/** A courier bundle problem a person can fix (bad path, too big, damaged store). */
export class BundleError extends TesseraError {
  constructor(message: string, code = 'BUNDLE') {
    super(code, message);
    this.name = 'BundleError';
  }
}

/**
 * Content-addressed bundle bytes: `<dir>/<hash[0..2]>/<hash>`. A put streams the file through
 * BLAKE3 into a temp file, fsyncs and renames it into place, so a crash never leaves a
 * partial bundle under its final name.
 */
export class BundleStore {
  constructor(
    readonly dir: string,
    private readonly blake3: Blake3Hasher,
  ) {}

  /** Copies a file into the store; throws BundleError (nothing stored) if it is unreadable or over `maxBytes`. */
  put(path: string, maxBytes: number): { hash: string; bytes: number } {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new BundleError(`bundle ${describeFsError(err, path)}`);
    }
    let tmp: string | undefined;
    let out: number | undefined;
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new BundleError(`bundle ${path} is a directory, not a file`);
      if (st.size > maxBytes) throw new BundleError(`bundle ${path} is ${st.size} bytes, over the ${maxBytes}-byte courier limit`);
      mkdirSync(this.dir, { recursive: true });
      tmp = join(this.dir, `.incoming-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
      out = openSync(tmp, 'w');
      const h = this.blake3.create();
      const buf = Buffer.allocUnsafe(1 << 20);
      let total = 0;
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (err) {
          throw new BundleError(`bundle ${describeFsError(err, path)}`);
        }
        if (n === 0) break;
        total += n;
        if (total > maxBytes) throw new BundleError(`bundle ${path} grew past the ${maxBytes}-byte courier limit while being read`);
        h.update(buf.subarray(0, n));
        writeSync(out, buf, 0, n);
      }
      fsyncSync(out);
      closeSync(out);
      out = undefined;
      const hash = toHex(h.digest());
      const final = this.pathFor(hash);
      mkdirSync(join(this.dir, hash.slice(0, 2)), { recursive: true });
      if (existsSync(final)) rmSync(tmp);
      else renameSync(tmp, final);
      tmp = undefined;
      return { hash, bytes: total };
    } finally {
      closeSync(fd);
      if (out !== undefined) closeSync(out);
      if (tmp !== undefined) rmSync(tmp, { force: true });
    }
  }

  /** Reads a bundle back, verifying its content hash. */
  get(hash: string): Buffer {
    const path = this.pathFor(hash);
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      throw new BundleError(`courier bundle ${describeFsError(err, path)}`);
    }
    if (toHex(this.blake3.hash(data)) !== hash) throw new BundleError(`courier bundle ${path} is damaged (its BLAKE3 no longer matches)`);
    return data;
  }

  pathFor(hash: string): string {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new BundleError(`invalid bundle hash ${hash}`);
    return join(this.dir, hash.slice(0, 2), hash);
  }
}
