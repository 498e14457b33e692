import type { JsonValue } from '../../core/market/canonical.js';
import type { Logger } from '../../node/log.js';
import type { MarketStore } from '../store/market-store.js';
import type { ProviderSession } from './provider-session.js';

export interface ReceiptDeliveryDeps {
  store: MarketStore;
  /** The provider sessions connected to this instance now. */
  sessions(): Iterable<ProviderSession>;
  /** A stored receipt as it is sent (signed with the market's key). */
  signed(stored: JsonValue): JsonValue;
  logger: Logger;
  /** Receipts read per pass (default 500). */
  batch?: number;
}

/**
 * Receipt delivery: sends every receipt stored but not yet acknowledged to its provider, if that
 * provider is connected to this instance — whichever instance stored it. A receipt is stored by
 * the instance that pays its task, and the provider may be connected to another one; each
 * instance delivers to its own sockets. One pass is one query by the list of locally connected
 * addresses (bounded by `batch`); a receipt already sent on a socket is not sent on it again
 * (tracked per session until its ack), so a pass sends only what is new. The market runs it on
 * every instance every `receiptDeliveryMs`; `runOnce` is what the timer and the tests call.
 */
export class ReceiptDelivery {
  private readonly batch: number;
  /** Receipt keys sent on each socket and not yet acknowledged. */
  private readonly sent = new WeakMap<ProviderSession, Set<string>>();

  constructor(private readonly deps: ReceiptDeliveryDeps) {
    this.batch = deps.batch ?? 500;
  }

  /** Records receipts sent on `session` by another path (the join), so a pass does not send them again. */
  noteSent(session: ProviderSession, keys: Iterable<string>): void {
    const set = this.sentOn(session);
    for (const k of keys) set.add(k);
  }

  /** The provider acknowledged `key` on `session`: it is no longer tracked (the store has it delivered). */
  acked(session: ProviderSession, key: string): void {
    this.sent.get(session)?.delete(key);
  }

  /** Sends the receipts not yet acknowledged to the providers connected here; returns how many were sent. */
  async runOnce(): Promise<{ sent: number }> {
    const byAddress = new Map<string, ProviderSession>();
    for (const s of this.deps.sessions()) byAddress.set(s.address, s);
    if (byAddress.size === 0) return { sent: 0 };
    const except: string[] = [];
    for (const s of byAddress.values()) for (const k of this.sent.get(s) ?? []) except.push(k);
    const rows = await this.deps.store.transaction((tx) =>
      tx.validator.undeliveredFor([...byAddress.keys()], except, this.batch),
    );
    let sent = 0;
    for (const r of rows) {
      const session = byAddress.get(r.provider);
      // Gone while the query ran, or replaced by a newer socket (which gets it at its join or next pass).
      if (!session || session.congested) continue;
      const set = this.sentOn(session);
      if (set.has(r.key)) continue;
      set.add(r.key);
      session.send({ type: 'receipt', receipt: this.deps.signed(r.receipt) as never, task_id: r.taskId });
      sent++;
    }
    return { sent };
  }

  private sentOn(session: ProviderSession): Set<string> {
    let set = this.sent.get(session);
    if (!set) this.sent.set(session, (set = new Set()));
    return set;
  }
}
