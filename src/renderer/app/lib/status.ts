import type { NodeStatusInfo, PublicErrorCode } from '../../../shared/contract.js';
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

/**
 * A market as people read it. Of a market given as several instances, the one connected to now
 * (with its address when its host name has several), else the first and how many more.
 */
export function describeMarket(s: NodeStatusInfo): string {
  if (!s.market) return 'no market';
  if (s.market.kind === 'practice') return 'the practice market';
  const urls = (typeof s.market.url === 'string' ? [s.market.url] : s.market.url).flatMap((u) =>
    u.split(',').map((p) => p.trim()),
  );
  const connected = s.state === 'connected' && s.endpoint ? s.endpoint : null;
  if (urls.length <= 1) return connected ?? urls[0] ?? 'the market';
  if (connected) return `${connected}, one of ${urls.length} instances`;
  const more = urls.length - 1;
  return `${urls[0]} and ${more} more instance${more === 1 ? '' : 's'}`;
}

/** What a stable error code means, in words a person reads (the code itself is for support, in small print). */
const CODE_SENTENCES: Partial<Record<PublicErrorCode, string>> = {
  TRANSPORT_CLOSED: 'The Tessera node is not responding.',
  INTERNAL: 'Something went wrong inside the Tessera node.',
  NOT_JOINED: 'This node has not joined a market yet.',
  ALREADY_JOINED: 'This node has already joined a market.',
  PRACTICE_UNAVAILABLE: 'The practice market could not start.',
  BAD_SETTINGS: 'A setting was not accepted.',
  BAD_MARKET_URL: 'The market address is not valid.',
  MARKET_UNREACHABLE: 'The market cannot be reached right now.',
  NO_GPU: 'No usable graphics card was found.',
  DISK_FULL: 'The disk is full.',
  DB_FULL: 'The disk is full.',
  DB_LOCKED: 'Another Tessera is using the same data folder.',
  DB_PERMISSION: 'Tessera may not write to its data folder.',
  DB_READONLY: 'The data folder is read-only.',
  DB_DAMAGED: 'The ledger file is damaged.',
};

/** The sentence for a stable error code; unknown codes get a general one. */
export function explainCode(code: string): string {
  return CODE_SENTENCES[code as PublicErrorCode] ?? 'Something went wrong.';
}

/** "12:03" (local time, with seconds when asked): when the screens last heard from the node. */
export function clockTime(at: number, seconds = false): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ''}`;
}

/** The line over stale data: when it was last updated and why it is not now. */
export function staleLine(lostAt: number): string {
  return `Last updated ${clockTime(lostAt)} — the node is not responding, so these figures may be out of date.`;
}
