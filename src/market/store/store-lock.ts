import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MarketStoreError } from './errors.js';

/**
 * The embedded store is one process's: PGlite has no cross-process locking, so two processes on
 * one directory would corrupt it. A lock file with the owner's pid guards it; a lock left by a
 * process that no longer runs is taken over.
 */
export function lockStoreDir(dir: string): () => void {
  const path = join(dir, 'market.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new MarketStoreError(
          'STORE_IN_USE',
          `the embedded market store in ${dir} is in use by process ${pid} (a running tessera market?); stop it first, or share a PostgreSQL server with --store postgres://…`,
        );
      }
      if (pid === process.pid)
        throw new MarketStoreError(
          'STORE_IN_USE',
          `the embedded market store in ${dir} is already open in this process`,
        );
      rmSync(path, { force: true });
    }
  }
  throw new MarketStoreError('STORE_IN_USE', `cannot lock the embedded market store in ${dir}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
