import type { EarningsSummary, JobRow } from '../../../shared/contract.js';

/**
 * The one vocabulary of a job's money stage, the same in the Jobs table, its CSV and the
 * Dashboard (docs/earnings.md): running → pending (awaiting the market's verdict) → verified
 * (accepted, awaiting payment) → paid (a receipt) → settled (applied to your ledger); or
 * rejected / lost (not paid).
 */
export type JobStage = 'running' | 'pending' | 'verified' | 'paid' | 'settled' | 'rejected' | 'lost';

/** The stage of one job row. */
export function jobStage(row: Pick<JobRow, 'status' | 'paid' | 'settled'>): JobStage {
  if (row.paid) return row.settled ? 'settled' : 'paid';
  switch (row.status) {
    case 'running':
      return 'running';
    case 'submitted':
      return 'pending';
    case 'accepted':
      return 'verified';
    case 'rejected':
      return 'rejected';
    case 'lost':
      return 'lost';
  }
}

/** How a stage reads in the UI and the CSV. */
export const STAGE_WORDS: Record<JobStage, string> = {
  running: 'running',
  pending: 'pending · awaiting verification',
  verified: 'verified · awaiting payment',
  paid: 'paid · awaiting settlement',
  settled: 'paid · settled',
  rejected: 'rejected · not paid',
  lost: 'lost · not paid',
};

/** The unit of credits at a market: "practice credits" on the practice market (not money), else "CPC". */
export function creditUnit(practice: boolean): string {
  return practice ? 'practice credits' : 'CPC';
}

/** One line that says what the unit is, shown next to the figures. */
export function unitExplanation(practice: boolean): string {
  return practice
    ? 'Practice credits: the practice market pays in credits that are not money, so you can see how earning works.'
    : 'CPC: compute credits, the market’s unit of payment (1 CPC = 1,000,000 µCPC).';
}

/** The Dashboard's figures, every one a decimal micro-CPC string taken from the summary. */
export interface EarningsCards {
  /** The headline: paid by the market at this market, all time. */
  earned: string;
  /** earned = settled + awaitingSettlement, exactly. */
  settled: string;
  awaitingSettlement: string;
  today: string;
  last7d: string;
  all: string;
  paidJobs: number;
  /** Not earned yet. */
  verifiedJobs: number;
  verifiedOffered: string;
  pendingJobs: number;
  pendingOffered: string;
}

/** The cards of the Dashboard from the summary (no other source, no arithmetic beyond what is shown). */
export function earningsCards(s: EarningsSummary): EarningsCards {
  return {
    earned: s.headline.paid,
    settled: s.headline.settled,
    awaitingSettlement: s.headline.awaiting_settlement,
    today: s.periods.today.paid,
    last7d: s.periods.last_7d.paid,
    all: s.periods.all.paid,
    paidJobs: s.headline.receipts,
    verifiedJobs: s.on_the_way.verified.jobs,
    verifiedOffered: s.on_the_way.verified.offered,
    pendingJobs: s.on_the_way.pending.jobs,
    pendingOffered: s.on_the_way.pending.offered,
  };
}

/** Jobs table rows of one market summed by stage: what the table shows, for checks against the cards. */
export function jobRowsTotals(rows: readonly JobRow[], marketId: string | null) {
  let paid = 0n;
  let settled = 0n;
  const count: Record<JobStage, number> = {
    running: 0,
    pending: 0,
    verified: 0,
    paid: 0,
    settled: 0,
    rejected: 0,
    lost: 0,
  };
  for (const r of rows) {
    if (r.market_id !== marketId) continue;
    const stage = jobStage(r);
    count[stage] += 1;
    if (r.paid) paid += BigInt(r.credits);
    if (stage === 'settled') settled += BigInt(r.credits);
  }
  return { paid, settled, count };
}
