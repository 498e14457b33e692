import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { penalizeSla } from '../../src/core/pricing/sla.js';
import { Database } from '../../src/main/db/database.js';
import { LedgerRepo } from '../../src/main/db/repos/ledger-repo.js';
import { bondAccount, SqliteBondLedger } from '../../src/main/services/bond-ledger.js';
import { CreditMovements } from '../../src/main/services/credit-movements.js';
import { tempDir } from '../support/temp-dir.js';

describe('SqliteBondLedger (penalize_sla through the SQLite ledger)', () => {
  it('slashes exactly the bond, once per job, as an explicit burn that keeps conservation', () => {
    const db = Database.open(join(tempDir(), 'ledger.db'));
    const repo = new LedgerRepo(db);
    db.transaction(() => repo.mint('m1', 'prov', 500n, 'fund', 1));
    const credits = new CreditMovements({ db, clock: { now: () => 2 } });
    credits.setMode('real'); // in dry-run a slash waits as a pending movement (test/main/settlement-dry-run.test.ts)
    const bonds = new SqliteBondLedger({ db, credits, clock: { now: () => 2 } });
    bonds.deposit('prov', 200n, 'dep-1');
    expect(repo.balance(bondAccount('prov'))).toBe(200n);
    expect(penalizeSla(bonds, { jobId: 'job-9', provider: 'prov', bond: 75n })).toMatchObject({
      amount: 75n,
      code: 'SLA',
    });
    // Same job again (e.g. after a restart forgot it was reported): nothing moves, nothing is reported.
    expect(penalizeSla(bonds, { jobId: 'job-9', provider: 'prov', bond: 75n })).toBeUndefined();
    expect(repo.balance(bondAccount('prov'))).toBe(125n);
    expect(repo.balance('prov')).toBe(300n);
    expect(repo.checkConservation()).toMatchObject({ ok: true, minted: 500n, burned: 75n, total: 425n });
    expect(() => penalizeSla(bonds, { jobId: 'job-10', provider: 'prov', bond: 1000n })).toThrow(
      /holds 125 credits, cannot slash 1000/,
    );
    expect(repo.balance(bondAccount('prov'))).toBe(125n);
    db.close();
  });
});
