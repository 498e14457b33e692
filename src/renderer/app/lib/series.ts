import type { EarningsSeries } from '../../../shared/contract.js';
import { creditsToNumber } from './format.js';

const DAY_MS = 86_400_000;

/** One bar of the earnings chart (CPC as floats: for drawing only). */
export interface ChartDay {
  day: string;
  label: string;
  paid: number;
  settled: number;
  jobs: number;
}

/** UTC day name ("2026-12-02") of a time. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** The last `n` UTC days ending today, oldest first, with days the node earned nothing as zeros. */
export function chartDays(days: EarningsSeries['days'], now: number, n: number): ChartDay[] {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const out: ChartDay[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const day = utcDay(today - i * DAY_MS);
    const d = byDay.get(day);
    const date = new Date(`${day}T00:00:00Z`);
    out.push({
      day,
      label: date.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }),
      paid: d ? creditsToNumber(d.paid) : 0,
      settled: d ? creditsToNumber(d.settled) : 0,
      jobs: d?.jobs ?? 0,
    });
  }
  return out;
}
