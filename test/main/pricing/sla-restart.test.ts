import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PriceBoard } from '../../../src/core/pricing/price-board.js';
import type { BondLedger, SlaPenalty, SlashReason } from '../../../src/core/pricing/sla.js';
import { defaultConfig } from '../../../src/main/config/load-config.js';
import { Database } from '../../../src/main/db/database.js';
import { LedgerRepo } from '../../../src/main/db/repos/ledger-repo.js';
import { SlaRepo } from '../../../src/main/db/repos/sla-repo.js';
import { createMetricsRegistry, metricValue } from '../../../src/main/metrics.js';
import { AdmissionService } from '../../../src/main/services/admission-service.js';
import { SqliteBondLedger } from '../../../src/main/services/bond-ledger.js';
import { sql } from '../../../src/main/db/sql.js';
import { tempDir } from '../../support/temp-dir.js';
import { FakeClock } from '../../core/pricing/fakes.js';

/** The SQLite bond ledger, counting the slashes it reports as applied (true). */
class CountingBondLedger implements BondLedger {
  applied = 0;
  constructor(private readonly inner: BondLedger) {}
  slash(provider: string, amount: bigint, reason: SlashReason, ref: string): boolean {
    const moved = this.inner.slash(provider, amount, reason, ref);
    if (moved) this.applied++;
    return moved;
  }
}

/** One node run on the ledger at `path`: a fresh connection, bond ledger and admission service. */
function openRun(path: string, clock: FakeClock) {
  const db = Database.open(path);
  const bonds = new SqliteBondLedger({ db });
  const ledger = new CountingBondLedger(bonds);
  const registry = createMetricsRegistry();
  const service = new AdmissionService({
    config: defaultConfig(),
    board: new PriceBoard(100),
    ledger,
    deadlines: new SlaRepo(db),
    registry,
    clock,
  });
  return {
    db,
    bonds,
    ledger,
    registry,
    service,
    open: () => db.all<{ job_id: string }>(sql`SELECT job_id FROM sla_deadlines ORDER BY seq`).map((r) => r.job_id),
  };
}

function fund(path: string): void {
  const db = Database.open(path);
  db.transaction(() => new LedgerRepo(db).mint('fund-prov', 'prov', 1_000n, 'fund', 1));
  new SqliteBondLedger({ db }).deposit('prov', 500n, 'dep-1');
  db.close();
}

describe('SLA deadlines across a restart', () => {
  it('resumes an open deadline and slashes it exactly once after it passes while the node was down', async () => {
    const path = join(tempDir(), 'ledger.db');
    const clock = new FakeClock();
    fund(path);

    const first = openRun(path, clock);
    first.service.declareDeadline({ jobId: 'job-1', provider: 'prov', bond: 120n, deadline: clock.now() + 5_000 });
    first.service.declareDeadline({ jobId: 'job-2', provider: 'prov', bond: 30n, deadline: clock.now() + 60_000 });
    expect(first.service.tick().penalties).toEqual([]);
    expect(first.open()).toEqual(['job-1', 'job-2']);
    first.db.close(); // the node stops with both deadlines open

    clock.advance(10_000); // job-1's deadline passes while the node is down
    const second = openRun(path, clock);
    expect(second.service.controller.sla.watching).toBe(2);
    const penalties: SlaPenalty[] = second.service.tick().penalties;
    expect(penalties).toEqual([{ jobId: 'job-1', provider: 'prov', amount: 120n, code: 'SLA' }]);
    expect(second.ledger.applied).toBe(1);
    expect(await metricValue(second.registry, 'industrial_rejected_total', { reason: 'SLA' })).toBe(1);
    expect(second.service.tick().penalties).toEqual([]);
    expect(second.open()).toEqual(['job-2']);
    // job-2 finishes on time: settled, no slash, no longer stored.
    expect(second.service.finish('job-2').penalty).toBeUndefined();
    expect(second.open()).toEqual([]);
    second.db.close();

    clock.advance(100_000);
    const third = openRun(path, clock);
    expect(third.service.controller.sla.watching).toBe(0);
    expect(third.service.tick().penalties).toEqual([]);
    expect(third.ledger.applied).toBe(0);
    third.db.close();
  });

  it('slashes nothing twice when the node stopped between the slash and forgetting the deadline', () => {
    const path = join(tempDir(), 'ledger.db');
    const clock = new FakeClock();
    fund(path);

    const first = openRun(path, clock);
    first.service.declareDeadline({ jobId: 'job-7', provider: 'prov', bond: 50n, deadline: clock.now() + 1 });
    clock.advance(2);
    expect(first.service.tick().penalties.map((p) => p.jobId)).toEqual(['job-7']);
    expect(first.ledger.applied).toBe(1);
    // What a crash right after the slash transaction (before the row was deleted) leaves behind.
    first.db.run(
      sql`INSERT INTO sla_deadlines (job_id, provider, bond, deadline) VALUES ('job-7', 'prov', 50, ${clock.now() - 1})`,
    );
    first.db.close();

    const second = openRun(path, clock);
    expect(second.service.controller.sla.watching).toBe(1);
    expect(second.service.tick().penalties).toEqual([]); // the ledger already holds this job's slash
    expect(second.ledger.applied).toBe(0);
    expect(second.open()).toEqual([]);
    second.db.close();
  });

  it('forgets a cancelled job’s deadline durably', () => {
    const path = join(tempDir(), 'ledger.db');
    const clock = new FakeClock();
    const run = openRun(path, clock);
    run.service.reportCapacity('prov', 4);
    const queued = run.service.submit({ id: 'job-c', lane: 'industrial', fee: 1n, shards: 1 });
    expect(queued.outcome).toBe('admitted');
    run.service.declareDeadline({ jobId: 'job-c', provider: 'prov', bond: 10n, deadline: clock.now() + 1_000 });
    expect(run.open()).toEqual(['job-c']);
    expect(run.service.cancel('job-c')).toBe(true);
    expect(run.open()).toEqual([]);
    run.db.close();
  });
});
