import { errorMessage } from '../../core/errors.js';
import { formatAmount } from '../../core/market/amount.js';
import type { EarningsSummary, MarketReconciliationInfo } from '../../shared/contract.js';
import { MarketKeyRepo } from '../db/repos/market-key-repo.js';
import { PRACTICE_MARKET_ID } from '../../shared/practice-market.js';
import type { Database } from '../db/database.js';
import { ProviderJobsRepo, type PaidCount } from '../db/repos/provider-jobs-repo.js';
import { fetchMarketBalance } from '../services/market-balance.js';
import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

const DAY_MS = 86_400_000;

/** Start of the UTC day holding `ms`: the one day boundary every earnings figure uses. */
export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** UTC day name ("2026-12-02") of a time. */
export function utcDayName(ms: number): string {
  return new Date(startOfUtcDay(ms)).toISOString().slice(0, 10);
}

/** The market the earnings figures are for: its id (null without any history) and whether it is the practice market. */
export interface EarningsMarket {
  id: string | null;
  practice: boolean;
}

/**
 * The market joined now (its id once the market told it, the practice market's id while
 * practising); else the market of the newest job in the history, so the figures survive a
 * restart before the node is connected again.
 */
export function currentMarket(db: Database, joined?: { marketId: string | null; practice: boolean }): EarningsMarket {
  if (joined?.marketId) return { id: joined.marketId, practice: joined.practice };
  if (joined?.practice) return { id: PRACTICE_MARKET_ID, practice: true };
  const id = new ProviderJobsRepo(db).newestMarketId();
  // A market that announced itself as practice at its first welcome is pinned so (its credits are not money).
  return { id, practice: id !== null && (id === PRACTICE_MARKET_ID || new MarketKeyRepo(db).isPractice(id)) };
}

/** The unit credits of `market` are counted in, as a person reads it. */
export function creditUnit(practice: boolean): string {
  return practice ? 'practice credits' : 'CPC';
}

/**
 * One market's earnings (EarningsSummarySchema): the headline (paid, all time) and its exact
 * breakdown (settled + awaiting settlement), today / last 7 days / all time and the per-day
 * series from the same receipts on the same UTC day boundary, and what is on its way.
 */
export function earningsSummary(db: Database, now: number, days: number, market: EarningsMarket): EarningsSummary {
  const today = startOfUtcDay(now);
  const from = today - (days - 1) * DAY_MS;
  const repo = new ProviderJobsRepo(db);
  const zero = { receipts: 0, paid: 0n };
  const totals = market.id
    ? repo.receiptTotals(market.id, today, today - 6 * DAY_MS)
    : { all: zero, settled: zero, today: zero, week: zero };
  const stages = market.id
    ? repo.jobStages(market.id)
    : { verified: { jobs: 0, offered: 0n }, pending: { jobs: 0, offered: 0n }, running: 0, rejected: 0, lost: 0 };
  const byDay = new Map((market.id ? repo.earningsByDay(from, market.id) : []).map((d) => [d.day, d]));
  const series: EarningsSummary['days'] = [];
  for (let t = from; t <= today; t += DAY_MS) {
    const day = utcDayName(t);
    const d = byDay.get(day);
    series.push({
      day,
      receipts: d?.jobs ?? 0,
      paid: (d?.paid ?? 0n).toString(),
      settled: (d?.settled ?? 0n).toString(),
    });
  }
  const paid = (p: PaidCount) => ({ receipts: p.receipts, paid: p.paid.toString() });
  return {
    market_id: market.id,
    practice: market.practice,
    day_boundary: 'UTC',
    today_start: today,
    headline: {
      paid: totals.all.paid.toString(),
      receipts: totals.all.receipts,
      settled: totals.settled.paid.toString(),
      settled_receipts: totals.settled.receipts,
      awaiting_settlement: (totals.all.paid - totals.settled.paid).toString(),
      awaiting_receipts: totals.all.receipts - totals.settled.receipts,
    },
    periods: { today: paid(totals.today), last_7d: paid(totals.week), all: paid(totals.all) },
    on_the_way: {
      verified: { jobs: stages.verified.jobs, offered: stages.verified.offered.toString() },
      pending: { jobs: stages.pending.jobs, offered: stages.pending.offered.toString() },
      running: stages.running,
    },
    not_paid: { rejected: stages.rejected, lost: stages.lost },
    days: series,
    recent_jobs: (() => {
      const j = repo.meanJob();
      return {
        bytes: j.bytes,
        ms: j.ms,
        offer: j.offer === null ? null : j.offer.toString(),
        arrivals_per_hour: repo.arrivalsPerHour(now - 3_600_000, now),
      };
    })(),
  };
}

/** What the market's balance endpoint answered: a balance, an error, or nothing (no market to ask). */
export type MarketBalanceAnswer = { balance: bigint } | { error: string } | null;

/**
 * Compares the market's balance for this node with the receipts the node holds from it, and
 * says why they differ. The market showing more is normal for a while (receipts still on their
 * way, courier rewards); the market showing less means it paid less than its receipts say.
 */
export function compareWithMarket(input: {
  market: EarningsMarket;
  address: string;
  receipts: PaidCount;
  answer: MarketBalanceAnswer;
  now: number;
}): MarketReconciliationInfo {
  const { market, receipts, answer } = input;
  const unit = creditUnit(market.practice);
  const amount = (v: bigint) => `${formatAmount(v)} ${unit}`;
  const base = {
    market_id: market.id,
    practice: market.practice,
    address: input.address,
    receipts_total: receipts.paid.toString(),
    receipts: receipts.receipts,
    checked_at: input.now,
  };
  if (answer === null)
    return {
      ...base,
      market_balance: null,
      difference: null,
      status: 'not_joined',
      problem: false,
      explanation: `Not checked with the market (it is asked while this node is joined to it); your ${receipts.receipts} receipt(s) add up to ${amount(receipts.paid)}.`,
    };
  if ('error' in answer)
    return {
      ...base,
      market_balance: null,
      difference: null,
      status: 'unreachable',
      problem: false,
      explanation: `Not checked: ${answer.error}. Your receipts say ${amount(receipts.paid)}; the check runs again when the market answers.`,
    };
  const diff = answer.balance - receipts.paid;
  const common = { ...base, market_balance: answer.balance.toString(), difference: diff.toString() };
  if (diff === 0n)
    return {
      ...common,
      status: 'matched',
      problem: false,
      explanation: `The market's balance for this node (${amount(answer.balance)}) matches its ${receipts.receipts} receipt(s) exactly.`,
    };
  if (diff > 0n)
    return {
      ...common,
      status: 'market_more',
      problem: false,
      explanation: `The market shows ${amount(diff)} more than your receipts: receipts still on their way to this node (they follow each payout), or courier rewards, which come without a job receipt.`,
    };
  return {
    ...common,
    status: 'market_less',
    problem: true,
    explanation: `The market paid ${amount(-diff)} less than its receipts say: its balance for this node is ${amount(answer.balance)}, its ${receipts.receipts} receipt(s) add up to ${amount(receipts.paid)}. Keep your receipts and ask the market's operator.`,
  };
}

/** The receipts this node holds from `market`, all time. */
export function receiptsFrom(db: Database, market: EarningsMarket, now: number): PaidCount {
  if (!market.id) return { receipts: 0, paid: 0n };
  return new ProviderJobsRepo(db).receiptTotals(market.id, startOfUtcDay(now), startOfUtcDay(now)).all;
}

/** Asks the market at `url` for this node's balance (null url: not joined) and compares it with the receipts. */
export async function reconcileWithMarket(
  db: Database,
  opts: {
    market: EarningsMarket;
    address: string;
    url: string | null;
    now: () => number;
    fetchBalance?: (url: string, address: string) => Promise<bigint>;
  },
): Promise<MarketReconciliationInfo> {
  // Receipts first, then the market: the market pays before it sends a receipt, so a payout
  // between the two reads shows as "market shows more" (on its way), never as a false shortfall.
  const receipts = receiptsFrom(db, opts.market, opts.now());
  let answer: MarketBalanceAnswer = null;
  if (opts.url !== null) {
    try {
      answer = { balance: await (opts.fetchBalance ?? fetchMarketBalance)(opts.url, opts.address) };
    } catch (err) {
      answer = { error: errorMessage(err) };
    }
  }
  return compareWithMarket({ market: opts.market, address: opts.address, receipts, answer, now: opts.now() });
}

/** The market the app node's figures are for (the one joined now, else the newest in its history). */
export function appMarket(node: AppService): EarningsMarket {
  const s = node.status();
  return currentMarket(
    node.ledger.db,
    s.joined ? { marketId: s.market_id, practice: s.market?.kind === 'practice' } : undefined,
  );
}

/** earnings:summary and earnings:reconciliation. */
export function earningsHandlers(node: AppService): HandlerSet {
  return {
    'earnings:summary': ({ days }) => earningsSummary(node.ledger.db, node.clock.now(), days, appMarket(node)),
    'earnings:reconciliation': () => {
      const s = node.status();
      const market = appMarket(node);
      // Only the market joined now is asked: an older market of the history may be anywhere.
      const url = s.joined && (s.market_id === null || s.market_id === market.id) ? node.marketUrl() : null;
      return reconcileWithMarket(node.ledger.db, {
        market,
        address: s.address,
        url,
        now: () => node.clock.now(),
      });
    },
  };
}
