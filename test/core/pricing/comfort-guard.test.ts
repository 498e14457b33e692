import { describe, expect, it } from 'vitest';
import { CapacityEstimator } from '../../../src/core/pricing/capacity-estimator.js';
import { ComfortGuard, type ComfortGuardConfig } from '../../../src/core/pricing/comfort-guard.js';
import { FakeClock } from './fakes.js';

const config: ComfortGuardConfig = { feeThreshold: 1000n, ageLimitMs: 30_000, recoveryPercent: 90, recoveryMs: 60_000 };

function setup(cfg: ComfortGuardConfig = config) {
  const clock = new FakeClock();
  return { clock, guard: new ComfortGuard(cfg, clock) };
}

describe('comfort guard', () => {
  it('starts loose and stays loose at or below both limits (and with an empty queue)', () => {
    const { guard } = setup();
    expect(guard.mode).toBe('loose');
    expect(guard.evaluate({}).mode).toBe('loose');
    expect(guard.evaluate({ consumerFeeP90: 1000n, consumerAgeP95Ms: 30_000 })).toEqual({
      mode: 'loose',
      changed: false,
      pressure: [],
    });
  });

  it('turns tight at once when the consumer fee p90 rises above the threshold', () => {
    const { guard } = setup();
    expect(guard.evaluate({ consumerFeeP90: 1001n, consumerAgeP95Ms: 0 })).toEqual({
      mode: 'tight',
      changed: true,
      pressure: ['fee'],
    });
  });

  it('turns tight at once when the consumer queue age p95 exceeds its limit', () => {
    const { guard } = setup();
    expect(guard.evaluate({ consumerFeeP90: 1n, consumerAgeP95Ms: 30_001 })).toEqual({
      mode: 'tight',
      changed: true,
      pressure: ['age'],
    });
  });

  it('returns to loose only after both signals stay in the recovery band for the recovery time', () => {
    const { guard, clock } = setup();
    guard.evaluate({ consumerFeeP90: 2000n });
    // Back under the threshold but above 90 % of it: not recovered, however long it lasts.
    for (let i = 0; i < 10; i++) {
      clock.advance(60_000);
      expect(guard.evaluate({ consumerFeeP90: 950n, consumerAgeP95Ms: 0 }).mode).toBe('tight');
    }
    // In the band (≤ 900 and ≤ 27 s): the wait starts now.
    expect(guard.evaluate({ consumerFeeP90: 900n, consumerAgeP95Ms: 27_000 }).mode).toBe('tight');
    clock.advance(59_999);
    expect(guard.evaluate({ consumerFeeP90: 900n, consumerAgeP95Ms: 27_000 }).mode).toBe('tight');
    clock.advance(1);
    expect(guard.evaluate({ consumerFeeP90: 900n, consumerAgeP95Ms: 27_000 })).toEqual({
      mode: 'loose',
      changed: true,
      pressure: [],
    });
  });

  it('restarts the recovery wait whenever a reading leaves the band', () => {
    const { guard, clock } = setup();
    guard.evaluate({ consumerAgeP95Ms: 40_000 });
    guard.evaluate({ consumerAgeP95Ms: 1000 }); // calm from t0
    clock.advance(50_000);
    expect(guard.evaluate({ consumerAgeP95Ms: 28_000 }).mode).toBe('tight'); // 28 s > 27 s: out of band
    clock.advance(20_000);
    expect(guard.evaluate({ consumerAgeP95Ms: 1000 }).mode).toBe('tight'); // calm again from here
    clock.advance(59_000);
    expect(guard.evaluate({}).mode).toBe('tight');
    clock.advance(1000);
    expect(guard.evaluate({}).mode).toBe('loose');
  });

  it('does not flap when the fee oscillates around the threshold', () => {
    const { guard, clock } = setup();
    let changes = 0;
    for (let i = 0; i < 600; i++) {
      clock.advance(1000);
      if (guard.evaluate({ consumerFeeP90: i % 2 === 0 ? 1010n : 990n }).changed) changes++;
    }
    expect(changes).toBe(1);
    expect(guard.mode).toBe('tight');
  });

  it('without hysteresis settings (100 %, 0 s) it follows the limits directly', () => {
    const { guard } = setup({ ...config, recoveryPercent: 100, recoveryMs: 0 });
    expect(guard.evaluate({ consumerFeeP90: 1001n }).mode).toBe('tight');
    expect(guard.evaluate({ consumerFeeP90: 1000n }).mode).toBe('loose');
  });

  it('restarts the wait when the clock steps backwards', () => {
    const { guard, clock } = setup();
    guard.evaluate({ consumerFeeP90: 5000n });
    guard.evaluate({});
    clock.advance(-3_600_000);
    expect(guard.evaluate({}).mode).toBe('tight');
    clock.advance(59_000);
    expect(guard.evaluate({}).mode).toBe('tight');
    clock.advance(1000);
    expect(guard.evaluate({}).mode).toBe('loose');
  });

  it('rejects impossible settings', () => {
    const clock = new FakeClock();
    expect(() => new ComfortGuard({ ...config, recoveryPercent: 0 }, clock)).toThrow(RangeError);
    expect(() => new ComfortGuard({ ...config, recoveryMs: -1 }, clock)).toThrow(RangeError);
  });
});

describe('capacity estimator', () => {
  it('sums the latest report of each provider seen within the window', () => {
    const clock = new FakeClock();
    const cap = new CapacityEstimator(60_000, clock);
    expect(cap.capacity()).toBe(0);
    cap.report('a', 8);
    clock.advance(10_000);
    cap.report('b', 4);
    expect(cap.capacity()).toBe(12);
    clock.advance(10_000);
    cap.report('a', 2); // replaces a's earlier report
    expect(cap.capacity()).toBe(6);
    expect(cap.providers()).toBe(2);
    clock.advance(49_999);
    expect(cap.capacity()).toBe(6);
    clock.advance(1);
    expect(cap.capacity()).toBe(2); // b's report is 60 s old: b no longer counts
    cap.remove('a');
    expect(cap.capacity()).toBe(0);
    expect(() => cap.report('c', -1)).toThrow(RangeError);
  });

  it('keeps expiring in report order when the clock steps backwards', () => {
    const clock = new FakeClock();
    const cap = new CapacityEstimator(1000, clock);
    cap.report('a', 1);
    clock.advance(-500);
    cap.report('b', 2);
    clock.advance(1500);
    expect(cap.capacity()).toBe(0);
  });
});
