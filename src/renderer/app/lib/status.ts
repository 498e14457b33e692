import type { NodeStatusInfo } from '../../../shared/contract.js';

export type StatusWord = 'Earning' | 'Connected' | 'Connecting' | 'Paused' | 'Offline' | 'Not joined' | 'Error';

/** What the status bar says: the first word (one of StatusWord) and a short detail, and a tone for its colour. */
export interface StatusLine {
  word: StatusWord;
  detail: string;
  tone: 'good' | 'busy' | 'idle' | 'bad';
}

/** How long after a finished job the node still counts as earning, with nothing running. */
export const EARNING_WINDOW_MS = 60_000;

/**
 * The node's state in one word: no connection to the node → Offline; not joined → Not joined;
 * paused → Paused; connected with a job running or one finished within EARNING_WINDOW_MS →
 * Earning; connected → Connected; connecting or authenticating → Connecting; disconnected with
 * an error → Error; otherwise Offline.
 */
export function statusLine(s: NodeStatusInfo | null, opts: { transportOpen: boolean; lastJobAt: number | null; now: number }): StatusLine {
  if (!opts.transportOpen) return { word: 'Offline', detail: 'no connection to the Tessera node', tone: 'bad' };
  if (s === null) return { word: 'Connecting', detail: 'to the Tessera node', tone: 'busy' };
  if (!s.joined) return { word: 'Not joined', detail: 'join a market to start earning', tone: 'idle' };
  if (s.paused) return { word: 'Paused', detail: s.pause_reason ?? 'paused by you', tone: 'idle' };
  const recent = opts.lastJobAt !== null && opts.now - opts.lastJobAt < EARNING_WINDOW_MS;
  switch (s.state) {
    case 'connected':
      if (s.running > 0) return { word: 'Earning', detail: `${s.running} ${s.running === 1 ? 'job' : 'jobs'} running`, tone: 'good' };
      if (recent) return { word: 'Earning', detail: 'between jobs', tone: 'good' };
      return { word: 'Connected', detail: 'waiting for jobs', tone: 'good' };
    case 'connecting':
    case 'authenticating':
    case 'idle':
      return { word: 'Connecting', detail: s.state === 'authenticating' ? 'signing in to the market' : 'to the market', tone: 'busy' };
    default:
      if (s.last_error !== null) return { word: 'Error', detail: s.last_error, tone: 'bad' };
      return { word: 'Offline', detail: 'the market is not reachable; retrying', tone: 'bad' };
  }
}

/** A market as people read it. */
export function describeMarket(s: NodeStatusInfo): string {
  if (!s.market) return 'no market';
  return s.market.kind === 'practice' ? 'the practice market' : s.market.url;
}
