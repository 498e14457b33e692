import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLedger } from '../../src/main/ledger.js';
import { tempDir } from '../support/temp-dir.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe.skipIf(process.platform === 'win32')('data directory permissions', () => {
  it('a new data dir is 0700 and its ledger.db (and WAL) 0600', async () => {
    const dd = join(tempDir(), 'node');
    const ledger = await openLedger({ dataDir: dd });
    try {
      ledger.settlement.fund('buyer', 1n); // a write: the WAL exists
      expect(mode(dd).toString(8)).toBe('700');
      expect(mode(join(dd, 'ledger.db')).toString(8)).toBe('600');
      for (const f of ['ledger.db-wal', 'ledger.db-shm'])
        if (existsSync(join(dd, f))) expect(mode(join(dd, f)).toString(8)).toBe('600');
    } finally {
      ledger.close();
    }
  });

  it('an existing data dir (0755) and ledger (0644) are tightened at the next open', async () => {
    const dd = join(tempDir(), 'node');
    mkdirSync(dd);
    (await openLedger({ dataDir: dd })).close();
    chmodSync(dd, 0o755);
    chmodSync(join(dd, 'ledger.db'), 0o644);
    const ledger = await openLedger({ dataDir: dd });
    try {
      expect(mode(dd).toString(8)).toBe('700');
      expect(mode(join(dd, 'ledger.db')).toString(8)).toBe('600');
    } finally {
      ledger.close();
    }
  });
});
