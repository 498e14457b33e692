import { describe, expect, it } from 'vitest';
import { DEFAULT_VALIDATOR_CONFIG, resolveValidatorConfig } from '../../src/market/validator/validator-config.js';

describe('validator settings: a bad value is one line naming the setting', () => {
  it('accepts the defaults and 0 for receipt delivery (off)', () => {
    expect(resolveValidatorConfig()).toEqual(DEFAULT_VALIDATOR_CONFIG);
    expect(resolveValidatorConfig({ receiptDeliveryMs: 0 }).receiptDeliveryMs).toBe(0);
    expect(resolveValidatorConfig({ presenceMs: 0, instanceTimeoutMs: 1 })).toMatchObject({
      presenceMs: 0,
      instanceTimeoutMs: 1,
    });
  });

  it.each([
    [{ receiptDeliveryMs: -1 }, /^receiptDeliveryMs must be a whole number of ms ≥ 0/],
    [{ receiptDeliveryMs: 1.5 }, /^receiptDeliveryMs must be/],
    [{ sendBufferSoftBytes: 0 }, /^sendBufferSoftBytes must be/],
    [{ sendBufferSoftBytes: 100, sendBufferHardBytes: 99 }, /^sendBufferHardBytes must be .* ≥ sendBufferSoftBytes/],
    [{ slowConsumerMs: 0 }, /^slowConsumerMs must be/],
    [{ socketPingMs: 0 }, /^socketPingMs must be/],
    [
      { socketPingMs: 1000, socketDeadMs: 1000 },
      /^socketDeadMs must be a whole number of ms greater than socketPingMs/,
    ],
    [{ presenceMs: -1 }, /^presenceMs must be a whole number of ms from 0 to 60000/],
    [{ presenceMs: 60_001 }, /^presenceMs must be/],
    [
      { presenceMs: 3000, instanceTimeoutMs: 5999 },
      /^instanceTimeoutMs must be a whole number of ms ≥ 2 × presenceMs \(6000\)/,
    ],
    [{ presenceMs: 0, instanceTimeoutMs: 0 }, /^instanceTimeoutMs must be/],
  ])('%j is refused', (partial, message) => {
    expect(() => resolveValidatorConfig(partial)).toThrow(message);
  });
});
