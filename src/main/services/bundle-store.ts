import { TesseraError, errorMessage } from '../../core/errors.js';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { toHex } from '../../core/hex.js';
import { MAX_COURIER_BUNDLE_BYTES } from '../../shared/courier-protocol.js';
import { readRegularFileSync } from './bounded-read.js';
import { describeFsError } from './fs-errors.js';
import { StorageError } from '../db/errors.js';

const INCOMING = '.incoming-';

/** A courier bundle problem a person can fix (bad path, too big, damaged store). */
export class BundleError extends TesseraError {
  constructor(message: string, code = 'BUNDLE') {
    super(code, message);
    this.name = 'BundleError';
  }
}

/** A stored bundle: its BLAKE3 (hex) and size. */
export interface StoredBundle {
  hash: string;
  bytes: number;
}

/** `fs.writeSync`'s shape: bytes written, possibly fewer than asked (tests inject short writes and ENOSPC). */
export type BundleWrite = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

/**
 * Content-addressed bundle bytes: `<dir>/<hash[0..2]>/<hash>`. A put streams the bytes through
 * BLAKE3 into a temp file (every write's byte count checked), fsyncs it, verifies what was
 * written and renames it into place, so neither a crash nor a full disk leaves a partial
 * bundle under its final name.
 */
export class BundleStore {
  private readonly write: BundleWrite;

  constructor(
    readonly dir: string,
    private readonly blake3: Blake3Hasher,
    io: { write?: BundleWrite } = {},
  ) {
    this.write = io.write ?? writeSync;
  }

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
  put(path: string, maxBytes: number): StoredBundle {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new BundleError(`bundle ${describeFsError(err, path)}`);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new BundleError(`bundle ${path} is a directory, not a file`);
      if (st.size > maxBytes)
        throw new BundleError(`bundle ${path} is ${st.size} bytes, over the ${maxBytes}-byte courier limit`);
      return this.store(readChunks(fd, path, maxBytes));
    } finally {
      closeSync(fd);
    }
  }

  /** Stores bytes the caller already holds (a file the user picked or uploaded); over `maxBytes`: BundleError, nothing stored. */
  putBytes(data: Uint8Array, maxBytes: number, name = 'bundle'): StoredBundle {
    if (data.length > maxBytes)
      throw new BundleError(`${name} is ${data.length} bytes, over the ${maxBytes}-byte courier limit`);
    return this.store([data]);
  }

  /**
   * Writes the chunks to a temp file (every write checked for its byte count), fsyncs it,
   * reads it back and compares its BLAKE3 with what was given, and only then renames it into
   * place. A bundle already stored under that hash is kept only if it verifies; a damaged one
   * (a truncated copy from an older version) is replaced. A full disk is a DISK_FULL
   * StorageError; nothing is left behind on any failure.
   */
  private store(chunks: Iterable<Uint8Array>): StoredBundle {
    this.fs(() => mkdirSync(this.dir, { recursive: true }), this.dir, 'bundle store', '; it must be a directory');
    const tmp = join(this.dir, `${INCOMING}${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    let out: number | undefined;
    let kept = false;
    try {
      out = this.fs(() => openSync(tmp, 'wx', 0o600), tmp);
      const h = this.blake3.create();
      let total = 0;
      for (const chunk of chunks) {
        h.update(chunk);
        this.writeAll(out, chunk, tmp);
        total += chunk.length;
      }
      const fd = out;
      this.fs(() => fsyncSync(fd), tmp);
      out = undefined;
      this.fs(() => closeSync(fd), tmp);
      const hash = toHex(h.digest());
      const written = this.hashFile(tmp);
      if (written !== hash)
        throw new BundleError(
          `bundle ${tmp} did not read back as written (BLAKE3 differs); check the disk holding ${this.dir}`,
        );
      const final = this.pathFor(hash);
      this.fs(() => mkdirSync(join(this.dir, hash.slice(0, 2)), { recursive: true }), this.dir, 'bundle store');
      // Reused only when it verifies: a damaged copy is replaced (rename is atomic).
      if (this.hashFile(final) !== hash) {
        this.fs(() => renameSync(tmp, final), final);
        kept = true;
      }
      return { hash, bytes: total };
    } finally {
      if (out !== undefined) closeSync(out);
      if (!kept) rmSync(tmp, { force: true });
    }
  }

  /** Writes all of `chunk`, looping over short writes; a write that makes no progress or fails throws. */
  private writeAll(fd: number, chunk: Uint8Array, path: string): void {
    let off = 0;
    while (off < chunk.length) {
      const at = off;
      const n = this.fs(() => this.write(fd, chunk, at, chunk.length - at), path);
      if (!Number.isInteger(n) || n <= 0)
        throw new BundleError(
          `could not write ${path}: the disk took 0 of the ${chunk.length - off} bytes left; check the disk holding ${this.dir}`,
        );
      off += n;
    }
  }

  /** The BLAKE3 of a stored file, hex, read in chunks; undefined when it cannot be read (absent, not a file). */
  private hashFile(path: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    try {
      if (!fstatSync(fd).isFile()) return undefined;
      const h = this.blake3.create();
      for (const chunk of readChunks(fd, path, Number.MAX_SAFE_INTEGER)) h.update(chunk);
      return toHex(h.digest());
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Every stored bundle re-hashed: its BLAKE3 must equal its name (`tessera doctor`). Temp
   * files of sends in progress are skipped. A missing store has nothing to check.
   */
  verifyAll(): { checked: number; damaged: { hash: string; reason: string }[] } {
    const damaged: { hash: string; reason: string }[] = [];
    let checked = 0;
    let shards: string[];
    try {
      shards = readdirSync(this.dir);
    } catch {
      return { checked, damaged };
    }
    for (const shard of shards.sort()) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      let names: string[];
      try {
        names = readdirSync(join(this.dir, shard));
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (!/^[0-9a-f]{64}$/.test(name) || name.slice(0, 2) !== shard) continue;
        checked++;
        const got = this.hashFile(join(this.dir, shard, name));
        if (got === undefined) damaged.push({ hash: name, reason: 'unreadable' });
        else if (got !== name)
          damaged.push({ hash: name, reason: 'its BLAKE3 no longer matches its name (truncated or changed)' });
      }
    }
    return { checked, damaged };
  }

  /** Runs one fs call of a write; a full disk becomes DISK_FULL, any other errno a one-line BundleError naming `path`. */
  private fs<T>(call: () => T, path: string, what = 'bundle', advice = ''): T {
    try {
      return call();
    } catch (err) {
      if (err instanceof TesseraError) throw err;
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new StorageError(
          'DISK_FULL',
          `the disk holding ${this.dir} is full${code === 'EDQUOT' ? ' (disk quota reached)' : ''}: free space and send again`,
          { cause: err },
        );
      }
      if (typeof code === 'string') throw new BundleError(`${what} ${describeFsError(err, path)}${advice}`);
      throw err;
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
    if (toHex(this.blake3.hash(data)) !== hash)
      throw new BundleError(`courier bundle ${path} is damaged (its BLAKE3 no longer matches)`);
    return data;
  }

  pathFor(hash: string): string {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new BundleError(`invalid bundle hash ${hash}`);
    return join(this.dir, hash.slice(0, 2), hash);
  }
}

/** Reads an open file in 1 MiB chunks (each a fresh copy), refusing one that grows past `maxBytes`. */
function* readChunks(fd: number, path: string, maxBytes: number): Generator<Uint8Array> {
  const buf = Buffer.allocUnsafe(1 << 20);
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      throw new BundleError(`bundle ${describeFsError(err, path)}`);
    }
    if (n === 0) return;
    total += n;
    if (total > maxBytes)
      throw new BundleError(`bundle ${path} grew past the ${maxBytes}-byte courier limit while being read`);
    yield Buffer.from(buf.subarray(0, n));
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
