import type { EarningsSummary } from '../../../shared/contract.js';
import { creditsToNumber } from './format.js';

/** One bar of the earnings chart: exact micro-CPC strings, and CPC as floats for drawing only. */
export interface ChartDay {
  day: string;
  label: string;
  /** Exact amounts (micro-CPC), for the tooltip and for checks. */
  paidMicro: string;
  settledMicro: string;
  /** Floats for the bars only. */
  paid: number;
  settled: number;
  receipts: number;
}

/**
 * The chart's bars: the summary's days as they are (oldest first, today last, empty days as
 * zeros, UTC days) — the same receipts as the cards, so the bars add up to the totals.
 */
export function chartDays(days: EarningsSummary['days']): ChartDay[] {
  return days.map((d) => ({
    day: d.day,
    label: new Date(`${d.day}T00:00:00Z`).toLocaleDateString(undefined, {
      month: 'short',
      day: 'numeric',
      timeZone: 'UTC',
    }),
    paidMicro: d.paid,
    settledMicro: d.settled,
    paid: creditsToNumber(d.paid),
    settled: creditsToNumber(d.settled),
    receipts: d.receipts,
  }));
}

/** Exact sum of the bars' paid amounts (micro-CPC) over the last `n` bars. */
export function chartPaid(days: readonly ChartDay[], n = days.length): bigint {
  return days.slice(Math.max(0, days.length - n)).reduce((a, d) => a + BigInt(d.paidMicro), 0n);
}
