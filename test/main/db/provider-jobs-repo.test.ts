import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Database } from '../../../src/main/db/database.js';
import { ProviderJobsRepo, type ProviderJobStatus } from '../../../src/main/db/repos/provider-jobs-repo.js';
import { tempDir } from '../../support/temp-dir.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-10T12:00:00Z');

function openRepo(): ProviderJobsRepo {
  const db = Database.open(join(tempDir(), 'ledger.db'));
  onTestFinished(() => db.close());
  return new ProviderJobsRepo(db);
}

/** A job started at `at` that ended with `outcome` (optionally paid, its receipt applied or only recorded). */
function job(
  repo: ProviderJobsRepo,
  id: string,
  at: number,
  outcome: ProviderJobStatus,
  opts: { workload?: string; code?: string; paid?: { amount: bigint; settlement: string } } = {},
): void {
  repo.start({
    marketId: 'm',
    taskId: `t-${id}`,
    jobId: id,
    epoch: 0,
    workload: opts.workload ?? 'synthetic',
    bytes: 10,
    startedAt: at,
  });
  if (outcome === 'running') return;
  repo.finished('m', id, 0, {
    resultHash: 'aa',
    proof: 'bb',
    backend: 'cpu',
    durationMs: 1,
    result: '{}',
    bytes: 10,
    at: at + 1,
  });
  if (outcome === 'lost') repo.lost('m', id, opts.code ?? 'TIMED_OUT', at + 2);
  else if (outcome !== 'submitted') repo.answered('m', id, 0, outcome === 'accepted', opts.code ?? null, at + 2);
  if (opts.paid)
    repo.recordEarning({
      receiptKey: `r-${id}`,
      marketId: 'm',
      jobId: id,
      taskId: `t-${id}`,
      amount: opts.paid.amount,
      settlement: opts.paid.settlement,
      at: at + 3,
    });
}

describe('ProviderJobsRepo: the queries the handlers and the provider read', () => {
  it('page: newest first, filtered, with the total and the next cursor; the last page has none', () => {
    const repo = openRepo();
    for (let i = 0; i < 5; i++)
      job(repo, `j${i}`, NOW - (5 - i) * 1000, i % 2 === 0 ? 'accepted' : 'rejected', {
        workload: i < 3 ? 'synthetic' : 'slice',
        code: i % 2 === 0 ? undefined : 'MISMATCH',
      });
    const first = repo.page({}, 2);
    expect(first.total).toBe(5);
    expect(first.jobs.map((j) => j.jobId)).toEqual(['j4', 'j3']);
    expect(first.next).not.toBeNull();
    const second = repo.page({}, 2, first.next ?? undefined);
    expect(second.jobs.map((j) => j.jobId)).toEqual(['j2', 'j1']);
    const last = repo.page({}, 2, second.next ?? undefined);
    expect(last.jobs.map((j) => j.jobId)).toEqual(['j0']);
    expect(last.next).toBeNull();
    expect(repo.page({ status: 'rejected' }, 10)).toMatchObject({ total: 2, next: null });
    expect(repo.page({ workload: 'slice', status: 'accepted' }, 10).jobs.map((j) => j.jobId)).toEqual(['j4']);
    expect(repo.page({ since: NOW - 2000 }, 10).jobs.map((j) => j.jobId)).toEqual(['j4', 'j3']);
    // Rows are mapped once, by the repo: credits a bigint, times numbers.
    expect(first.jobs[0]).toMatchObject({
      status: 'accepted',
      credits: 0n,
      startedAt: NOW - 1000,
      finishedAt: NOW - 999,
      durationMs: 1,
      code: null,
    });
  });

  it('workloads: distinct and sorted; answeredCounts: accepted and rejected over the history', () => {
    const repo = openRepo();
    expect(repo.answeredCounts()).toEqual({ accepted: 0, rejected: 0 });
    job(repo, 'a', NOW, 'accepted', { workload: 'slice' });
    job(repo, 'b', NOW, 'accepted', { workload: 'gpuhash' });
    job(repo, 'c', NOW, 'rejected', { workload: 'slice' });
    job(repo, 'd', NOW, 'lost');
    job(repo, 'e', NOW, 'running');
    expect(repo.workloads()).toEqual(['gpuhash', 'slice', 'synthetic']);
    expect(repo.workloads(1)).toEqual(['gpuhash']);
    expect(repo.answeredCounts()).toEqual({ accepted: 2, rejected: 1 });
  });

  it('outcomesByDay, failuresByCode and earningsByDay count per UTC day since a time', () => {
    const repo = openRepo();
    job(repo, 'a', NOW - 1000, 'accepted', { paid: { amount: 300n, settlement: 'applied' } });
    job(repo, 'b', NOW - 2000, 'accepted', { paid: { amount: 200n, settlement: 'recorded' } });
    job(repo, 'c', NOW - 3000, 'rejected', { code: 'MISMATCH' });
    job(repo, 'd', NOW - 4000, 'submitted');
    job(repo, 'e', NOW - 3 * DAY, 'lost', { code: 'TIMED_OUT' });
    job(repo, 'f', NOW - 3 * DAY, 'rejected', { code: 'MISMATCH' });
    job(repo, 'g', NOW - 20 * DAY, 'lost');
    const since = Date.parse('2026-03-04T00:00:00Z');
    const byDay = Object.fromEntries(repo.outcomesByDay(since).map((d) => [d.day, d]));
    expect(byDay).toEqual({
      '2026-03-10': { day: '2026-03-10', submitted: 4, verified: 2, rejected: 1, lost: 0 },
      '2026-03-07': { day: '2026-03-07', submitted: 1, verified: 0, rejected: 1, lost: 1 },
    });
    expect(repo.failuresByCode(since)).toEqual([
      { code: 'MISMATCH', count: 2 },
      { code: 'TIMED_OUT', count: 1 },
    ]);
    expect(repo.failuresByCode(NOW - DAY)).toEqual([{ code: 'MISMATCH', count: 1 }]);
    expect(repo.earningsByDay(since)).toEqual([
      { day: '2026-03-10', jobs: 2, paid: 500n, settled: 300n, settledJobs: 1 },
    ]);
  });
});

describe('arrivalsPerHour', () => {
  it('jobs started in the window per hour, over the span from the first of them (at least a minute); null under 3', () => {
    const repo = openRepo();
    const since = NOW - 3_600_000;
    job(repo, 'old', since - 1, 'accepted'); // before the window: not counted
    job(repo, 'a', NOW - 30 * 60_000, 'accepted');
    job(repo, 'b', NOW - 20 * 60_000, 'rejected');
    expect(repo.arrivalsPerHour(since, NOW)).toBe(null);
    job(repo, 'c', NOW - 10 * 60_000, 'running');
    // 3 jobs over the 30 minutes since the first of them: 6 an hour.
    expect(repo.arrivalsPerHour(since, NOW)).toBe(6);
    // Three jobs within the last ten seconds are not 1,080 an hour: the span is at least a minute.
    const fresh = openRepo();
    for (const id of ['x', 'y', 'z']) job(fresh, id, NOW - 10_000, 'accepted');
    expect(fresh.arrivalsPerHour(since, NOW)).toBe(180);
  });
});
