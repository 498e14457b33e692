import type { FlushSummaryInfo } from '../../../shared/contract.js';
import { formatCredits } from './format.js';

/** A flush's outcome in one sentence with the words sent, credited, still pending, failed (and why it stopped, if it did). */
export function flushSummaryText(s: FlushSummaryInfo): {
  headline: string;
  detail: string;
  tone: 'good' | 'warn' | 'bad';
} {
  const sent = s.accepted + s.duplicate + s.rejected;
  const reward = BigInt(s.reward);
  const waiting = BigInt(s.reward_pending);
  const credited = reward - waiting;
  const parts = [`${sent} sent`, `${formatCredits(credited)} CPC credited`];
  if (waiting > 0n) parts.push(`${formatCredits(waiting)} CPC waiting for real settlement`);
  parts.push(`${s.pending_after} still pending`, `${s.failed} failed`);
  const extra: string[] = [];
  if (s.duplicate > 0) extra.push(`${s.duplicate} the market already had`);
  if (s.rejected > 0) extra.push(`${s.rejected} rejected by the market`);
  if (s.unanswered > 0) extra.push(`${s.unanswered} not answered (they stay pending for the next flush)`);
  if (s.held_back > 0) extra.push(`${s.held_back} held back by a problem of their own`);
  if (s.error !== undefined) extra.push(`stopped early: ${s.error}`);
  const tone =
    s.error !== undefined || s.failed > 0
      ? 'bad'
      : s.rejected > 0 || s.unanswered > 0 || s.held_back > 0
        ? 'warn'
        : 'good';
  return {
    headline: `${parts.join(', ')}.`,
    detail: extra.length > 0 ? `${extra.join('; ')}.`.replace(/^./, (c) => c.toUpperCase()) : '',
    tone,
  };
}
