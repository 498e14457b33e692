import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The part of a file handle `writeFileAtomic` uses. */
export interface AtomicFileHandle {
  writeFile(data: Uint8Array): Promise<void>;
  /** fsync: the file's data and metadata reach the disk. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system calls `writeFileAtomic` makes, in the order that makes it durable. The
 * default is node:fs/promises; tests pass a recording port to check the order of the durable
 * operations (write, fsync file, rename, fsync directory) directly, because no crash test can:
 * SIGKILL does not lose the page cache, so a missing fsync passes every kill.
 */
export interface AtomicFileSystem {
  mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
  open(path: string, flags: string, mode?: number): Promise<AtomicFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

export interface AtomicFileDeps {
  /** File-system port (default node:fs/promises). */
  fs?: AtomicFileSystem;
}

const defaultFs: AtomicFileSystem = {
  mkdir: (path, options) => nodeFs.mkdir(path, options),
  open: (path, flags, mode) => nodeFs.open(path, flags, mode),
  rename: (from, to) => nodeFs.rename(from, to),
  unlink: (path) => nodeFs.unlink(path),
};

/** Prefix of the temporary files `writeFileAtomic` creates next to `path`. */
export function tempPrefix(path: string): string {
  return `${basename(path)}.tmp-`;
}

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either the old file or
 * the new one, never a mix: write a temp file in the same directory, fsync it, rename it over
 * the target, then fsync the directory so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, deps: AtomicFileDeps = {}): Promise<void> {
  const fs = deps.fs ?? defaultFs;
  const dir = dirname(path);
  // A directory created here must itself be made durable in its parent, or a power cut could
  // lose the new directory together with the file renamed into it.
  const created = await fs.mkdir(dir, { recursive: true });
  if (created !== undefined) {
    for (let d = dir; ; d = dirname(d)) {
      await syncDirectory(dirname(d), deps);
      if (d === created || dirname(d) === d) break;
    }
  }
  const tmp = join(dir, `${tempPrefix(path)}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await fs.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir, deps);
}

/** fsyncs a directory (makes a rename in it durable). Windows cannot open directories; skip there. */
export async function syncDirectory(dir: string, deps: AtomicFileDeps = {}): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await (deps.fs ?? defaultFs).open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Deletes temp files a crashed `writeFileAtomic(path, …)` left behind; returns how many. */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = await nodeFs.readdir(dirname(path));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    await nodeFs.unlink(join(dirname(path), name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}
