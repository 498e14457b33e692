import type { NodeStatusInfo } from '../../src/shared/contract.js';

/** The node's status as the contract gives it: joined to the practice market, connected, nothing done yet; `over` on top. */
export function nodeStatus(over: Partial<NodeStatusInfo> = {}): NodeStatusInfo {
  return {
    joined: true,
    market: { kind: 'practice' },
    state: 'connected',
    paused: false,
    pause_reason: null,
    address: 'a',
    market_id: null,
    jobs_done: 0,
    jobs_rejected: 0,
    running: 0,
    credits_today: '0',
    last_error: null,
    ...over,
  };
}
