import {
  closeSync,
  createReadStream,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { MarketStoreError } from './errors.js';

const BLOCK = 512;

/** True when `dataDir` holds a PostgreSQL data directory (initdb ran, or an image was unpacked). */
export function hasPgData(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

/**
 * Unpacks a prebuilt, empty PostgreSQL data directory — a gzip tar as PGlite's `dumpDataDir('gzip')`
 * writes it, made once at build time (scripts/build-practice-store.mjs) — into `dataDir`, which
 * must not exist or be empty. It is unpacked beside `dataDir` first and renamed into place, so a
 * crash mid-way leaves no half data directory. Streams the archive: the image's ~40 MB of files
 * never sit in memory at once, which is the point (a blob handed to PGlite's `loadDataDir` costs
 * ~110 MB more RSS at the start than opening the same files from disk).
 */
export async function unpackPgImage(image: string, dataDir: string): Promise<void> {
  const staging = `${dataDir}.unpacking`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await pipeline(createReadStream(image), createGunzip(), tarExtractor(staging));
    if (!hasPgData(staging)) throw new Error('it holds no PG_VERSION');
    if (existsSync(dataDir)) {
      if (readdirSync(dataDir).length > 0) throw new Error(`${dataDir} is not empty`);
      rmSync(dataDir, { recursive: true });
    }
    renameSync(staging, dataDir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new MarketStoreError(
      'STORE_UNREADABLE',
      `cannot unpack the prebuilt store image ${image} (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/** A Writable that takes a tar stream (ustar / v7: files and directories only) and writes its entries under `root`. */
function tarExtractor(root: string): Writable {
  let buf: Buffer = Buffer.alloc(0);
  let file: { path: string; fd: number; size: number; left: number; pad: number } | null = null;
  let done = false;
  const take = (n: number): Buffer => {
    const head = buf.subarray(0, n);
    buf = buf.subarray(n);
    return head;
  };
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          if (done) {
            buf = Buffer.alloc(0);
            break;
          }
          if (file) {
            if (file.left > 0) {
              if (buf.length === 0) break;
              const part = take(Math.min(file.left, buf.length));
              // Runs of zeros (most of the WAL segment) are left as holes: fewer bytes to write.
              if (!isZero(part)) writeAll(file.fd, part, file.size - file.left);
              file.left -= part.length;
              continue;
            }
            if (buf.length < file.pad) break;
            take(file.pad);
            ftruncateSync(file.fd, file.size);
            closeSync(file.fd);
            file = null;
            continue;
          }
          if (buf.length < BLOCK) break;
          const header = take(BLOCK);
          if (header.every((b) => b === 0)) {
            done = true;
            continue;
          }
          const text = (from: number, len: number) => header.toString('utf8', from, from + len).replace(/\0.*$/s, '');
          const name = text(345, 155) ? `${text(345, 155)}/${text(0, 100)}` : text(0, 100);
          const size = Number.parseInt(text(124, 12).trim() || '0', 8);
          const type = String.fromCharCode(header[156] ?? 0);
          const path = safePath(root, name);
          if (type === '5') mkdirSync(path, { recursive: true });
          else if (type === '0' || type === '\0') {
            mkdirSync(dirname(path), { recursive: true });
            file = { path, fd: openSync(path, 'w', 0o600), size, left: size, pad: (BLOCK - (size % BLOCK)) % BLOCK };
          } else throw new Error(`entry ${name} has unsupported type "${type}"`);
        }
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    final(cb) {
      cb(file ? new Error(`the archive ends inside ${file.path}`) : null);
    },
    destroy(err, cb) {
      if (file) closeSync(file.fd);
      file = null;
      cb(err);
    },
  });
}

const ZEROS = Buffer.alloc(64 * 1024);

function isZero(b: Buffer): boolean {
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - off);
    if (!b.subarray(off, off + n).equals(ZEROS.subarray(0, n))) return false;
  }
  return true;
}

/** Writes all of `data` at `position` (writeSync may write less than asked). */
function writeAll(fd: number, data: Buffer, position: number): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off, position + off);
}

/** `name` under `root`; refuses an entry that would land outside it. */
function safePath(root: string, name: string): string {
  const rel = normalize(name.replace(/^\/+/, ''));
  if (rel === '.' || rel === '') return root;
  if (rel.startsWith('..') || rel.includes(`${sep}..${sep}`)) throw new Error(`entry ${name} points outside the store`);
  return join(root, rel);
}
