import { TesseraError } from '../../core/errors.js';
import { JobsQuerySchema, type JobsPage, type JobsQuery } from '../../shared/contract.js';
import type { Database } from '../db/database.js';
import { ProviderJobsRepo } from '../db/repos/provider-jobs-repo.js';
import type { AppService } from './app-service.js';
import { jobRow } from './contract-rows.js';
import type { HandlerSet } from './handlers.js';

/** The job history newest first, a page at a time (cursor = the last row's sequence number), filtered by status, workload, start time. */
export function queryJobs(db: Database, query: JobsQuery): JobsPage {
  const q = JobsQuerySchema.parse(query);
  let before: bigint | undefined;
  if (q.cursor !== undefined) {
    if (!/^\d{1,19}$/.test(q.cursor))
      throw new TesseraError(
        'BAD_ARGUMENTS',
        `jobs:list: cursor "${q.cursor.slice(0, 40)}" is not one this node gave out; start from the first page`,
      );
    before = BigInt(q.cursor);
  }
  const filter = {
    ...(q.status !== undefined ? { status: q.status } : {}),
    ...(q.workload !== undefined ? { workload: q.workload } : {}),
    ...(q.since !== undefined ? { since: q.since } : {}),
  };
  const page = new ProviderJobsRepo(db).page(filter, q.limit, before);
  return { rows: page.jobs.map(jobRow), next: page.next === null ? null : page.next.toString(), total: page.total };
}

/** jobs:list and jobs:workloads (the Jobs screen's filter: the distinct workloads, sorted, at most 1000). */
export function jobsHandlers(node: AppService): HandlerSet {
  return {
    'jobs:list': (query) => queryJobs(node.ledger.db, query),
    'jobs:workloads': () => new ProviderJobsRepo(node.ledger.db).workloads(1000),
  };
}
