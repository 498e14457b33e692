import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StorageError } from './db/errors.js';

/** Where a node keeps its state. */
export interface DataDir {
  root: string;
  /** SQLite ledger: receipts, settlement, courier queue, counters. */
  dbPath: string;
  /** Content-addressed courier bundles. */
  bundlesDir: string;
  /** Other state files (price board, …). */
  stateDir: string;
  configPath: string;
  /** The node's Ed25519 key. */
  identityPath: string;
}

/** Default for the CLI: `node-data/` under the current directory. The desktop app passes its userData dir. */
export const DEFAULT_DATA_DIR = 'node-data';

export function dataDirPaths(dir: string = DEFAULT_DATA_DIR, cwd: string = process.cwd()): DataDir {
  const root = resolve(cwd, dir);
  return {
    root,
    dbPath: join(root, 'ledger.db'),
    bundlesDir: join(root, 'bundles'),
    stateDir: join(root, 'state'),
    configPath: join(root, 'config.toml'),
    identityPath: join(root, 'identity.pem'),
  };
}

/** Mode of the data directory (ledger, key, bundles): the owner's alone. */
export const DATA_DIR_MODE = 0o700;

/**
 * Creates the data directory if needed, 0700, and tightens an existing one to 0700 (POSIX); a
 * path that exists but is not a directory is an error.
 */
export function ensureDataDir(d: DataDir): DataDir {
  try {
    mkdirSync(d.root, { recursive: true, mode: DATA_DIR_MODE });
  } catch (err) {
    throw new StorageError('DATA_DIR', `cannot create data directory ${d.root}: ${(err as Error).message}`);
  }
  const st = statSync(d.root);
  if (!st.isDirectory()) throw new StorageError('DATA_DIR', `${d.root} is not a directory; choose another --data-dir`);
  if (process.platform !== 'win32' && (st.mode & 0o777) !== DATA_DIR_MODE) {
    try {
      chmodSync(d.root, DATA_DIR_MODE);
    } catch (err) {
      throw new StorageError(
        'DATA_DIR',
        `cannot make data directory ${d.root} private (chmod 700): ${(err as Error).message}; choose a --data-dir you own`,
      );
    }
  }
  return d;
}

/** For inspection: the data directory must already exist; nothing is created. */
export function requireDataDir(d: DataDir): DataDir {
  let isDir: boolean;
  try {
    isDir = statSync(d.root).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new StorageError(
        'NO_DATA_DIR',
        `no data directory at ${d.root}; nothing has been stored yet (pass --data-dir to inspect another one)`,
      );
    throw new StorageError('DATA_DIR', `cannot read data directory ${d.root}: ${(err as Error).message}`);
  }
  if (!isDir) throw new StorageError('DATA_DIR', `${d.root} is not a directory; choose another --data-dir`);
  return d;
}

/** What a data directory holds around its ledger (checked before a ledger is opened). */
export interface LedgerPresence {
  /** Size of ledger.db in bytes; undefined when there is no such file. */
  ledgerBytes: number | undefined;
  /** ledger.db is missing or 0 bytes (SQLite would take it as a new, empty ledger). */
  ledgerAbsent: boolean;
  /** ledger.db-wal exists while ledger.db is absent: the WAL of a ledger that is gone. */
  orphanWal: boolean;
  /** Signs that a ledger was here before: the node identity, stored bundles, an orphan WAL. */
  traces: string[];
}

/** Looks at the files beside the ledger; reads only. */
export function ledgerPresence(d: DataDir): LedgerPresence {
  const size = fileSize(d.dbPath);
  const walSize = fileSize(`${d.dbPath}-wal`);
  // A 0-byte ledger.db with a non-empty WAL is a ledger being created right now by another process.
  const ledgerAbsent = size === undefined || (size === 0 && !walSize);
  const orphanWal = size === undefined && walSize !== undefined;
  const traces: string[] = [];
  if (fileSize(d.identityPath) !== undefined) traces.push(`a node identity (${d.identityPath})`);
  const bundles = countEntries(d.bundlesDir);
  if (bundles > 0) traces.push(`${bundles} stored courier bundle${bundles === 1 ? '' : 's'} (${d.bundlesDir})`);
  if (orphanWal) traces.push(`an orphan write-ahead log (${d.dbPath}-wal)`);
  return { ledgerBytes: size, ledgerAbsent, orphanWal, traces };
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

function countEntries(dir: string): number {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.')).length;
  } catch {
    return 0;
  }
}
