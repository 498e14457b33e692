import type { Clock } from '../core/clock.js';

/** The one system clock: every host passes this; tests pass a fake Clock. */
export const systemClock: Clock = { now: () => Date.now() };
