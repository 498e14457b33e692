import { TesseraError, errorMessage } from '../../core/errors.js';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { toHex } from '../../core/hex.js';
import { MAX_COURIER_BUNDLE_BYTES } from '../../shared/courier-protocol.js';
import { readRegularFileSync } from './bounded-read.js';
import { describeFsError } from './fs-errors.js';

const INCOMING = '.incoming-';

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

  /**
   * Removes temp files left by a `put` whose process died (SIGKILL during `courier send`). A
   * temp file names its writer's pid; one whose process is still running is left alone.
   * Returns how many were removed. A missing store, or `bundles` not being a directory, is
   * left for `put`/`get` to report.
   */
  removeStaleIncoming(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      if (!name.startsWith(INCOMING)) continue;
      const pid = Number(/^\.incoming-(\d+)-/.exec(name)?.[1]);
      if (pid === process.pid || (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid))) continue;
      try {
        rmSync(join(this.dir, name), { force: true });
        removed++;
      } catch {
        // Not ours to fight over (permissions); the next open tries again.
      }
    }
    return removed;
  }

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
      try {
        mkdirSync(this.dir, { recursive: true });
      } catch (err) {
        throw new BundleError(`bundle store ${describeFsError(err, this.dir)}; it must be a directory`);
      }
      tmp = join(this.dir, `${INCOMING}${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
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

  /** Reads a bundle back (a regular file of at most MAX_COURIER_BUNDLE_BYTES), verifying its content hash. */
  get(hash: string): Buffer {
    const path = this.pathFor(hash);
    let data: Buffer;
    try {
      data = readRegularFileSync(path, MAX_COURIER_BUNDLE_BYTES, 'courier bundle');
    } catch (err) {
      throw new BundleError(`courier bundle ${errorMessage(err)}`);
    }
    if (toHex(this.blake3.hash(data)) !== hash) throw new BundleError(`courier bundle ${path} is damaged (its BLAKE3 no longer matches)`);
    return data;
  }

  pathFor(hash: string): string {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new BundleError(`invalid bundle hash ${hash}`);
    return join(this.dir, hash.slice(0, 2), hash);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
