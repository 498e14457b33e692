/** One item's own failure inside a group that committed: it rejects that item alone (the others resolve). */
export class ItemFailed {
  constructor(readonly error: unknown) {}
}

export interface GroupCommitOptions<T, R> {
  /**
   * Commits one group — every item added since the previous group — in one transaction. Returns
   * each item's answer in group order (an ItemFailed rejects that item alone), or nothing when
   * every item resolves with `undefined`. A throw rejects every item of the group with it.
   */
  commit(group: readonly T[]): Promise<readonly (R | ItemFailed)[] | void>;
  /** Runs a flush when its turn comes (the validator's step queue); a rejection goes to `onError`. */
  schedule(flush: () => Promise<void>): Promise<unknown>;
  /** Hears a group's failure (its items were rejected with it already). */
  onError(err: unknown): void;
  /**
   * How long the first item of a group waits for others before the group is scheduled. Absent:
   * the group is scheduled at once, and items that arrive while it waits for its turn join it.
   */
  windowMs?: number;
  /**
   * Coalescing: items with the same key share one entry of the group (in the position of the
   * first), which holds the latest item by `replaces`; every caller of `add` for that key is
   * answered with the entry's outcome.
   */
  latest?: { key(item: T): string; replaces(prev: T, next: T): boolean };
}

interface Entry<T, R> {
  item: T;
  waiters: { resolve: (value: R) => void; reject: (err: unknown) => void }[];
}

/**
 * A group commit: items added while a commit is scheduled or running wait for the next one, and
 * each group is committed in one transaction, so the store's cost grows with the commits, not
 * with the items. Each item's promise settles after its group: resolved with its answer once the
 * transaction committed, or rejected with the group's error (or its own ItemFailed).
 */
export class GroupCommit<T, R = void> {
  private entries: Entry<T, R>[] = [];
  private readonly byKey = new Map<string, Entry<T, R>>();
  private queued = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: GroupCommitOptions<T, R>) {}

  /** Items waiting for their group (coalesced items count once). */
  get size(): number {
    return this.entries.length;
  }

  /** Adds `item` to the next group; settles once that group has. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiter = { resolve, reject };
      const latest = this.options.latest;
      const key = latest?.key(item);
      const prev = key === undefined ? undefined : this.byKey.get(key);
      if (prev && latest) {
        prev.waiters.push(waiter);
        if (latest.replaces(prev.item, item)) prev.item = item;
      } else {
        const entry = { item, waiters: [waiter] };
        this.entries.push(entry);
        if (key !== undefined) this.byKey.set(key, entry);
      }
      this.request();
    });
  }

  /** Commits every waiting item now, as one group (what a scheduled flush runs; a closing owner calls it too). */
  async flush(): Promise<void> {
    this.queued = false;
    const group = this.entries;
    this.entries = [];
    this.byKey.clear();
    if (group.length === 0) return;
    let outcomes: readonly (R | ItemFailed)[] | void;
    try {
      outcomes = await this.options.commit(group.map((e) => e.item));
    } catch (err) {
      for (const e of group) for (const w of e.waiters) w.reject(err);
      throw err;
    }
    group.forEach((e, i) => {
      const outcome = outcomes ? outcomes[i] : undefined;
      for (const w of e.waiters)
        if (outcome instanceof ItemFailed) w.reject(outcome.error);
        else w.resolve(outcome as R);
    });
  }

  /** Stops the window timer (the items stay; `flush` commits them). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private request(): void {
    if (this.options.windowMs !== undefined) {
      if (this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.options.windowMs);
      return;
    }
    if (this.queued) return;
    this.queued = true;
    this.schedule();
  }

  private schedule(): void {
    this.options.schedule(() => this.flush()).catch((err: unknown) => this.options.onError(err));
  }
}
