import type { ProviderStatus } from '../../src/main/services/provider-service.js';

/** A provider's status as a connected node with nothing done yet reports it, with `over` on top. */
export function providerStatus(over: Partial<ProviderStatus> = {}): ProviderStatus {
  return {
    state: 'connected',
    address: 'cpc1test',
    marketId: 'm',
    practice: false,
    jobsDone: 0,
    jobsRejected: 0,
    running: 0,
    creditsToday: 0n,
    draining: false,
    lastPrices: null,
    ...over,
  };
}
