import { describe, expect, it } from 'vitest';
import {
  afterCheck,
  bondFraction,
  bondWithholding,
  checkProbability,
  checksUntilFloor,
  historyFraction,
  slashAmount,
  type ProbationPolicy,
} from '../../../src/core/market/probation.js';

const policy: ProbationPolicy = { floor: 0.1, probationJobs: 10, bondTarget: 10_000_000n, bondShareBps: 5000n };

describe('probation curve', () => {
  it('checks every job for the first probationJobs passed checks, then probationJobs / streak, never below the floor', () => {
    for (let s = 0; s < 10; s++) expect(historyFraction(s, policy)).toBe(1);
    expect(historyFraction(10, policy)).toBe(1);
    expect(historyFraction(20, policy)).toBe(0.5);
    expect(historyFraction(50, policy)).toBe(0.2);
    expect(historyFraction(100, policy)).toBe(0.1);
    expect(historyFraction(10_000, policy)).toBe(0.1);
    // Never rises as checks pass.
    for (let s = 1; s < 300; s++)
      expect(historyFraction(s, policy)).toBeLessThanOrEqual(historyFraction(s - 1, policy));
    expect(checksUntilFloor(0, policy)).toBe(100);
    expect(checksUntilFloor(60, policy)).toBe(40);
    expect(checksUntilFloor(500, policy)).toBe(0);
  });

  it('goes back to every job after a failed check', () => {
    const streak = afterCheck(afterCheck(500, true), false);
    expect(streak).toBe(0);
    expect(historyFraction(streak, policy)).toBe(1);
  });

  it('checks a job at least jobPay / (jobPay + funded bond), so one cheated job loses in expectation', () => {
    expect(bondFraction(250_000n, 0n, policy)).toBe(1);
    for (const [pay, bond] of [
      [250_000n, 10_000_000n],
      [5_000_000n, 10_000_000n],
      [50_000_000n, 3_000_000n],
    ] as const) {
      const q = checkProbability({ cleanStreak: 1000, bondFunded: bond }, policy, pay);
      expect((1 - q) * Number(pay)).toBeLessThanOrEqual(q * Number(slashAmount(bond)) + 1e-6);
    }
    // A market with no bond has no bond part; a market that checks nothing checks nothing.
    expect(bondFraction(250_000n, 0n, { bondTarget: 0n })).toBe(0);
    expect(checkProbability({ cleanStreak: 0, bondFunded: 0n }, { ...policy, floor: 0 }, 250_000n)).toBe(0);
  });

  it('holds back bondShare of a payout until the bond is funded, never more than it lacks', () => {
    expect(bondWithholding(250_000n, 0n, policy)).toBe(125_000n);
    expect(bondWithholding(250_000n, 9_950_000n, policy)).toBe(50_000n);
    expect(bondWithholding(250_000n, 10_000_000n, policy)).toBe(0n);
    expect(bondWithholding(250_000n, 0n, { ...policy, bondTarget: 0n })).toBe(0n);
    expect(slashAmount(7n)).toBe(7n);
    expect(slashAmount(0n)).toBe(0n);
  });
});
