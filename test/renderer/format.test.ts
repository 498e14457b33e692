import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  creditsDecimal,
  formatCountdown,
  formatCredits,
  formatDuration,
  relativeTime,
  sumCredits,
} from '../../src/renderer/app/lib/format.js';
import { parseAmount } from '../../src/core/market/amount.js';

const SEED = 20261202;

describe('credit formatting (micro-CPC strings → CPC with six decimals)', () => {
  it('shows exactly six decimals, with the sign and thousands separators', () => {
    expect(formatCredits('12345')).toBe('0.012345');
    expect(formatCredits('0')).toBe('0.000000');
    expect(formatCredits('1')).toBe('0.000001');
    expect(formatCredits('1000000')).toBe('1.000000');
    expect(formatCredits('1234567890123')).toBe('1,234,567.890123');
    expect(formatCredits('-2500000')).toBe('-2.500000');
    expect(formatCredits(7n)).toBe('0.000007');
  });

  it('never goes through floating point: 2^63−1 micro-CPC keeps every digit', () => {
    expect(creditsDecimal('9223372036854775807')).toBe('9223372036854.775807');
  });

  it('reads anything that is not an integer string as a dash', () => {
    for (const bad of ['', '1.5', 'abc', '1e6', ' 12', null, undefined])
      expect(formatCredits(bad as string | null | undefined)).toBe('—');
  });

  it('round-trips through the core amount parser for any u64 (fast-check, seeded)', () => {
    console.log(`format.test seed=${SEED}`);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), (micro) => {
        expect(parseAmount(creditsDecimal(micro))).toBe(micro);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('sums exactly', () => {
    expect(sumCredits(['9007199254740993', '1', 'x'])).toBe(9007199254740994n);
  });
});

describe('times', () => {
  const now = 1_800_000_000_000;
  it('says how long ago in words', () => {
    expect(relativeTime(now - 1000, now)).toBe('just now');
    expect(relativeTime(now - 42_000, now)).toBe('42 s ago');
    expect(relativeTime(now - 120_000, now)).toBe('2 min ago');
    expect(relativeTime(now - 3 * 3_600_000, now)).toBe('3 h ago');
    expect(relativeTime(now - 86_400_000, now)).toBe('1 day ago');
    expect(relativeTime(now - 5 * 86_400_000, now)).toBe('5 days ago');
    expect(relativeTime(now + 120_000, now)).toBe('in 2 min');
  });
  it('formats durations and countdowns', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(3210)).toBe('3.2 s');
    expect(formatDuration(245_000)).toBe('4 min 05 s');
    expect(formatDuration(null)).toBe('—');
    expect(formatCountdown(29_001)).toBe('0:30');
    expect(formatCountdown(3_723_000)).toBe('1:02:03');
    expect(formatCountdown(-5)).toBe('0:00');
  });
});
