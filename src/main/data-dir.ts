import { mkdirSync, statSync } from 'node:fs';
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
  };
}

/** Creates the data directory if needed; a path that exists but is not a directory is an error. */
export function ensureDataDir(d: DataDir): DataDir {
  try {
    mkdirSync(d.root, { recursive: true });
  } catch (err) {
    throw new StorageError('DATA_DIR', `cannot create data directory ${d.root}: ${(err as Error).message}`);
  }
  if (!statSync(d.root).isDirectory()) throw new StorageError('DATA_DIR', `${d.root} is not a directory; choose another --data-dir`);
  return d;
}
