import type { Logger } from '../../node/log.js';
import { errorFields } from '../../node/log.js';
import { MARKET_CHANNELS, type MarketChannel } from '../store/channels.js';
import type { MarketStore } from '../store/market-store.js';

/** What a handler of a market event is told. */
export interface MarketEvent {
  /**
   * The change was committed by this instance, which acted on it where it committed it (kicked
   * its own dispatch, sent receipts to its own sockets); false for another instance's commit, and
   * for the wake-up after the listening connection came back (what it missed is unknown).
   */
  local: boolean;
}

type Handler = (e: MarketEvent) => void;

export interface MarketNotifierDeps {
  store: MarketStore;
  logger: Logger;
}

/**
 * The market's wake-ups across instances (graphile-worker's `LISTEN "jobs:insert"` → nudge):
 * typed events over the store's channels (channels.ts), each notified in the transaction that
 * commits the change, so every instance sharing the store hears it once it is committed and never
 * when it rolls back.
 *
 * - `jobs_ready`: a task posted or submitted, a task split into jobs, jobs admitted, a job
 *   requeued (its lease lost or revoked) — the dispatcher kicks its pass.
 * - `result_settled`: a group of results settled (the providers' capacity freed).
 * - `receipt_stored`: receipts stored — each instance delivers those of its own providers.
 * - `presence`: which instance serves which provider changed.
 *
 * Notifications are a fast path, not the record: the timers (the sweep, receipt delivery) still
 * run as the safety net, and when the listening connection comes back after a loss every handler
 * is called once (`local: false`), because what was sent in between is lost.
 */
export class MarketNotifier {
  private readonly handlers = new Map<MarketChannel, Set<Handler>>();
  private readonly offs: (() => Promise<void>)[] = [];
  private offResubscribe: (() => void) | undefined;
  private listeningValue = false;

  constructor(private readonly deps: MarketNotifierDeps) {}

  /** Whether every channel is subscribed (false before `start`, or when the store could not be reached then). */
  get listening(): boolean {
    return this.listeningValue;
  }

  /** Calls `fn` for each `event`; returns the unsubscribe. */
  on(event: MarketChannel, fn: Handler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Subscribes every channel. A store that cannot be reached now is logged, not thrown: the store
   * keeps trying in the background and the timers cover the gap.
   */
  async start(): Promise<void> {
    this.offResubscribe = this.deps.store.onDidResubscribe(() => {
      this.listeningValue = true;
      this.deps.logger.info('listening for market notifications again; waking every duty once');
      for (const event of MARKET_CHANNELS) this.emit(event, { local: false });
    });
    // Every channel is subscribed even when the server is not reached now (the store subscribes
    // them all when it is), so the subscriptions run side by side.
    const subscribed = await Promise.allSettled(
      MARKET_CHANNELS.map((event) =>
        this.deps.store.listen(event, (n) => this.emit(event, { local: n.origin === this.deps.store.origin })),
      ),
    );
    for (const s of subscribed) if (s.status === 'fulfilled') this.offs.push(s.value);
    const failed = subscribed.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (!failed) this.listeningValue = true;
    else
      this.deps.logger.warn('cannot listen for market notifications yet; other instances wake this one on its timers', {
        ...errorFields(failed.reason),
      });
  }

  async close(): Promise<void> {
    this.listeningValue = false;
    this.offResubscribe?.();
    for (const off of this.offs.splice(0).reverse()) await off().catch(() => undefined);
    this.handlers.clear();
  }

  private emit(event: MarketChannel, e: MarketEvent): void {
    for (const fn of [...(this.handlers.get(event) ?? [])]) {
      try {
        fn(e);
      } catch (err) {
        this.deps.logger.error('a market notification handler failed', { event, ...errorFields(err) });
      }
    }
  }
}

/**
 * `run` at most once at a time: a call while it runs makes one more run after it (however many
 * calls came), so a burst of notifications costs at most two passes.
 */
export function coalesced(run: () => Promise<unknown>, report: (err: unknown) => void): () => void {
  let running = false;
  let again = false;
  const go = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    run()
      .catch(report)
      .finally(() => {
        running = false;
        if (again) go();
      });
  };
  return go;
}
