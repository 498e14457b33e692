import type { ReconciliationInfo } from '../../../shared/contract.js';
import { formatCredits } from './format.js';

export type ReconDay = ReconciliationInfo['days'][number];

/** One reason a day's numbers do not line up, in plain words. */
export interface ReconIssue {
  kind: 'rejected' | 'lost' | 'unsettled' | 'awaiting';
  /** "warn": money was not earned; "info": it is on its way. */
  severity: 'warn' | 'info';
  text: string;
}

/** A day of the pipeline expected → submitted → verified → paid → settled, and why it differs. */
export interface ReconView {
  day: string;
  /** Jobs this node took that day (each one expected to be paid). */
  expected: number;
  submitted: number;
  verified: number;
  paid: string;
  settled: string;
  issues: ReconIssue[];
  /** True when every job taken was verified and everything paid is settled. */
  balanced: boolean;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Sentence case for an explanation that comes from the node in lower case. */
function sentence(text: string): string {
  const t = text.trim();
  if (t === '') return '';
  const s = t[0]?.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/**
 * Explains one reconciliation day: every gap between two stages becomes one issue — jobs lost
 * before submission, results rejected on verification, results still waiting for verification,
 * and credits paid by the market but not settled in the local ledger (dry-run).
 */
export function explainDay(d: ReconDay): ReconView {
  const expected = d.submitted + d.lost;
  const issues: ReconIssue[] = [];
  const fromNode = (kind: 'rejected' | 'lost' | 'unsettled') => d.mismatches.find((m) => m.kind === kind)?.explanation;
  if (d.lost > 0) {
    issues.push({
      kind: 'lost',
      severity: 'warn',
      text: `${plural(d.lost, 'job was', 'jobs were')} taken but never submitted: ${sentence(fromNode('lost') ?? 'they were not finished in time (timed out, or the node stopped), so they were not paid')}`,
    });
  }
  if (d.rejected > 0) {
    issues.push({
      kind: 'rejected',
      severity: 'warn',
      text: `${plural(d.rejected, 'result was', 'results were')} rejected: ${sentence(fromNode('rejected') ?? 'the market re-ran these jobs and the result did not match, so it paid nothing for them')}`,
    });
  }
  const awaiting = d.submitted - d.verified - d.rejected;
  if (awaiting > 0) {
    issues.push({
      kind: 'awaiting',
      severity: 'info',
      text: `${plural(awaiting, 'result is', 'results are')} still waiting for the market to verify ${awaiting === 1 ? 'it' : 'them'}: ${sentence('they are paid once verified; nothing is wrong yet')}`,
    });
  }
  const unsettled = /^-?\d+$/.test(d.unsettled) ? BigInt(d.unsettled) : 0n;
  if (unsettled !== 0n) {
    const m = d.mismatches.find((x) => x.kind === 'unsettled');
    const receipts = m && m.count > 0 ? ` (${plural(m.count, 'receipt', 'receipts')})` : '';
    issues.push({
      kind: 'unsettled',
      severity: 'info',
      text: `${formatCredits(unsettled)} CPC paid but not settled${receipts}: ${sentence(fromNode('unsettled') ?? 'receipts recorded while settlement is dry-run: paid by the market, not yet credited in your ledger')} Switch settlement to Real to credit them.`,
    });
  }
  return {
    day: d.day,
    expected,
    submitted: d.submitted,
    verified: d.verified,
    paid: d.paid,
    settled: d.settled,
    issues,
    balanced: issues.length === 0,
  };
}

/** All days, newest first, explained. */
export function explainReconciliation(info: ReconciliationInfo): ReconView[] {
  return [...info.days].sort((a, b) => (a.day < b.day ? 1 : a.day > b.day ? -1 : 0)).map(explainDay);
}
