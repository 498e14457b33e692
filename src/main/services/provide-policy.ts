import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../node/log.js';
import { errorMessage } from '../../core/errors.js';

/** The settings the policy reads (a subset of the app settings). */
export interface ProvidePolicySettings {
  idle_only: boolean;
  pause_on_battery: boolean;
  /** Hours (0–23, local time) when providing is allowed; empty: always. */
  schedule_hours: readonly number[];
  /** Days (0 Sunday – 6 Saturday, local time) the hours apply on; empty or absent: every day. */
  schedule_days?: readonly number[];
  /** Paused by the user until this time (ms since the epoch, "pause for 1 hour"); null or absent: not. */
  paused_until?: number | null;
}

/** What the host sees right now. */
export interface ProvideObservations {
  /** Seconds since the last keyboard/mouse input; null where the host cannot tell (headless). */
  idleSeconds: number | null;
  /** Running on battery power (false where the host cannot tell). */
  onBattery: boolean;
  /** The local hour, 0–23. */
  localHour: number;
  /** The local day of the week, 0 (Sunday) – 6 (Saturday). */
  localDay: number;
  /** Now, in ms since the epoch (from the Clock). */
  now: number;
}

/** The pause reasons the policy gives (the node status and tray show them as-is). */
export const POLICY_REASONS = {
  active: 'you are using the computer',
  battery: 'on battery power',
  schedule: 'outside your schedule',
  snooze: 'paused by you for a while',
} as const;
export type PolicyReason = (typeof POLICY_REASONS)[keyof typeof POLICY_REASONS];

/** Thresholds of the hysteresis band (defaults suit a 5 s tick). */
export interface PolicyTuning {
  /** Idle below this counts as "the user is active now" and pauses (one tick: input since the last look). */
  activeBelowS: number;
  /** After a pause, providing resumes only once the user has been idle this long (the band between the two thresholds never flips the state). */
  resumeIdleS: number;
  /** After a battery pause, mains power must hold this long before resuming (a loose plug does not flap). */
  batterySettleMs: number;
}

export const DEFAULT_POLICY_TUNING: PolicyTuning = { activeBelowS: 5, resumeIdleS: 120, batterySettleMs: 30_000 };

/** The policy's verdict, plus what it needs to remember for the next one. */
export interface PolicyDecision {
  paused: boolean;
  /** Why the policy wants the node paused; null when it does not. */
  reason: PolicyReason | null;
  /** Since when (ms) mains power has been back after a battery pause; null otherwise. */
  powerBackSince: number | null;
}

export const NOT_PAUSED: PolicyDecision = { paused: false, reason: null, powerBackSince: null };

/**
 * Whether a schedule allows providing at a local day and hour. No hours (or all 24): any hour of
 * an allowed day. No days (or all 7): the hours apply every day. A window of hours that runs over
 * midnight (22:00–02:00) belongs to the day it starts on: with only Friday allowed, Saturday
 * 01:00 is allowed and Friday 01:00 is not.
 */
export function scheduleAllows(
  hours: readonly number[],
  days: readonly number[],
  localDay: number,
  localHour: number,
): boolean {
  const hs = new Set(hours);
  const ds = new Set(days);
  const everyDay = ds.size === 0 || ds.size >= 7;
  if (hs.size === 0 || hs.size >= 24) return everyDay || ds.has(localDay);
  if (!hs.has(localHour)) return false;
  if (everyDay) return true;
  // Walk back to the first hour of this window; crossing midnight moves to the day before.
  let hour = localHour;
  let day = localDay;
  for (let i = 0; i < 24; i++) {
    const prev = (hour + 23) % 24;
    if (!hs.has(prev)) break;
    if (hour === 0) day = (day + 6) % 7;
    hour = prev;
  }
  return ds.has(day);
}

/**
 * The reason to pause now for a schedule ("providing is allowed only in these local hours, on
 * these days"), or null when now is allowed or no schedule is set. Shared by the desktop and headless hosts.
 */
export function schedulePause(
  hours: readonly number[],
  localHour: number,
  days: readonly number[] = [],
  localDay = 0,
): PolicyReason | null {
  return scheduleAllows(hours, days, localDay, localHour) ? null : POLICY_REASONS.schedule;
}

/** The reason that blocks providing at this instant, by priority: the user's timed pause, battery, schedule, user active. */
function blockingReason(s: ProvidePolicySettings, o: ProvideObservations, t: PolicyTuning): PolicyReason | null {
  if (s.paused_until !== undefined && s.paused_until !== null && o.now < s.paused_until) return POLICY_REASONS.snooze;
  if (s.pause_on_battery && o.onBattery) return POLICY_REASONS.battery;
  const schedule = schedulePause(s.schedule_hours, o.localHour, s.schedule_days ?? [], o.localDay);
  if (schedule !== null) return schedule;
  if (s.idle_only && o.idleSeconds !== null && o.idleSeconds < t.activeBelowS) return POLICY_REASONS.active;
  return null;
}

/**
 * Decides whether providing should be paused, with hysteresis: a pause starts at once (the
 * user touched the computer, the plug came out, the schedule ended), but a policy pause ends
 * only when the user has been idle for `resumeIdleS` (when idle-only is on) and, after a
 * battery pause, mains power has held for `batterySettleMs`. Between the thresholds the
 * previous state holds, so the node never flaps.
 */
export function decideProvide(
  settings: ProvidePolicySettings,
  obs: ProvideObservations,
  prev: PolicyDecision = NOT_PAUSED,
  tuning: PolicyTuning = DEFAULT_POLICY_TUNING,
): PolicyDecision {
  const blocking = blockingReason(settings, obs, tuning);
  if (blocking !== null) return { paused: true, reason: blocking, powerBackSince: null };
  if (!prev.paused || prev.reason === null) return NOT_PAUSED;

  const powerBackSince =
    prev.reason === POLICY_REASONS.battery && settings.pause_on_battery ? (prev.powerBackSince ?? obs.now) : null;
  const powerSettled = powerBackSince === null || obs.now - powerBackSince >= tuning.batterySettleMs;
  const userIdleLongEnough = !settings.idle_only || obs.idleSeconds === null || obs.idleSeconds >= tuning.resumeIdleS;
  if (powerSettled && userIdleLongEnough) return NOT_PAUSED;
  // Still held: keep the reason the user saw, unless it was the battery and only idleness holds it now.
  const reason = !powerSettled ? POLICY_REASONS.battery : POLICY_REASONS.active;
  return { paused: true, reason, powerBackSince: powerSettled ? null : powerBackSince };
}

/** What the controller drives (AppService satisfies it). */
export interface PolicyTarget {
  status(): { paused: boolean; pause_reason: string | null };
  pause(reason: string): Promise<unknown>;
  resume(): Promise<unknown>;
}

export interface ProvidePolicyControllerDeps {
  target: PolicyTarget;
  settings: () => ProvidePolicySettings;
  /** Idle time and battery from the host (Electron's powerMonitor; headless: unknown idle, no battery). */
  observe: () => { idleSeconds: number | null; onBattery: boolean };
  clock: Clock;
  /** Local hour of a time; default: the system time zone. */
  localHour?: (nowMs: number) => number;
  /** Local day of the week (0 Sunday – 6 Saturday) of a time; default: the system time zone. */
  localDay?: (nowMs: number) => number;
  tuning?: PolicyTuning;
  logger?: Logger;
}

/**
 * Applies the provide policy to the node on every tick. It resumes only pauses it made itself:
 * a pause by the user (or anything else, seen as a different pause reason) is never undone.
 * When the user resumes during a policy pause, the policy does not pause again for that same
 * reason until the reason has cleared once (the user's choice wins).
 */
export class ProvidePolicyController {
  private decision: PolicyDecision = NOT_PAUSED;
  /** The reason of the pause this controller made and still owns; null when it owns none. */
  private ownPause: PolicyReason | null = null;
  /** A reason the user overrode by resuming; ignored until it clears. */
  private overridden: PolicyReason | null = null;
  private ticking: Promise<PolicyDecision> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly deps: ProvidePolicyControllerDeps) {}

  /** The last verdict (what the policy wants, whether or not it was applied). */
  current(): PolicyDecision {
    return this.decision;
  }

  /** Looks once and pauses/resumes the node; overlapping calls share one look. */
  tick(): Promise<PolicyDecision> {
    this.ticking ??= this.look().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  /** Ticks every `intervalMs` until `stop` (the timer does not keep the process alive). */
  start(intervalMs = 5_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) =>
        this.deps.logger?.error('provide policy tick failed', { error: errorMessage(err) }),
      );
    }, intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async look(): Promise<PolicyDecision> {
    const now = this.deps.clock.now();
    const seen = this.deps.observe();
    const obs: ProvideObservations = {
      ...seen,
      now,
      localHour: (this.deps.localHour ?? ((ms) => new Date(ms).getHours()))(now),
      localDay: (this.deps.localDay ?? ((ms) => new Date(ms).getDay()))(now),
    };
    const settings = this.deps.settings();
    const tuning = this.deps.tuning ?? DEFAULT_POLICY_TUNING;
    const status = this.deps.target.status();
    if (this.ownPause !== null && (!status.paused || status.pause_reason !== this.ownPause)) {
      // Someone else changed the state: the user resumed (an override) or paused on their own.
      if (!status.paused) this.overridden = this.ownPause;
      this.ownPause = null;
    }
    // Hysteresis holds only a pause this controller owns; otherwise only a blocking reason pauses.
    const next = decideProvide(settings, obs, this.ownPause === null ? NOT_PAUSED : this.decision, tuning);
    this.decision = next;
    // An override lasts until its reason stops blocking at this instant (no memory).
    const blockingNow = this.ownPause === null ? next.reason : decideProvide(settings, obs, NOT_PAUSED, tuning).reason;
    if (this.overridden !== null && blockingNow !== this.overridden) this.overridden = null;

    if (next.paused && next.reason !== null) {
      if (status.paused && this.ownPause === null) return next; // the user's (or another) pause: leave it alone
      if (next.reason === this.overridden) return next;
      if (this.ownPause !== next.reason) {
        await this.deps.target.pause(next.reason);
        this.ownPause = next.reason;
        this.deps.logger?.info('providing paused by policy', { reason: next.reason });
      }
    } else if (this.ownPause !== null) {
      await this.deps.target.resume();
      this.deps.logger?.info('providing resumed by policy', { after: this.ownPause });
      this.ownPause = null;
    }
    return next;
  }
}
