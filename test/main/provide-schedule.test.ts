import { describe, expect, it } from 'vitest';
import {
  decideProvide,
  NOT_PAUSED,
  POLICY_REASONS,
  scheduleAllows,
  schedulePause,
} from '../../src/main/services/provide-policy.js';

const SUN = 0;
const MON = 1;
const TUE = 2;
const FRI = 5;
const SAT = 6;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe('the schedule rule: days and hours', () => {
  it('no hours and no days: always', () => {
    for (let d = 0; d < 7; d++) for (let h = 0; h < 24; h++) expect(scheduleAllows([], [], d, h)).toBe(true);
  });

  it('days only: every hour of those days, none of the others (midnight is the boundary)', () => {
    expect(scheduleAllows([], [SAT, SUN], SAT, 0)).toBe(true);
    expect(scheduleAllows([], [SAT, SUN], SUN, 23)).toBe(true);
    expect(scheduleAllows([], [SAT, SUN], MON, 0)).toBe(false);
    expect(scheduleAllows([], [SAT, SUN], FRI, 23)).toBe(false);
    // All 24 hours ticked reads the same as none.
    expect(scheduleAllows(range(0, 24), [SAT], FRI, 23)).toBe(false);
    expect(scheduleAllows(range(0, 24), [SAT], SAT, 12)).toBe(true);
  });

  it('hours only: those hours on every day', () => {
    for (let d = 0; d < 7; d++) {
      expect(scheduleAllows([9, 10, 11], [], d, 9)).toBe(true);
      expect(scheduleAllows([9, 10, 11], [], d, 12)).toBe(false);
      expect(scheduleAllows([9, 10, 11], [], d, 8)).toBe(false);
    }
    // All 7 days ticked reads the same as none.
    expect(scheduleAllows([9], range(0, 7), SUN, 9)).toBe(true);
  });

  it('a day window starts and ends on its own day', () => {
    expect(scheduleAllows(range(9, 17), [MON], MON, 9)).toBe(true);
    expect(scheduleAllows(range(9, 17), [MON], MON, 16)).toBe(true);
    expect(scheduleAllows(range(9, 17), [MON], MON, 17)).toBe(false);
    expect(scheduleAllows(range(9, 17), [MON], SUN, 10)).toBe(false);
  });

  it('a window over midnight belongs to the day it starts on', () => {
    const night = [22, 23, 0, 1]; // 22:00–02:00
    // Friday night only: Friday 22:00 to Saturday 02:00.
    expect(scheduleAllows(night, [FRI], FRI, 22)).toBe(true);
    expect(scheduleAllows(night, [FRI], FRI, 23)).toBe(true);
    expect(scheduleAllows(night, [FRI], SAT, 0)).toBe(true);
    expect(scheduleAllows(night, [FRI], SAT, 1)).toBe(true);
    expect(scheduleAllows(night, [FRI], SAT, 2)).toBe(false);
    // Friday's early hours are Thursday night's window: not allowed.
    expect(scheduleAllows(night, [FRI], FRI, 0)).toBe(false);
    expect(scheduleAllows(night, [FRI], FRI, 1)).toBe(false);
    // Saturday night (Sat 22:00 – Sun 02:00) wraps the week's end into Sunday.
    expect(scheduleAllows(night, [SAT], SUN, 1)).toBe(true);
    expect(scheduleAllows(night, [SAT], SAT, 1)).toBe(false);
    expect(scheduleAllows(night, [SUN], SUN, 1)).toBe(false);
    expect(scheduleAllows(night, [SUN], MON, 1)).toBe(true);
  });

  it('two windows on one day are separate: the early one is that day, the late one over midnight too', () => {
    const hours = [0, 1, 2, 20, 21, 22, 23]; // 00:00–03:00 joins the 20:00–24:00 window before it
    expect(scheduleAllows(hours, [MON], MON, 21)).toBe(true);
    expect(scheduleAllows(hours, [MON], MON, 2)).toBe(false); // part of Sunday's 20:00 window
    expect(scheduleAllows(hours, [MON], TUE, 2)).toBe(true); // Monday's window runs on into Tuesday
  });

  it('schedulePause says "outside your schedule" exactly when the rule says no', () => {
    expect(schedulePause([22, 23, 0], 0, [FRI], SAT)).toBeNull();
    expect(schedulePause([22, 23, 0], 0, [FRI], FRI)).toBe(POLICY_REASONS.schedule);
    expect(schedulePause([], 5)).toBeNull();
  });
});

describe('pause for 1 hour (paused_until)', () => {
  const base = { idle_only: false, pause_on_battery: false, schedule_hours: [] as number[] };
  const obs = (now: number) => ({ idleSeconds: null, onBattery: false, localHour: 12, localDay: MON, now });

  it('pauses until the time, then resumes', () => {
    const until = 3_600_000;
    const during = decideProvide({ ...base, paused_until: until }, obs(until - 1), NOT_PAUSED);
    expect(during).toMatchObject({ paused: true, reason: POLICY_REASONS.snooze });
    expect(decideProvide({ ...base, paused_until: until }, obs(until), during).paused).toBe(false);
    expect(decideProvide({ ...base, paused_until: null }, obs(0), NOT_PAUSED).paused).toBe(false);
  });

  it('comes before the schedule: a timed pause inside the schedule still pauses', () => {
    const d = decideProvide({ ...base, schedule_hours: [12], paused_until: 10 }, obs(5), NOT_PAUSED);
    expect(d.reason).toBe(POLICY_REASONS.snooze);
  });
});
