import type { JobRow } from '../../../shared/contract.js';
import { jobStage } from './earnings.js';
import { creditsDecimal } from './format.js';

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled.
 * A field a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with
 * an apostrophe, so an exported history can be opened safely.
 */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows of fields as CSV text, CRLF line ends, with a final line end. */
export function toCsv(rows: readonly (readonly (string | number | boolean | null | undefined)[])[]): string {
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export const JOB_CSV_HEADER = [
  'started_at',
  'finished_at',
  'market_id',
  'task_id',
  'job_id',
  'workload',
  'bytes',
  'proof',
  'backend',
  'duration_ms',
  'stage',
  'code',
  'offer_cpc',
  'paid_cpc',
] as const;

/**
 * The job history as CSV: one header line and one line per job, times as ISO 8601 UTC, amounts
 * in CPC. `stage` uses the app's words (running, pending, verified, paid, settled, rejected,
 * lost); `offer_cpc` is what the market offered (not earned), `paid_cpc` what its receipt paid.
 */
export function jobsToCsv(rows: readonly JobRow[]): string {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return toCsv([
    JOB_CSV_HEADER,
    ...rows.map((r) => [
      iso(r.started_at),
      iso(r.finished_at),
      r.market_id,
      r.task_id,
      r.job_id,
      r.workload,
      r.bytes,
      r.proof,
      r.backend,
      r.duration_ms,
      jobStage(r),
      r.code,
      r.offer === null ? null : creditsDecimal(r.offer),
      r.paid ? creditsDecimal(r.credits) : null,
    ]),
  ]);
}
