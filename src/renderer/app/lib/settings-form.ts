import { AmountError, formatAmount, parseAmount } from '../../../core/market/amount.js';
import { SettingsPatchSchema, type Settings } from '../../../shared/contract.js';
import { marketUrlValue } from '../../../shared/market-urls.js';
import { marketFieldText, parseMarketField } from './market-field.js';

/** The settings form as typed (text fields stay strings until saved). */
export interface SettingsForm {
  /** The market's instances, one URL per line (commas also separate); empty: none. */
  market_url: string;
  threads: string;
  gpu_enabled: boolean;
  idle_only: boolean;
  pause_on_battery: boolean;
  schedule_hours: number[];
  /** The lowest offer to take, decimal CPC; empty: every offer. */
  ask: string;
  /** Days of the week (0 Sunday – 6 Saturday) the hours apply on; empty: every day. */
  schedule_days: number[];
  /** Kept as loaded (the pause buttons change it, not the form). */
  paused_until: number | null;
  notifications: boolean;
  close_to_tray: boolean;
  start_on_login: boolean;
}

export type SettingsErrors = Partial<Record<keyof SettingsForm, string>>;

export function toForm(s: Settings): SettingsForm {
  return {
    ...s,
    market_url: marketFieldText(s.market_url),
    threads: s.threads === null ? '' : String(s.threads),
    ask: s.ask === null ? '' : formatAmount(BigInt(s.ask)),
    schedule_hours: [...s.schedule_hours].sort((a, b) => a - b),
    schedule_days: [...s.schedule_days].sort((a, b) => a - b),
  };
}

/**
 * Validates the form: each bad field gets a one-line message saying what is wrong and what to
 * enter; a valid form becomes the patch to save (an empty market address and threads mean "none" / "automatic"; several market URLs are saved as a list).
 */
export function validateSettings(f: SettingsForm): { patch: Settings | null; errors: SettingsErrors } {
  const errors: SettingsErrors = {};
  const market = parseMarketField(f.market_url);
  if (market.error !== null) errors.market_url = market.error;
  const t = f.threads.trim();
  let threads: number | null = null;
  if (t !== '') {
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 1024)
      errors.threads = `Worker threads must be a whole number from 1 to 1024 (got "${t.slice(0, 20)}"), or empty for automatic.`;
    else threads = Number(t);
  }
  const a = f.ask.trim();
  let ask: string | null = null;
  if (a !== '') {
    try {
      const micro = parseAmount(a, 'ask');
      if (micro > 0n) ask = micro.toString();
    } catch (err) {
      if (!(err instanceof AmountError)) throw err;
      errors.ask = `The lowest offer must be a CPC amount like 0.25 (got "${a.slice(0, 20)}"), or empty to take every offer.`;
    }
  }
  const hours = [...new Set(f.schedule_hours)].sort((a, b) => a - b);
  if (hours.some((h) => !Number.isInteger(h) || h < 0 || h > 23))
    errors.schedule_hours = 'Schedule hours must be from 0 to 23.';
  const days = [...new Set(f.schedule_days)].sort((a, b) => a - b);
  if (days.some((d) => !Number.isInteger(d) || d < 0 || d > 6))
    errors.schedule_days = 'Schedule days must be from Sunday (0) to Saturday (6).';
  if (Object.keys(errors).length > 0) return { patch: null, errors };
  const patch: Settings = {
    market_url: market.urls === null || market.urls.length === 0 ? null : marketUrlValue(market.urls),
    threads,
    gpu_enabled: f.gpu_enabled,
    idle_only: f.idle_only,
    pause_on_battery: f.pause_on_battery,
    schedule_hours: hours,
    ask,
    schedule_days: days,
    paused_until: f.paused_until,
    notifications: f.notifications,
    close_to_tray: f.close_to_tray,
    start_on_login: f.start_on_login,
  };
  const parsed = SettingsPatchSchema.safeParse(patch);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0];
      if (typeof key === 'string' && key in f) errors[key as keyof SettingsForm] = `${key}: ${issue.message}`;
    }
    return { patch: null, errors };
  }
  return { patch, errors };
}

/** The days of the week, Sunday first (Date#getDay order). */
export const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** Days as people say them: "every day", "Mon–Fri", "Sat, Sun", "Mon, Wed–Fri" (the week read from Monday). */
export function describeDays(days: readonly number[]): string {
  const ds = new Set(days.filter((d) => Number.isInteger(d) && d >= 0 && d <= 6));
  if (ds.size === 0 || ds.size === 7) return 'every day';
  const week = [1, 2, 3, 4, 5, 6, 0].filter((d) => ds.has(d));
  const runs: number[][] = [];
  for (const d of week) {
    const last = runs.at(-1);
    const prev = last?.at(-1);
    if (last && prev !== undefined && (prev + 1) % 7 === d) last.push(d);
    else runs.push([d]);
  }
  return runs
    .map((r) =>
      r.length >= 3
        ? `${DAY_NAMES[r[0] as number]}–${DAY_NAMES[r.at(-1) as number]}`
        : r.map((d) => DAY_NAMES[d]).join(', '),
    )
    .join(', ');
}

/** The whole schedule in a sentence fragment: "Mon–Fri, 09:00–17:00", "every day, 22:00–02:00", "Sat, Sun, all day". */
export function describeWeekSchedule(hours: readonly number[], days: readonly number[]): string {
  const h = describeSchedule(hours);
  return `${describeDays(days)}, ${h === 'Always' ? 'all day' : h}`;
}

/** "Always" for no hours; else the allowed hours as ranges: "09:00–17:00, 22:00–24:00". */
export function describeSchedule(hours: readonly number[]): string {
  const hs = [...new Set(hours)].sort((a, b) => a - b);
  if (hs.length === 0 || hs.length === 24) return 'Always';
  const ranges: [number, number][] = [];
  for (const h of hs) {
    const last = ranges.at(-1);
    if (last && last[1] === h) last[1] = h + 1;
    else ranges.push([h, h + 1]);
  }
  // A window over midnight reads as one: 22:00–02:00.
  const first = ranges[0];
  const last = ranges.at(-1);
  if (ranges.length > 1 && first && last && first[0] === 0 && last[1] === 24) {
    ranges.shift();
    last[1] = first[1];
  }
  const p = (n: number) => `${String(n % 24).padStart(2, '0')}:00`;
  const end = (a: number, b: number) => (b === 24 && a !== 0 ? '24:00' : p(b));
  return ranges.map(([a, b]) => `${p(a)}–${end(a, b)}`).join(', ');
}
