/**
 * Ping/pong liveness for long-lived sockets (docs/market-api.md, "Liveness"): a socket not heard
 * from (no frame, no ping, no pong) for `pingMs` is pinged; one whose ping is still unanswered
 * `deadMs − pingMs` later is dead — so a socket is declared dead after about `deadMs` without
 * anything from its peer. The rule runs in `checkNow()`, which the timer (`start`) and a test
 * both call; time comes from `now`, so a test moves it by hand.
 */

/** The two timings of the rule, ms. */
export interface LivenessTimings {
  /** A socket silent this long is pinged. */
  pingMs: number;
  /** A socket silent this long, with its ping unanswered, is dead (more than `pingMs`). */
  deadMs: number;
}

/** What the rule does to one socket. */
export interface LivePeer {
  /** Sends a WebSocket ping (the peer's library answers it with a pong). */
  ping(): void;
  /** The socket is dead: drop it. `silentMs`: how long nothing was heard from the peer. */
  dead(silentMs: number): void;
}

/** One tracked socket: tell it about every frame, ping and pong heard; `untrack` when it closes. */
export interface LivenessHandle {
  heard(): void;
  untrack(): void;
}

/** Throws a RangeError naming the setting when the timings are not whole ms with 0 < pingMs < deadMs. */
export function checkLivenessTimings(t: LivenessTimings, names = { pingMs: 'pingMs', deadMs: 'deadMs' }): void {
  if (!Number.isSafeInteger(t.pingMs) || t.pingMs < 1)
    throw new RangeError(`${names.pingMs} must be a whole number of ms ≥ 1 (got ${t.pingMs})`);
  if (!Number.isSafeInteger(t.deadMs) || t.deadMs <= t.pingMs)
    throw new RangeError(`${names.deadMs} must be a whole number of ms greater than ${names.pingMs} (got ${t.deadMs})`);
}

interface Tracked {
  peer: LivePeer;
  heardAt: number;
  /** When the outstanding ping was sent; undefined while none is outstanding. */
  pingedAt: number | undefined;
}

export class SocketLiveness {
  private readonly peers = new Set<Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private readonly heardListeners = new Set<() => void>();

  constructor(
    private readonly timings: LivenessTimings,
    private readonly now: () => number,
    /** Hears a ping or drop that threw (the pass goes on with the other sockets). */
    private readonly onError: (err: unknown) => void,
  ) {
    checkLivenessTimings(timings);
  }

  /** Sockets tracked now. */
  get size(): number {
    return this.peers.size;
  }

  /** A test signal: `listener` hears every frame, ping or pong reported on any tracked socket. Returns the unsubscribe. */
  onDidHear(listener: () => void): () => void {
    this.heardListeners.add(listener);
    return () => this.heardListeners.delete(listener);
  }

  /** Starts tracking `peer`, heard now. */
  track(peer: LivePeer): LivenessHandle {
    const t: Tracked = { peer, heardAt: this.now(), pingedAt: undefined };
    this.peers.add(t);
    return {
      heard: () => {
        t.heardAt = Math.max(t.heardAt, this.now());
        t.pingedAt = undefined;
        for (const l of [...this.heardListeners]) l();
      },
      untrack: () => void this.peers.delete(t),
    };
  }

  /**
   * One pass of the rule over every tracked socket: pings the silent ones, drops (and untracks)
   * the dead ones. Returns how many of each.
   */
  checkNow(): { pinged: number; dead: number } {
    const now = this.now();
    const pongTimeoutMs = this.timings.deadMs - this.timings.pingMs;
    let pinged = 0;
    let dead = 0;
    for (const t of [...this.peers]) {
      if (t.pingedAt !== undefined) {
        if (now - t.pingedAt < pongTimeoutMs) continue;
        this.peers.delete(t);
        dead++;
        this.guard(() => t.peer.dead(now - t.heardAt));
      } else if (now - t.heardAt >= this.timings.pingMs) {
        t.pingedAt = now;
        pinged++;
        this.guard(() => t.peer.ping());
      }
    }
    return { pinged, dead };
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onError(err);
    }
  }

  /** Runs `checkNow` on a timer (unref'd) a few times per ping interval, so a silent socket is pinged within about `pingMs`. */
  start(): void {
    if (this.timer) return;
    const every = Math.max(
      50,
      Math.floor(Math.min(this.timings.pingMs, this.timings.deadMs - this.timings.pingMs) / 3),
    );
    this.timer = setInterval(() => this.checkNow(), every);
    this.timer.unref();
  }

  /** Stops the timer and forgets every socket. */
  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.peers.clear();
  }
}
