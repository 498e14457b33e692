import type { NodeStatusInfo } from '../../../shared/contract.js';
import { nodeStatusWord, type StatusLine } from '../../../shared/status-word.js';

export { EARNING_WINDOW_MS, type StatusLine, type StatusWord } from '../../../shared/status-word.js';

/**
 * What the status bar says: Offline without a connection to the node, Connecting until its first
 * status arrives, then the node's one status word (nodeStatusWord, the tray's word too).
 */
export function statusLine(
  s: NodeStatusInfo | null,
  opts: { transportOpen: boolean; lastJobAt: number | null; now: number },
): StatusLine {
  if (!opts.transportOpen) return { word: 'Offline', detail: 'no connection to the Tessera node', tone: 'bad' };
  if (s === null) return { word: 'Connecting', detail: 'to the Tessera node', tone: 'busy' };
  return nodeStatusWord(s, { lastJobAt: opts.lastJobAt, now: opts.now });
}

/** A market as people read it. */
export function describeMarket(s: NodeStatusInfo): string {
  if (!s.market) return 'no market';
  return s.market.kind === 'practice' ? 'the practice market' : s.market.url;
}
