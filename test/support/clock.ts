import type { Clock } from '../../src/core/clock.js';

/** A clock the test moves by hand (a market and its raw providers share one, so lease deadlines pass without sleeping). */
export interface ManualClock extends Clock {
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}
