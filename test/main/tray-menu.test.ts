import { describe, expect, it } from 'vitest';
import { buildTrayMenu, flushNotification, trayStatus } from '../../src/main/tray-menu.js';
import type { FlushSummaryInfo, NodeStatusInfo } from '../../src/shared/contract.js';
import { nodeStatus } from '../support/node-status.js';

const base = nodeStatus({ address: 'tsr1x', market_id: 'm', jobs_done: 3, credits_today: '1500000' });
const state = (node: Partial<NodeStatusInfo>, more: { courierPending?: number; flushing?: boolean } = {}) => ({
  node: { ...base, ...node },
  courierPending: more.courierPending ?? 0,
  flushing: more.flushing ?? false,
});

describe('buildTrayMenu', () => {
  it("labels practice credits as such, and a real market's as CPC", () => {
    expect(buildTrayMenu(state({ running: 1 })).statusLine).toBe('Earning: 1 job running · 1.5 practice credits today');
    expect(buildTrayMenu(state({ running: 1, market: { kind: 'url', url: 'http://m.example:8080' } })).statusLine).toBe(
      'Earning: 1 job running · 1.5 CPC today',
    );
  });

  it('reads connected, earning, paused, offline and error from the node state', () => {
    expect(trayStatus(state({}).node)).toBe('connected');
    expect(trayStatus(state({ running: 2 }).node)).toBe('earning');
    expect(trayStatus(state({ paused: true, pause_reason: 'on battery', running: 2 }).node)).toBe('paused');
    expect(trayStatus(state({ state: 'disconnected' }).node)).toBe('offline');
    expect(trayStatus(state({ joined: false, state: 'idle' }).node)).toBe('offline');
    expect(trayStatus(state({ last_error: 'disk full', paused: true }).node)).toBe('error');
  });

  it("writes a status line with the reason and today's credits", () => {
    expect(buildTrayMenu(state({ running: 2 })).statusLine).toBe(
      'Earning: 2 jobs running · 1.5 practice credits today',
    );
    expect(buildTrayMenu(state({ paused: true, pause_reason: 'on battery' })).statusLine).toBe(
      'Paused (on battery) · 1.5 practice credits today',
    );
    // The window's word for a node that has not joined (test/shared/status-word.test.ts: one word for both).
    expect(buildTrayMenu(state({ joined: false, state: 'idle' })).statusLine).toBe(
      'Not joined: join a market to start earning',
    );
    expect(buildTrayMenu(state({ last_error: 'disk full' })).statusLine).toBe('Error: disk full');
  });

  it('offers Flush (enabled only with pending receipts and no flush running), Pause or Resume, Open, Quit', () => {
    const running = buildTrayMenu(state({}, { courierPending: 4 }));
    expect(running.items.map((i) => [i.id, i.label, i.enabled])).toEqual([
      ['flush', 'Flush courier receipts (4 pending)', true],
      ['pause', 'Pause providing', true],
      ['open', 'Open Tessera', true],
      ['quit', 'Quit', true],
    ]);
    expect(
      buildTrayMenu(state({ paused: true }, { courierPending: 4, flushing: true }))
        .items.slice(0, 2)
        .map((i) => [i.id, i.label, i.enabled]),
    ).toEqual([
      ['flush', 'Flushing courier receipts…', false],
      ['resume', 'Resume providing', true],
    ]);
    expect(buildTrayMenu(state({})).items[0]?.enabled).toBe(false);
    expect(buildTrayMenu(state({ joined: false, state: 'idle' })).items[1]).toMatchObject({
      id: 'pause',
      enabled: false,
    });
  });
});

describe('flushNotification', () => {
  const summary: FlushSummaryInfo = {
    pending_before: 10,
    accepted: 6,
    duplicate: 1,
    rejected: 1,
    reward: '3000000',
    reward_pending: '1000000',
    unanswered: 0,
    held_back: 2,
    failed: 1,
    attempts: 1,
    pending_after: 2,
  };

  it('says sent, credited, still pending and failed', () => {
    expect(flushNotification(summary)).toEqual({
      title: 'Courier flush finished with problems',
      body: 'Sent 8, credited 2.0 CPC, 1.0 CPC waiting for real settlement, 2 still pending, 1 failed.',
    });
    expect(flushNotification({ ...summary, rejected: 0, failed: 0, reward_pending: '0' })).toEqual({
      title: 'Courier receipts flushed',
      body: 'Sent 7, credited 3.0 CPC, 2 still pending, 0 failed.',
    });
  });

  it('titles an early stop and adds its reason', () => {
    expect(flushNotification({ ...summary, error: 'market unreachable at http://127.0.0.1:1' })).toMatchObject({
      title: 'Courier flush stopped early',
      body: expect.stringMatching(/market unreachable at http:\/\/127\.0\.0\.1:1$/),
    });
  });
});
