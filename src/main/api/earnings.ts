import type { EarningsSeries, ReconciliationInfo } from '../../shared/contract.js';
import type { Database } from '../db/database.js';
import { ProviderJobsRepo } from '../db/repos/provider-jobs-repo.js';
import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

const DAY_MS = 86_400_000;

function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Earnings per UTC day for the last `days` days (today included), and today / 7 d / 30 d / all-time totals. */
export function earningsSeries(db: Database, now: number, days: number): EarningsSeries {
  const repo = new ProviderJobsRepo(db);
  const today = startOfUtcDay(now);
  const all = repo.earningsByDay(0);
  const sumSince = (since: number) =>
    all.filter((d) => Date.parse(`${d.day}T00:00:00Z`) >= since).reduce((a, d) => a + d.paid, 0n);
  const total = all.reduce(
    (a, d) => ({ jobs: a.jobs + d.jobs, paid: a.paid + d.paid, settled: a.settled + d.settled }),
    { jobs: 0, paid: 0n, settled: 0n },
  );
  const from = today - (days - 1) * DAY_MS;
  return {
    days: all
      .filter((d) => Date.parse(`${d.day}T00:00:00Z`) >= from)
      .map((d) => ({ day: d.day, jobs: d.jobs, paid: d.paid.toString(), settled: d.settled.toString() })),
    totals: {
      today: sumSince(today).toString(),
      last_7d: sumSince(today - 6 * DAY_MS).toString(),
      last_30d: sumSince(today - 29 * DAY_MS).toString(),
      all: { jobs: total.jobs, paid: total.paid.toString(), settled: total.settled.toString() },
    },
  };
}

/**
 * Per UTC day: jobs submitted, verified (accepted), rejected and lost (by the day they started),
 * what the market paid and what the ledger settled — every difference listed with why.
 */
export function reconciliation(db: Database, now: number, days: number): ReconciliationInfo {
  const from = startOfUtcDay(now) - (days - 1) * DAY_MS;
  const repo = new ProviderJobsRepo(db);
  const counts = new Map(repo.outcomesByDay(from).map((c) => [c.day, c]));
  const paid = new Map(repo.earningsByDay(from).map((d) => [d.day, d]));
  const dayNames = [...new Set([...counts.keys(), ...paid.keys()])].sort().reverse();
  return {
    days: dayNames.map((day) => {
      const c = counts.get(day);
      const p = paid.get(day);
      const rejected = c?.rejected ?? 0;
      const lost = c?.lost ?? 0;
      const unsettled = (p?.paid ?? 0n) - (p?.settled ?? 0n);
      const mismatches: ReconciliationInfo['days'][number]['mismatches'] = [];
      if (rejected > 0)
        mismatches.push({
          kind: 'rejected',
          count: rejected,
          explanation: 'the market re-ran these jobs and the result did not match, so it paid nothing for them',
        });
      if (lost > 0)
        mismatches.push({
          kind: 'lost',
          count: lost,
          explanation: 'these jobs were not finished in time (timed out, or the node stopped), so they were not paid',
        });
      if (unsettled > 0n)
        mismatches.push({
          kind: 'unsettled',
          count: (p?.jobs ?? 0) - (p?.settledJobs ?? 0),
          explanation:
            'receipts recorded while settlement is dry-run: paid by the market, not yet credited in your ledger',
        });
      return {
        day,
        submitted: c?.submitted ?? 0,
        verified: c?.verified ?? 0,
        rejected,
        lost,
        paid: (p?.paid ?? 0n).toString(),
        settled: (p?.settled ?? 0n).toString(),
        unsettled: unsettled.toString(),
        mismatches,
      };
    }),
  };
}

/** earnings:series and earnings:reconciliation. */
export function earningsHandlers(node: AppService): HandlerSet {
  return {
    'earnings:series': ({ days }) => earningsSeries(node.ledger.db, node.clock.now(), days),
    'earnings:reconciliation': ({ days }) => reconciliation(node.ledger.db, node.clock.now(), days),
  };
}
