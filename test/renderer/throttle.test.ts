import { afterEach, describe, expect, it, vi } from 'vitest';
import { throttle } from '../../src/renderer/app/lib/throttle.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('throttle (reloads on bursts of events)', () => {
  it('runs the first call at once, folds a burst into one trailing run, then rests', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    t.call();
    expect(fn).toHaveBeenCalledTimes(1); // the first earning shows without waiting
    t.call();
    t.call();
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(2); // one trailing run for the burst
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(2); // quiet: nothing more
    t.call();
    expect(fn).toHaveBeenCalledTimes(3); // after a quiet spell, at once again
  });

  it('cancel drops a trailing run that is due', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    t.call();
    t.call();
    t.cancel();
    vi.advanceTimersByTime(5000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
