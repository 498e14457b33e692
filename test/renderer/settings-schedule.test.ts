import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../src/shared/contract.js';
import {
  describeDays,
  describeSchedule,
  describeWeekSchedule,
  toForm,
  validateSettings,
} from '../../src/renderer/app/lib/settings-form.js';

describe('the schedule as the Settings screen says it', () => {
  it('days: every day, runs of three or more as a range, the week read from Monday', () => {
    expect(describeDays([])).toBe('every day');
    expect(describeDays([0, 1, 2, 3, 4, 5, 6])).toBe('every day');
    expect(describeDays([1, 2, 3, 4, 5])).toBe('Mon–Fri');
    expect(describeDays([6, 0])).toBe('Sat, Sun');
    expect(describeDays([1, 3, 4, 5])).toBe('Mon, Wed–Fri');
    expect(describeDays([5, 6, 0])).toBe('Fri–Sun');
  });

  it('hours: a window over midnight reads as one', () => {
    expect(describeSchedule([22, 23, 0, 1])).toBe('22:00–02:00');
    expect(describeSchedule([9, 10, 11, 22, 23])).toBe('09:00–12:00, 22:00–24:00');
    expect(describeSchedule([0, 1])).toBe('00:00–02:00');
    expect(describeWeekSchedule([22, 23, 0], [5])).toBe('Fri, 22:00–01:00');
    expect(describeWeekSchedule([], [6, 0])).toBe('Sat, Sun, all day');
  });

  it('the form carries days, the timed pause and the notification opt-in into the patch', () => {
    const f = { ...toForm(DEFAULT_SETTINGS), schedule_days: [5, 1, 5], notifications: true, paused_until: 42 };
    const v = validateSettings(f);
    expect(v.patch).toMatchObject({ schedule_days: [1, 5], notifications: true, paused_until: 42 });
    expect(validateSettings({ ...f, schedule_days: [7] }).errors.schedule_days).toMatch(
      /Sunday \(0\) to Saturday \(6\)/,
    );
  });
});
