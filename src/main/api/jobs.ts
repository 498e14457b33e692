import { TesseraError } from '../../core/errors.js';
import { JobsQuerySchema, type JobRow, type JobsPage, type JobsQuery } from '../../shared/contract.js';
import type { Database } from '../db/database.js';
import { sql, type SqlQuery } from '../db/sql.js';
import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

type Row = {
  seq: number | bigint;
  market_id: string;
  task_id: string;
  job_id: string;
  workload: string;
  bytes: number | bigint;
  proof: string | null;
  backend: string | null;
  duration_ms: number | bigint | null;
  status: JobRow['status'];
  code: string | null;
  credits: number | bigint;
  started_at: number | bigint;
  finished_at: number | bigint | null;
};

const toRow = (r: Row): JobRow => ({
  market_id: r.market_id,
  task_id: r.task_id,
  job_id: r.job_id,
  workload: r.workload,
  bytes: Number(r.bytes),
  proof: r.proof,
  backend: r.backend,
  duration_ms: r.duration_ms === null ? null : Number(r.duration_ms),
  status: r.status,
  code: r.code,
  credits: BigInt(r.credits).toString(),
  started_at: Number(r.started_at),
  finished_at: r.finished_at === null ? null : Number(r.finished_at),
});

/** The job history newest first, a page at a time (cursor = the last row's sequence number), filtered by status, workload, start time. */
export function queryJobs(db: Database, query: JobsQuery): JobsPage {
  const q = JobsQuerySchema.parse(query);
  let before: bigint | undefined;
  if (q.cursor !== undefined) {
    if (!/^\d{1,19}$/.test(q.cursor)) throw new TesseraError('BAD_ARGUMENTS', `jobs:list: cursor "${q.cursor.slice(0, 40)}" is not one this node gave out; start from the first page`);
    before = BigInt(q.cursor);
  }
  const where: SqlQuery = sql`WHERE 1 = 1${q.status !== undefined ? sql` AND status = ${q.status}` : sql``}${q.workload !== undefined ? sql` AND workload = ${q.workload}` : sql``}${q.since !== undefined ? sql` AND started_at >= ${q.since}` : sql``}`;
  const total = Number(db.get<{ n: number | bigint }>(sql`SELECT count(*) AS n FROM provider_jobs ${where}`)?.n ?? 0);
  const rows = db.all<Row>(sql`SELECT * FROM provider_jobs ${where}${before !== undefined ? sql` AND seq < ${before}` : sql``} ORDER BY seq DESC LIMIT ${q.limit + 1}`);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return { rows: page.map(toRow), next: rows.length > q.limit && last ? BigInt(last.seq).toString() : null, total };
}

/** The distinct workloads in the job history, sorted (the Jobs screen's filter), at most 1000. */
export function jobWorkloads(db: Database): string[] {
  return db.all<{ workload: string }>(sql`SELECT DISTINCT workload FROM provider_jobs ORDER BY workload LIMIT 1000`).map((r) => r.workload);
}

/** jobs:list and jobs:workloads. */
export function jobsHandlers(node: AppService): HandlerSet {
  return { 'jobs:list': (query) => queryJobs(node.ledger.db, query), 'jobs:workloads': () => jobWorkloads(node.ledger.db) };
}
