import { describe, expect, it } from 'vitest';
import type { NodeStatusInfo } from '../../src/shared/contract.js';
import {
  NODE_LOST_MS,
  NotificationRules,
  STOPPED_EARNING_MS,
  type NotifySample,
} from '../../src/renderer/app/lib/notify.js';
import { nodeStatus } from '../support/node-status.js';

const base = nodeStatus();
const MIN = 60_000;

/** Feeds samples (minute by minute unless `at` is given) and returns the kinds that fired, with their minute. */
function run(samples: (Partial<NotifySample> & { s?: Partial<NodeStatusInfo> })[]): string[] {
  const rules = new NotificationRules();
  const fired: string[] = [];
  samples.forEach((x, i) => {
    const at = x.at ?? i * MIN;
    const sample: NotifySample = {
      at,
      connected: x.connected ?? true,
      status: x.status === null ? null : { ...base, ...x.s },
      settled: x.settled ?? null,
    };
    for (const n of rules.observe(sample)) fired.push(`${n.kind}@${at / MIN}`);
  });
  return fired;
}

const minutes = (n: number, f: (i: number) => Partial<NotifySample> & { s?: Partial<NodeStatusInfo> }) =>
  Array.from({ length: n }, (_, i) => f(i));

describe('notifications: which fire for a status stream and a clock', () => {
  it('stopped earning: once, 10 minutes after the last finished job, and again only after a new job', () => {
    const jobs = (i: number) => (i < 3 ? i : i < 20 ? 3 : 4 + (i >= 40 ? 1 : 0));
    const fired = run(minutes(45, (i) => ({ s: { jobs_done: jobs(i) } })));
    // Last job at minute 3, quiet from then: fires at minute 13. A job at minute 20 re-arms it: fires at 30;
    // one at minute 40 re-arms it again, but the stream ends before 50.
    expect(fired).toEqual(['stopped-earning@13', 'stopped-earning@30']);
    expect(STOPPED_EARNING_MS).toBe(10 * MIN);
  });

  it('earning steadily, paused, or not joined: no "stopped earning"', () => {
    expect(run(minutes(30, (i) => ({ s: { jobs_done: i } })))).toEqual([]);
    expect(run(minutes(30, () => ({ s: { paused: true, pause_reason: 'outside your schedule' } })))).toEqual([]);
    expect(run(minutes(30, () => ({ s: { joined: false, market: null } })))).toEqual([]);
  });

  it('a pause restarts the count: 10 minutes of quiet after resuming, not after the last job', () => {
    const fired = run(minutes(25, (i) => ({ s: { paused: i >= 5 && i < 10 } })));
    expect(fired).toEqual(['stopped-earning@20']);
  });

  it('an error: each new last_error fires once (again after it cleared); the one present when watching began does not', () => {
    const errs = [null, 'old', 'old', 'disk full', 'disk full', null, 'disk full'];
    const fired = run([{ s: { last_error: 'old' } }, ...errs.map((e) => ({ s: { last_error: e } }))]);
    expect(fired).toEqual(['error@2', 'error@4', 'error@7']);
  });

  it('the node lost: once after a minute without a connection, re-armed when it is back', () => {
    const at = (s: number) => s * 1000;
    const fired = run([
      { at: at(0) },
      { at: at(10), connected: false },
      { at: at(40), connected: false },
      { at: at(70), connected: false }, // 60 s since the loss
      { at: at(100), connected: false },
      { at: at(110) },
      { at: at(120), connected: false },
      { at: at(170), connected: false }, // only 50 s since the second loss
    ]);
    expect(fired).toEqual([`node-lost@${at(70) / MIN}`]);
    expect(NODE_LOST_MS).toBe(MIN);
  });

  it('a settlement done: when the applied receipts grow, not for those already applied', () => {
    const fired = run([{ settled: 4 }, { settled: 4 }, { settled: 6 }, {}, { settled: 6 }, { settled: 7 }]);
    expect(fired).toEqual(['settled@2', 'settled@5']);
  });

  it('a node that restarts (jobs_done back to 0) is not a finished job, and no status yet fires nothing', () => {
    const fired = run([{ status: null }, ...minutes(12, (i) => ({ s: { jobs_done: i === 0 ? 5 : 0 } }))]);
    expect(fired).toEqual(['stopped-earning@11']);
  });
});
