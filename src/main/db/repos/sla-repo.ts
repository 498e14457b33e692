import type { SlaCommitment, SlaDeadlineStore } from '../../../core/pricing/sla.js';
import type { Database } from '../database.js';
import { sql } from '../sql.js';

type SlaRow = {
  job_id: string;
  provider: string;
  bond: bigint;
  deadline: bigint;
};

/**
 * Open SLA deadlines in the ledger database (migration 5), so a restart resumes them: the
 * store behind the admission SlaMonitor. Rows are removed once a deadline is settled.
 */
export class SlaRepo implements SlaDeadlineStore {
  constructor(private readonly db: Database) {}

  list(): SlaCommitment[] {
    return this.db
      .all<SlaRow>(sql`SELECT job_id, provider, bond, deadline FROM sla_deadlines ORDER BY seq`)
      .map((r) => ({ jobId: r.job_id, provider: r.provider, bond: BigInt(r.bond), deadline: Number(r.deadline) }));
  }

  add(c: SlaCommitment): void {
    this.db.run(
      sql`INSERT INTO sla_deadlines (job_id, provider, bond, deadline) VALUES (${c.jobId}, ${c.provider}, ${c.bond}, ${c.deadline})`,
    );
  }

  remove(jobId: string): void {
    this.db.run(sql`DELETE FROM sla_deadlines WHERE job_id = ${jobId}`);
  }
}
