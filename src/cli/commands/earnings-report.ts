import { formatAmount } from '../../core/market/amount.js';
import { creditUnit, earningsSummary, reconcileWithMarket, type EarningsMarket } from '../../main/api/earnings.js';
import type { Database } from '../../main/db/database.js';
import type { EarningsSummary, MarketReconciliationInfo } from '../../shared/contract.js';

/** What `tessera earnings --json` prints: the app's earnings summary and market reconciliation, unchanged. */
export interface EarningsReport {
  summary: EarningsSummary;
  reconciliation: MarketReconciliationInfo;
}

/** Builds the report from the node's storage with the same functions the app's contract handlers use. */
export async function buildEarningsReport(
  db: Database,
  opts: {
    now: () => number;
    days: number;
    market: EarningsMarket;
    address: string;
    /** The market to ask for this node's balance; null: do not ask. */
    url: string | null;
    fetchBalance?: (url: string, address: string) => Promise<bigint>;
  },
): Promise<EarningsReport> {
  const summary = earningsSummary(db, opts.now(), opts.days, opts.market);
  const reconciliation = await reconcileWithMarket(db, {
    market: opts.market,
    address: opts.address,
    url: opts.url,
    now: opts.now,
    ...(opts.fetchBalance ? { fetchBalance: opts.fetchBalance } : {}),
  });
  return { summary, reconciliation };
}

/** The report as lines for a person: the headline, its breakdown, what is on its way, the days, the market check. */
export function earningsReportLines(r: EarningsReport): string[] {
  const s = r.summary;
  const unit = creditUnit(s.practice);
  const amt = (micro: string) => `${formatAmount(BigInt(micro))} ${unit}`;
  const lines: string[] = [];
  if (s.market_id === null) return ['no earnings yet: this node has not run a job'];
  lines.push(
    `earned at ${s.market_id}${s.practice ? ' (practice market: practice credits, not money)' : ''}: ${amt(s.headline.paid)} (${s.headline.receipts} paid jobs, all time)`,
  );
  lines.push(`  settled in your ledger     ${amt(s.headline.settled)} (${s.headline.settled_receipts} receipts)`);
  lines.push(
    `  awaiting settlement        ${amt(s.headline.awaiting_settlement)} (${s.headline.awaiting_receipts} receipts recorded in dry-run)`,
  );
  lines.push(
    `today ${amt(s.periods.today.paid)} · last 7 days ${amt(s.periods.last_7d.paid)} · all time ${amt(s.periods.all.paid)} (days end at midnight UTC)`,
  );
  const w = s.on_the_way;
  lines.push(
    `on the way (not earned yet): ${w.verified.jobs} verified, awaiting payment (offered ${amt(w.verified.offered)}); ${w.pending.jobs} pending verification (offered ${amt(w.pending.offered)}); ${w.running} running`,
  );
  if (s.not_paid.rejected + s.not_paid.lost > 0)
    lines.push(`not paid: ${s.not_paid.rejected} rejected, ${s.not_paid.lost} lost`);
  for (const d of s.days.filter((x) => x.receipts > 0).reverse())
    lines.push(`  ${d.day}  ${d.receipts} paid jobs  ${amt(d.paid)}  settled ${amt(d.settled)}`);
  const c = r.reconciliation;
  lines.push(`market check: ${c.problem ? 'PROBLEM: ' : ''}${c.explanation}`);
  return lines;
}
