import type { NodeStatusInfo } from '../../../shared/contract.js';

/** No job finished for this long while joined and not paused: "stopped earning". */
export const STOPPED_EARNING_MS = 10 * 60_000;
/** The node unreachable for this long: a notification (a restart of a few seconds is not worth one). */
export const NODE_LOST_MS = 60_000;

/** What the app knows at one instant: fed on every status change and on a timer. */
export interface NotifySample {
  /** Now (ms since epoch), from the caller's clock. */
  at: number;
  /** Whether the connection to the node is open. */
  connected: boolean;
  /** The node's last status; null until the first arrives. */
  status: NodeStatusInfo | null;
  /** Receipts the settlement has applied so far; null when not known. */
  settled: number | null;
}

export type NoticeKind = 'stopped-earning' | 'error' | 'node-lost' | 'settled';

/** One notification to show: a title, one line of body, and a kind (the tag that replaces an older one of the same kind). */
export interface Notice {
  kind: NoticeKind;
  title: string;
  body: string;
}

/**
 * Decides which notifications fire, from a stream of samples and nothing else (no timers, no
 * DOM), so every rule is testable with a made-up clock:
 * - stopped earning: joined, not paused, connected, and no job finished for STOPPED_EARNING_MS
 *   (once per quiet spell; a finished job, a pause or leaving the market re-arms it);
 * - an error: the node reports a new last_error (not the one it had when watching began);
 * - the node lost: no connection for NODE_LOST_MS (once until it is back);
 * - a settlement done: the count of applied receipts grew.
 */
export class NotificationRules {
  private jobsDone: number | null = null;
  /** Since when the node has been earning-eligible without a finished job; null when not eligible. */
  private quietSince: number | null = null;
  private quietFired = false;
  private lastError: string | null | undefined = undefined;
  private lostSince: number | null = null;
  private lostFired = false;
  private settled: number | null = null;

  observe(s: NotifySample): Notice[] {
    const out: Notice[] = [];
    // The node lost.
    if (!s.connected) {
      this.lostSince ??= s.at;
      if (!this.lostFired && s.at - this.lostSince >= NODE_LOST_MS) {
        this.lostFired = true;
        out.push({
          kind: 'node-lost',
          title: 'Tessera is not responding',
          body: 'The node stopped answering, so it is not earning. Check that Tessera is still running.',
        });
      }
      return out; // nothing else is known while the node cannot be reached
    }
    this.lostSince = null;
    this.lostFired = false;
    const st = s.status;
    if (st === null) return out;

    // Stopped earning.
    const eligible = st.joined && !st.paused;
    const finishedOne = this.jobsDone !== null && st.jobs_done > this.jobsDone;
    this.jobsDone = st.jobs_done;
    if (!eligible) {
      this.quietSince = null;
      this.quietFired = false;
    } else if (finishedOne || this.quietSince === null) {
      this.quietSince = s.at;
      this.quietFired = false;
    } else if (!this.quietFired && s.at - this.quietSince >= STOPPED_EARNING_MS) {
      this.quietFired = true;
      out.push({
        kind: 'stopped-earning',
        title: 'Tessera stopped earning',
        body: `No job has finished for ${Math.round((s.at - this.quietSince) / 60_000)} minutes. Open Diagnostics to see why.`,
      });
    }

    // An error.
    if (this.lastError !== undefined && st.last_error !== null && st.last_error !== this.lastError)
      out.push({ kind: 'error', title: 'Tessera hit a problem', body: st.last_error });
    this.lastError = st.last_error;

    // A settlement done.
    if (s.settled !== null) {
      if (this.settled !== null && s.settled > this.settled) {
        const n = s.settled - this.settled;
        out.push({
          kind: 'settled',
          title: 'Settlement done',
          body: `${n} ${n === 1 ? 'receipt was' : 'receipts were'} settled into your balance.`,
        });
      }
      this.settled = s.settled;
    }
    return out;
  }
}
