import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmountError, formatAmount, MAX_AMOUNT_MICRO, parseAmount } from '../../../src/core/market/amount.js';

const SEED = 0x9a11;

describe('parseAmount', () => {
  it('reads decimal CPC strings as micro-CPC', () => {
    expect(parseAmount('10.0')).toBe(10_000_000n);
    expect(parseAmount('10')).toBe(10_000_000n);
    expect(parseAmount('0.000001')).toBe(1n);
    expect(parseAmount('0')).toBe(0n);
    expect(parseAmount('123.45')).toBe(123_450_000n);
  });

  it.each([
    '',
    '-1',
    '+1',
    '1e3',
    '1.',
    '.5',
    '01',
    '1.0000001',
    ' 1',
    '1 ',
    'NaN',
    '0x10',
    '1,5',
    '1.2.3',
    '10000000000000',
  ])('rejects %j naming the field', (text) => {
    let err: unknown;
    try {
      parseAmount(text, 'reward');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AmountError);
    expect((err as AmountError).code).toBe('INVALID_AMOUNT');
    expect((err as AmountError).message).toMatch(/^reward: /);
  });

  it('names the decimal limit when there are more than six decimals', () => {
    expect(() => parseAmount('1.1234567', 'reward')).toThrow(/at most 6/);
  });

  it('round-trips every amount through formatAmount', () => {
    console.log(`fast-check seed ${SEED}`);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_AMOUNT_MICRO }), (micro) => parseAmount(formatAmount(micro)) === micro),
      { seed: SEED, numRuns: 500 },
    );
  });
});
