import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit, ItemFailed, type GroupCommitOptions } from '../../src/market/group-commit.js';
import { StepQueue } from '../../src/market/validator/step-queue.js';

/** A promise and its resolve, for a commit the test holds open. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** Records how a promise settled, as soon as it does (read it after the signal that it must have). */
function track<T>(p: Promise<T>): { status: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const t: { status: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { status: 'pending' };
  p.then(
    (value) => Object.assign(t, { status: 'resolved', value }),
    (error: unknown) => Object.assign(t, { status: 'rejected', error }),
  );
  return t;
}

/** A group commit on a real step queue whose commits are recorded as "transactions", one per call. */
function harness<T, R = void>(
  options: Partial<GroupCommitOptions<T, R>> & { answer?: (group: readonly T[]) => readonly (R | ItemFailed)[] | void },
) {
  const steps = new StepQueue();
  const groups: T[][] = [];
  let transactions = 0;
  const errors: unknown[] = [];
  let holdNext: { opened: Promise<void>; started: () => void } | undefined;
  const gc = new GroupCommit<T, R>({
    schedule: (flush) => steps.serial(flush, 'lease'),
    onError: (err) => errors.push(err),
    commit: async (group) => {
      transactions++;
      groups.push([...group]);
      const hold = holdNext;
      holdNext = undefined;
      if (hold) {
        hold.started();
        await hold.opened;
      }
      return options.answer?.(group);
    },
    ...options,
  });
  return {
    gc,
    steps,
    groups,
    errors,
    get transactions() {
      return transactions;
    },
    /** The next commit waits until the returned gate opens; `started` resolves once it has begun. */
    holdNextCommit() {
      const g = gate();
      const begun = gate();
      holdNext = { opened: g.opened, started: begun.open };
      return { open: g.open, started: begun.opened };
    },
  };
}

describe('group commit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('items added before the flush runs share one transaction, and each resolves with its own answer after it', async () => {
    const h = harness<number, string>({ answer: (g) => g.map((n) => `ok ${n}`) });
    const answers = await Promise.all([h.gc.add(1), h.gc.add(2), h.gc.add(3)]);
    expect(answers).toEqual(['ok 1', 'ok 2', 'ok 3']);
    expect(h.groups).toEqual([[1, 2, 3]]);
    expect(h.transactions).toBe(1);
  });

  it('items added while a commit runs wait for the next one, and share it: one transaction per group', async () => {
    const h = harness<string>({});
    const held = h.holdNextCommit();
    const first = track(h.gc.add('a'));
    await held.started; // the first group's commit runs (and holds)
    expect(h.groups).toEqual([['a']]);
    const later = [track(h.gc.add('b')), track(h.gc.add('c')), track(h.gc.add('d'))];
    expect(h.gc.size).toBe(3);
    expect(first.status).toBe('pending');
    held.open();
    await h.steps.drain();
    expect(first.status).toBe('resolved');
    expect(later.map((t) => t.status)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(h.groups).toEqual([['a'], ['b', 'c', 'd']]);
    expect(h.transactions).toBe(2);
  });

  it('a transaction that fails rejects every item of its group with its error (coalesced callers too), reports once, and the next group still commits', async () => {
    const boom = new Error('the transaction failed');
    let fail = true;
    const h = harness<{ k: string }>({
      latest: { key: (x) => x.k, replaces: () => true },
      answer: () => {
        if (fail) throw boom;
      },
    });
    const items = [track(h.gc.add({ k: 'a' })), track(h.gc.add({ k: 'b' })), track(h.gc.add({ k: 'a' }))];
    await h.steps.drain();
    expect(items.map((t) => t.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(items.map((t) => t.error)).toEqual([boom, boom, boom]);
    expect(h.errors).toEqual([boom]);
    fail = false;
    await expect(h.gc.add({ k: 'a' })).resolves.toBeUndefined();
    expect(h.transactions).toBe(2);
  });

  it('an ItemFailed answer rejects that item alone', async () => {
    const own = new Error('re-execution failed');
    const h = harness<number, number>({ answer: (g) => g.map((n) => (n === 2 ? new ItemFailed(own) : n * 10)) });
    const items = [track(h.gc.add(1)), track(h.gc.add(2)), track(h.gc.add(3))];
    await h.steps.drain();
    expect(items.map((t) => t.status)).toEqual(['resolved', 'rejected', 'resolved']);
    expect([items[0]?.value, items[1]?.error, items[2]?.value]).toEqual([10, own, 30]);
    expect(h.errors).toEqual([]);
  });

  it('latest per key: one entry per key, in the position of its first item, holding the latest by `replaces`; every caller of the key gets its answer', async () => {
    type Beat = { who: string; seenAt: number };
    const h = harness<Beat, string>({
      latest: { key: (b) => b.who, replaces: (prev, next) => prev.seenAt <= next.seenAt },
      answer: (g) => g.map((b) => `${b.who}@${b.seenAt}`),
    });
    const calls = [
      h.gc.add({ who: 'a', seenAt: 1 }),
      h.gc.add({ who: 'b', seenAt: 5 }),
      h.gc.add({ who: 'a', seenAt: 3 }),
      h.gc.add({ who: 'a', seenAt: 2 }), // older than the one waiting: it does not replace it
    ];
    expect(h.gc.size).toBe(2);
    expect(await Promise.all(calls)).toEqual(['a@3', 'b@5', 'a@3', 'a@3']);
    expect(h.groups).toEqual([
      [
        { who: 'a', seenAt: 3 },
        { who: 'b', seenAt: 5 },
      ],
    ]);
  });

  it('with a window, the group is scheduled windowMs after its first item and takes every item added meanwhile', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness<number>({ windowMs: 50 });
    const items = [track(h.gc.add(1))];
    await vi.advanceTimersByTimeAsync(49);
    items.push(track(h.gc.add(2)));
    await h.steps.drain();
    expect(h.transactions).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await h.steps.drain();
    expect(h.groups).toEqual([[1, 2]]);
    expect(items.map((t) => t.status)).toEqual(['resolved', 'resolved']);
    // dispose stops a pending window; flush commits what waits.
    const late = track(h.gc.add(3));
    h.gc.dispose();
    await vi.advanceTimersByTimeAsync(1000);
    await h.steps.drain();
    expect(h.transactions).toBe(1);
    await h.gc.flush();
    expect(late.status).toBe('resolved');
    expect(h.groups).toEqual([[1, 2], [3]]);
  });
});
