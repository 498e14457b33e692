import { describe, expect, it } from 'vitest';
import { DEFAULT_VALIDATOR_CONFIG, resolveValidatorConfig } from '../../src/market/validator/validator-config.js';

describe('validator settings: a bad value is one line naming the setting', () => {
  it('accepts the defaults and 0 for receipt delivery (off)', () => {
    expect(resolveValidatorConfig()).toEqual(DEFAULT_VALIDATOR_CONFIG);
    expect(resolveValidatorConfig({ receiptDeliveryMs: 0 }).receiptDeliveryMs).toBe(0);
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
  ])('%j is refused', (partial, message) => {
    expect(() => resolveValidatorConfig(partial)).toThrow(message);
  });
});
