import { describe, expect, it } from 'vitest';
import { buildTrayMenu } from '../../src/main/tray-menu.js';
import { statusLine } from '../../src/renderer/app/lib/status.js';
import type { NodeStatusInfo } from '../../src/shared/contract.js';
import { EARNING_WINDOW_MS, nodeStatusWord } from '../../src/shared/status-word.js';
import { nodeStatus } from '../support/node-status.js';

const base = nodeStatus({ market_id: 'm' });
const now = 1_800_000_000_000;

/** Every combination of the fields the word depends on. */
function statuses(): NodeStatusInfo[] {
  const out: NodeStatusInfo[] = [];
  for (const joined of [false, true])
    for (const state of ['idle', 'connecting', 'authenticating', 'connected', 'disconnected', 'closed'] as const)
      for (const paused of [false, true])
        for (const running of [0, 2])
          for (const last_error of [null, 'provider did not stop cleanly'])
            out.push({
              ...base,
              joined,
              state,
              paused,
              pause_reason: paused ? 'on battery' : null,
              running,
              last_error,
            });
  return out;
}

describe('nodeStatusWord: one word for the window and the tray', () => {
  it('puts an error first, even over a pause the user chose; then not joined, paused, the connection', () => {
    expect(nodeStatusWord({ ...base, paused: true, pause_reason: 'on battery', last_error: 'disk full' })).toEqual({
      word: 'Error',
      detail: 'disk full',
      tone: 'bad',
    });
    expect(nodeStatusWord({ ...base, joined: false, state: 'idle', last_error: 'disk full' }).word).toBe('Error');
    expect(nodeStatusWord({ ...base, joined: false, state: 'idle', paused: true })).toMatchObject({
      word: 'Not joined',
      tone: 'idle',
    });
    expect(nodeStatusWord({ ...base, paused: true, running: 2 })).toEqual({
      word: 'Paused',
      detail: 'paused by you',
      tone: 'idle',
    });
    expect(nodeStatusWord({ ...base, running: 1 })).toEqual({ word: 'Earning', detail: '1 job running', tone: 'good' });
    expect(nodeStatusWord(base, { lastJobAt: now - EARNING_WINDOW_MS + 1, now })).toEqual({
      word: 'Earning',
      detail: 'between jobs',
      tone: 'good',
    });
    expect(nodeStatusWord(base, { lastJobAt: now - EARNING_WINDOW_MS, now }).word).toBe('Connected');
    expect(nodeStatusWord({ ...base, state: 'authenticating' })).toMatchObject({ word: 'Connecting', tone: 'busy' });
    expect(nodeStatusWord({ ...base, state: 'disconnected' })).toMatchObject({ word: 'Offline', tone: 'bad' });
  });

  it('the tray status line begins with the word the window shows, for every status', () => {
    const disagreements = statuses().flatMap((s) => {
      for (const lastJobAt of [null, now - 1000]) {
        const window = statusLine(s, { transportOpen: true, lastJobAt, now }).word;
        const tray = buildTrayMenu({ node: s, courierPending: 0, flushing: false, lastJobAt, now }).statusLine;
        if (!tray.startsWith(window))
          return [`${JSON.stringify({ ...s, lastJobAt })}: window "${window}", tray "${tray}"`];
      }
      return [];
    });
    expect(disagreements).toEqual([]);
  });
});
