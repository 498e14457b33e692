import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { errorFields, type Logger } from '../../node/log.js';
import { CLOSE_CODES } from '../../shared/market-protocol.js';
import type { MarketStore, MarketTx } from '../store/market-store.js';
import type { PresenceRecord } from '../store/presence-repo.js';
import type { ProviderSession } from './provider-session.js';

export interface PresenceDeps {
  store: MarketStore;
  clock: Clock;
  logger: Logger;
  /** The provider sessions connected to this instance now. */
  sessions(): Iterable<ProviderSession>;
  /** How often the timer runs a pass (0: no timer; `runOnce` only), ms. */
  heartbeatMs: number;
  /** An instance not heard for this long is dead, ms. */
  timeoutMs: number;
  /** This instance's id (default: a random UUID, new at every start). */
  instanceId?: string;
}

/** What one presence pass did. */
export interface PresencePass {
  /** Providers whose socket here was closed (4005): another instance holds them now. */
  superseded: string[];
  /** Instances found dead and removed, with the presence they held. */
  dropped: string[];
}

/** The close reason a socket gets when the same provider is connected to another instance. */
const SUPERSEDED_ELSEWHERE = 'the same provider connected again, to another market instance';

/**
 * Presence (docs/market-api.md, "Presence"): which market instance holds each provider's socket,
 * and which instances are live, kept in the store so every instance sharing it sees the same.
 *
 * Each instance registers a row under a random id at start, heartbeats it every `heartbeatMs` and
 * removes it at close; an instance whose heartbeat is older than `timeoutMs` is dead, and the live
 * ones remove it with its presence. A provider's join writes its presence, taking the address over
 * from any other socket; the instance that held the older socket closes it with 4005 at its next
 * pass (`runOnce`), or at once when told (`checkNow`, for a store notification). A leave removes the
 * row only if that socket still holds it.
 */
export class Presence {
  readonly instanceId: string;
  private url: string | null = null;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PresencePass> | undefined;
  private closed = false;
  /** Sessions whose claim has committed: only these are checked (a join still writing its claim is not). */
  private readonly claimed = new WeakSet<ProviderSession>();
  /** Sessions that have left (a claim that commits after its leave is removed again). */
  private readonly gone = new WeakSet<ProviderSession>();
  private peers: string[] = [];
  /** Presence rows of departed sockets being removed (see whenSettled). */
  private readonly releasing = new Set<Promise<void>>();
  private readonly claimListeners = new Set<(e: { address: string; from: string }) => void>();

  constructor(private readonly deps: PresenceDeps) {
    this.instanceId = deps.instanceId ?? randomUUID();
  }

  /** Registers this instance (removing dead ones), runs a first pass and starts the timer. */
  async start(): Promise<void> {
    this.startedAt = this.deps.clock.now();
    await this.runOnce();
    if (this.deps.heartbeatMs > 0 && !this.closed) {
      this.timer = setInterval(() => {
        this.runOnce().catch((err: unknown) => this.report('pass', err));
      }, this.deps.heartbeatMs);
      this.timer.unref();
    }
  }

  /** Sets the URL this instance advertises to providers (its listening URL, or `--public-url`) and writes it now. */
  async advertise(url: string): Promise<void> {
    this.url = url;
    const now = this.deps.clock.now();
    await this.deps.store.transaction((tx) => tx.presence.beat(this.instanceId, url, this.startedAt || now, now));
  }

  /**
   * One pass: heartbeats this instance's row, removes dead instances and their presence, writes
   * again the presence of local sockets whose row went missing (or whose capacity changed), and
   * closes with 4005 each local socket whose provider another socket has taken over. Concurrent
   * calls share one pass. The timer and the tests call it.
   */
  runOnce(): Promise<PresencePass> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Checks every socket held here against the store at once (a `presence` notification from another instance). */
  async checkAll(): Promise<string[]> {
    return this.checkNow(this.held().map((s) => s.address));
  }

  /**
   * Checks now whether another instance took over any of `addresses` held here (call it when a
   * store notification names them); closes those sockets with 4005. Addresses not held here cost
   * no store access. Returns the providers whose socket was closed.
   */
  async checkNow(addresses: readonly string[]): Promise<string[]> {
    if (this.closed) return [];
    const wanted = new Set(addresses);
    const mine = this.held().filter((s) => wanted.has(s.address));
    if (mine.length === 0) return [];
    const rows = await this.deps.store.transaction((tx) => tx.presence.read(mine.map((s) => s.address)));
    const by = new Map(rows.map((r) => [r.address, r]));
    return this.supersede(mine.filter((s) => this.takenBy(by.get(s.address))));
  }

  /** Writes the presence of a provider that joined here (call before its welcome). */
  async joined(session: ProviderSession): Promise<void> {
    const prev = await this.deps.store.transaction(async (tx) => {
      const before = await tx.presence.claim(this.record(session));
      // The instance that held it hears at once (notifier 'presence' → checkAll), not at its next pass.
      if (before && before.instanceId !== this.instanceId) await tx.notify('presence');
      return before;
    });
    // It left while its claim was being written: the row is removed again.
    if (this.gone.has(session)) return this.release(session);
    this.claimed.add(session);
    if (prev && prev.instanceId !== this.instanceId)
      for (const l of [...this.claimListeners]) l({ address: session.address, from: prev.instanceId });
  }

  /** Removes the presence of a provider that left, if this socket still holds it (errors are logged). */
  left(session: ProviderSession): void {
    this.gone.add(session);
    if (!this.claimed.has(session)) return;
    this.claimed.delete(session);
    this.release(session);
  }

  /**
   * Calls `listener` when a join here took a provider over from another instance (`from`), for a
   * store notification to that instance (which calls its `checkNow`). Returns the unsubscribe.
   */
  onDidClaim(listener: (e: { address: string; from: string }) => void): () => void {
    this.claimListeners.add(listener);
    return () => this.claimListeners.delete(listener);
  }

  /** The oldest heartbeat time a live instance may have now. */
  liveSince(now: number = this.deps.clock.now()): number {
    return now - this.deps.timeoutMs;
  }

  /** The URLs the live instances advertise, oldest instance first; this one's left out with `excludingSelf` (default). */
  async liveInstanceUrls(excludingSelf = true): Promise<string[]> {
    const live = await this.deps.store.transaction((tx) => tx.presence.liveInstances(this.liveSince()));
    return urlsOf(live, excludingSelf ? this.instanceId : undefined);
  }

  /** The other live instances' URLs as of the latest pass (no store access: for building a welcome). */
  peerUrls(): string[] {
    return [...this.peers];
  }

  /** Providers present on another live instance (read in the caller's transaction). */
  presentElsewhere(tx: MarketTx, now: number): Promise<Set<string>> {
    return tx.presence.presentElsewhere(this.instanceId, this.liveSince(now));
  }

  /** Industrial `max_jobs` of the providers present on other live instances (read in the caller's transaction). */
  industrialCapacityElsewhere(tx: MarketTx, now: number): Promise<number> {
    return tx.presence.industrialCapacityElsewhere(this.instanceId, this.liveSince(now));
  }

  /** A test signal: resolves once the presence of every socket that has left so far is removed. */
  async whenSettled(): Promise<void> {
    await Promise.all([...this.releasing]);
  }

  /** Stops the timer and removes this instance's row and the presence it holds. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.whenSettled();
    await this.deps.store.transaction((tx) => tx.presence.removeInstance(this.instanceId));
  }

  private async pass(): Promise<PresencePass> {
    if (this.closed) return { superseded: [], dropped: [] };
    const now = this.deps.clock.now();
    const mine = this.held();
    const { dropped, kept, rewritten, live } = await this.deps.store.transaction(async (tx) => {
      await tx.presence.beat(this.instanceId, this.url, this.startedAt || now, now);
      const dead = await tx.presence.dropDead(this.liveSince(now));
      const rows = await tx.presence.read(mine.map((s) => s.address));
      const by = new Map(rows.map((r) => [r.address, r]));
      // Only rows that are missing, or ours with another capacity, are written.
      const rewrite = mine
        .filter((s) => {
          const r = by.get(s.address);
          if (!r) return true;
          if (this.takenBy(r)) return false;
          const want = this.record(s);
          return r.sessionId !== s.id || r.industrial !== want.industrial || r.maxJobs !== want.maxJobs;
        })
        .map((s) => this.record(s));
      const ok = await tx.presence.reassert(rewrite);
      const rewritten = new Set(rewrite.map((r) => r.address));
      // A socket keeps its provider while the row names it and any write of it went through.
      const kept = mine.filter(
        (s) => !this.takenBy(by.get(s.address)) && (!rewritten.has(s.address) || ok.has(s.address)),
      );
      const live = await tx.presence.liveInstances(this.liveSince(now));
      return { dropped: dead, kept: new Set(kept), rewritten, live };
    });
    this.peers = urlsOf(live, this.instanceId);
    // A socket that left while the pass ran may have had its row written again: removed once more.
    for (const s of mine) if (rewritten.has(s.address) && !this.claimed.has(s)) this.release(s);
    return { superseded: this.supersede(mine.filter((s) => !kept.has(s) && this.claimed.has(s))), dropped };
  }

  private release(session: ProviderSession): void {
    if (this.closed) return; // close() removed every row of this instance
    const p = this.deps.store
      .transaction((tx) => tx.presence.release(session.address, this.instanceId, session.id))
      .catch((err: unknown) => this.report('leave', err))
      .finally(() => this.releasing.delete(p));
    this.releasing.add(p);
  }

  /** The local sessions whose claim has committed. */
  private held(): ProviderSession[] {
    return [...this.deps.sessions()].filter((s) => this.claimed.has(s));
  }

  /**
   * Whether another instance holds the provider of `session`. A row of this instance naming an
   * older socket is not a takeover (this instance keeps only the newest socket of a provider): the
   * pass writes the current socket into it.
   */
  private takenBy(row: PresenceRecord | undefined): boolean {
    return row !== undefined && row.instanceId !== this.instanceId;
  }

  /** Closes these sockets with 4005; returns their providers. */
  private supersede(sessions: readonly ProviderSession[]): string[] {
    for (const s of sessions) {
      this.claimed.delete(s);
      this.deps.logger.info('provider connected to another market instance; its older socket here is closed', {
        address: s.address,
      });
      s.close(CLOSE_CODES.superseded, SUPERSEDED_ELSEWHERE);
    }
    return sessions.map((s) => s.address);
  }

  private record(s: ProviderSession): PresenceRecord {
    const caps = s.capabilities;
    return {
      address: s.address,
      instanceId: this.instanceId,
      sessionId: s.id,
      joinedAt: this.deps.clock.now(),
      industrial: caps?.lanes.includes('industrial') ?? false,
      maxJobs: caps?.max_jobs ?? 0,
    };
  }

  private report(what: string, err: unknown): void {
    this.deps.logger.error(`presence ${what} failed`, { what, ...errorFields(err) });
  }
}

function urlsOf(live: readonly { instanceId: string; url: string | null }[], exclude: string | undefined): string[] {
  return live.filter((i) => i.instanceId !== exclude && i.url !== null).map((i) => i.url as string);
}
