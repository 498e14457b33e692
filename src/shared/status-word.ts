import type { NodeStatusInfo } from './contract.js';

/** The node's state in one word, the same in the window's status bar and the tray. */
export type StatusWord = 'Earning' | 'Connected' | 'Connecting' | 'Paused' | 'Offline' | 'Not joined' | 'Error';

/** The colour a status word is shown in. */
export type StatusTone = 'good' | 'busy' | 'idle' | 'bad';

/** A status word with a short detail (what the word is about) and its tone. */
export interface StatusLine {
  word: StatusWord;
  detail: string;
  tone: StatusTone;
}

/** How long after a finished job the node still counts as earning, with nothing running. */
export const EARNING_WINDOW_MS = 60_000;

/**
 * The one status word of a node, for the window and the tray alike. First match wins:
 * an error → Error; not joined → Connecting while the practice market it joins starts, else
 * Not joined; paused → Paused; connected with a job running or one finished within
 * EARNING_WINDOW_MS of `now` → Earning; connected → Connected; connecting,
 * authenticating or idle → Connecting; otherwise Offline.
 *
 * Error beats Paused (and every other word): a pause is the user's own choice, or their
 * settings' (battery, schedule), so they already know about it, while an error is news they must
 * act on (see Logs); shown as Paused it would stay hidden until they resume into it. The node
 * keeps its last error until it joins a market again, so the word stays Error until then.
 */
export function nodeStatusWord(s: NodeStatusInfo, opts: { lastJobAt?: number | null; now?: number } = {}): StatusLine {
  if (s.last_error !== null) return { word: 'Error', detail: s.last_error, tone: 'bad' };
  if (!s.joined && s.startup?.phase === 'starting_practice')
    return { word: 'Connecting', detail: 'starting the practice market', tone: 'busy' };
  if (!s.joined) return { word: 'Not joined', detail: 'join a market to start earning', tone: 'idle' };
  if (s.paused) return { word: 'Paused', detail: s.pause_reason ?? 'paused by you', tone: 'idle' };
  switch (s.state) {
    case 'connected': {
      if (s.running > 0)
        return { word: 'Earning', detail: `${s.running} ${s.running === 1 ? 'job' : 'jobs'} running`, tone: 'good' };
      const recent =
        opts.lastJobAt !== undefined &&
        opts.lastJobAt !== null &&
        opts.now !== undefined &&
        opts.now - opts.lastJobAt < EARNING_WINDOW_MS;
      if (recent) return { word: 'Earning', detail: 'between jobs', tone: 'good' };
      return { word: 'Connected', detail: 'waiting for jobs', tone: 'good' };
    }
    case 'connecting':
    case 'authenticating':
    case 'idle':
      return {
        word: 'Connecting',
        detail: s.state === 'authenticating' ? 'signing in to the market' : 'to the market',
        tone: 'busy',
      };
    default:
      return { word: 'Offline', detail: 'the market is not reachable; retrying', tone: 'bad' };
  }
}
