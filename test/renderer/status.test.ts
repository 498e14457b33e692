import { describe, expect, it } from 'vitest';
import type { NodeStatusInfo } from '../../src/shared/contract.js';
import { EARNING_WINDOW_MS, statusLine } from '../../src/renderer/app/lib/status.js';
import { chartDays, chartPaid } from '../../src/renderer/app/lib/series.js';
import { describeSchedule, toForm, validateSettings } from '../../src/renderer/app/lib/settings-form.js';
import { flushSummaryText } from '../../src/renderer/app/lib/flush.js';
import { DEFAULT_SETTINGS } from '../../src/shared/contract.js';
import { parseHash, startRoute } from '../../src/renderer/app/lib/routes.js';
import { nodeStatus } from '../support/node-status.js';

const base = nodeStatus();
const now = 1_800_000_000_000;
const line = (s: Partial<NodeStatusInfo> | null, o: { transportOpen?: boolean; lastJobAt?: number | null } = {}) =>
  statusLine(s === null ? null : { ...base, ...s }, {
    transportOpen: o.transportOpen ?? true,
    lastJobAt: o.lastJobAt ?? null,
    now,
  });

describe('the status word (ui-contract: Earning, Connected, Connecting, Paused, Offline, Not joined, Error)', () => {
  it('maps each node state to its word', () => {
    expect(line({}, { transportOpen: false }).word).toBe('Offline');
    expect(line(null).word).toBe('Connecting');
    expect(line({ joined: false, state: 'idle' }).word).toBe('Not joined');
    expect(line({ paused: true, pause_reason: 'outside your schedule' })).toMatchObject({
      word: 'Paused',
      detail: 'outside your schedule',
    });
    expect(line({ running: 2 })).toMatchObject({ word: 'Earning', detail: '2 jobs running' });
    expect(line({}, { lastJobAt: now - EARNING_WINDOW_MS + 1000 }).word).toBe('Earning');
    expect(line({}, { lastJobAt: now - EARNING_WINDOW_MS - 1 }).word).toBe('Connected');
    expect(line({ state: 'authenticating' }).word).toBe('Connecting');
    expect(line({ state: 'disconnected', last_error: 'boom' })).toMatchObject({ word: 'Error', detail: 'boom' });
    expect(line({ state: 'disconnected' }).word).toBe('Offline');
  });
});

describe('routes', () => {
  it('reads the hash and picks the start screen', () => {
    expect(parseHash('#/jobs')).toBe('jobs');
    expect(parseHash('#/nope')).toBeNull();
    expect(parseHash('')).toBeNull();
    expect(startRoute(true)).toBe('dashboard');
    expect(startRoute(false)).toBe('join');
  });
});

describe('earnings chart days', () => {
  it('draws the summary days as they are, with exact micro-CPC beside the floats', () => {
    const out = chartDays([
      { day: '2026-11-30', receipts: 0, paid: '0', settled: '0' },
      { day: '2026-12-01', receipts: 3, paid: '1500000', settled: '0' },
      { day: '2026-12-02', receipts: 1, paid: '100000', settled: '100000' },
    ]);
    expect(out.map((d) => d.day)).toEqual(['2026-11-30', '2026-12-01', '2026-12-02']);
    expect(out.map((d) => d.paid)).toEqual([0, 1.5, 0.1]);
    expect(chartPaid(out).toString()).toBe('1600000');
    expect(chartPaid(out, 1).toString()).toBe('100000');
  });
});

describe('settings validation', () => {
  it('accepts the defaults and turns empty text into null', () => {
    const v = validateSettings(toForm(DEFAULT_SETTINGS));
    expect(v.errors).toEqual({});
    expect(v.patch).toEqual(DEFAULT_SETTINGS);
  });
  it('names the bad field with what to enter', () => {
    const v = validateSettings({ ...toForm(DEFAULT_SETTINGS), market_url: 'ftp://x', threads: '0' });
    expect(v.patch).toBeNull();
    expect(v.errors.market_url).toMatch(/^Market address "ftp:\/\/x" must be an http:\/\/, https:\/\//);
    expect(v.errors.threads).toMatch(/1 to 1024/);
    expect(validateSettings({ ...toForm(DEFAULT_SETTINGS), threads: '2.5' }).errors.threads).toBeDefined();
    expect(validateSettings({ ...toForm(DEFAULT_SETTINGS), threads: ' 8 ' }).patch?.threads).toBe(8);
  });
  it('describes a schedule as ranges', () => {
    expect(describeSchedule([])).toBe('Always');
    expect(describeSchedule([9, 10, 11, 22, 23])).toBe('09:00–12:00, 22:00–24:00');
  });
});

describe('flush summary', () => {
  it('says sent, credited, still pending and failed with numbers', () => {
    const t = flushSummaryText({
      pending_before: 3,
      accepted: 2,
      duplicate: 0,
      rejected: 1,
      reward: '300',
      reward_pending: '100',
      unanswered: 0,
      held_back: 0,
      failed: 0,
      attempts: 3,
      pending_after: 0,
    });
    expect(t.headline).toBe(
      '3 sent, 0.000200 CPC credited, 0.000100 CPC waiting for real settlement, 0 still pending, 0 failed.',
    );
    expect(t.tone).toBe('warn');
    expect(t.detail).toBe('1 rejected by the market.');
  });
});
