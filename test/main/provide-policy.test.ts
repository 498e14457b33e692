import { describe, expect, it } from 'vitest';
import {
  decideProvide,
  DEFAULT_POLICY_TUNING,
  NOT_PAUSED,
  POLICY_REASONS,
  ProvidePolicyController,
  schedulePause,
  type PolicyDecision,
  type ProvidePolicySettings,
} from '../../src/main/services/provide-policy.js';
import { FakeClock } from '../core/pricing/fakes.js';
import { seededRandom } from '../support/data.js';
import { testAppNode } from './api/fixtures.js';

const TICK_MS = 5_000;
const settingsOf = (over: Partial<ProvidePolicySettings> = {}): ProvidePolicySettings => ({
  idle_only: true,
  pause_on_battery: true,
  schedule_hours: [],
  ...over,
});

/** A host whose idle time grows with the fake clock and resets when the user touches the computer. */
class FakeHost {
  lastInput: number;
  onBattery = false;
  constructor(readonly clock: FakeClock) {
    this.lastInput = clock.now() - 3_600_000;
  }
  touch(): void {
    this.lastInput = this.clock.now();
  }
  observe = () => ({ idleSeconds: Math.floor((this.clock.now() - this.lastInput) / 1000), onBattery: this.onBattery });
}

async function setup(over: Partial<ProvidePolicySettings> = {}) {
  const clock = new FakeClock();
  const node = await testAppNode({}, () => clock.now());
  const host = new FakeHost(clock);
  let settings = settingsOf(over);
  const controller = new ProvidePolicyController({
    target: node,
    settings: () => settings,
    observe: host.observe,
    clock,
    localHour: () => 12,
  });
  const step = async (ms = TICK_MS) => {
    clock.advance(ms);
    return controller.tick();
  };
  return {
    clock,
    node,
    host,
    controller,
    step,
    set: (s: Partial<ProvidePolicySettings>) => (settings = { ...settings, ...s }),
  };
}

describe('ProvidePolicyController (idle-only, battery) on a real AppService', () => {
  it('pauses within one tick of the user becoming active, with the reason "you are using the computer"', async () => {
    const { node, host, step } = await setup();
    await step();
    expect(node.status().paused).toBe(false);
    host.touch();
    await step(1_000);
    expect(node.status()).toMatchObject({ paused: true, pause_reason: 'you are using the computer' });
  });

  it('resumes only after the user has been idle for the threshold again, with no flapping in between', async () => {
    const { node, host, step, clock } = await setup();
    host.touch();
    await step(1_000);
    expect(node.status().paused).toBe(true);
    // Idle for less than the threshold: still paused at every tick.
    const resumeAt = host.lastInput + DEFAULT_POLICY_TUNING.resumeIdleS * 1000;
    while (clock.now() + TICK_MS < resumeAt) {
      await step();
      expect(node.status().paused).toBe(true);
    }
    await step();
    expect(clock.now()).toBeGreaterThanOrEqual(resumeAt);
    expect(node.status()).toMatchObject({ paused: false, pause_reason: null });
  });

  it('pauses on battery and resumes once mains power has held for the settle time', async () => {
    const { node, host, step } = await setup({ idle_only: false });
    host.onBattery = true;
    await step();
    expect(node.status()).toMatchObject({ paused: true, pause_reason: 'on battery power' });
    host.onBattery = false;
    await step();
    expect(node.status().paused).toBe(true); // a plug wiggle does not resume at once
    for (let t = 0; t < DEFAULT_POLICY_TUNING.batterySettleMs; t += TICK_MS) await step();
    expect(node.status().paused).toBe(false);
  });

  it('never pauses on battery when pause_on_battery is off', async () => {
    const { node, host, step } = await setup({ idle_only: false, pause_on_battery: false });
    host.onBattery = true;
    await step();
    expect(node.status().paused).toBe(false);
  });

  it("never undoes the user's own Pause, even when every condition says provide", async () => {
    const { node, step } = await setup();
    await node.pause();
    for (let i = 0; i < 50; i++) await step();
    expect(node.status()).toMatchObject({ paused: true, pause_reason: 'paused by you' });
  });

  it('hands a policy pause to the user when they press Pause during it, and then keeps it', async () => {
    const { node, host, step } = await setup();
    host.touch();
    await step(1_000);
    expect(node.status().pause_reason).toBe('you are using the computer');
    await node.pause();
    for (let i = 0; i < 60; i++) await step(); // long idle: the policy would have resumed its own pause
    expect(node.status()).toMatchObject({ paused: true, pause_reason: 'paused by you' });
  });

  it('respects the user resuming during a policy pause until the reason clears once', async () => {
    const { node, host, step } = await setup({ idle_only: false });
    host.onBattery = true;
    await step();
    expect(node.status().paused).toBe(true);
    await node.resume();
    for (let i = 0; i < 5; i++) await step();
    expect(node.status().paused).toBe(false); // still on battery, but the user chose to provide
    host.onBattery = false;
    await step();
    expect(node.status().paused).toBe(false); // plugging in does not start a settle pause the user never had
    host.onBattery = true;
    await step();
    expect(node.status().pause_reason).toBe('on battery power'); // a new unplug pauses again
  });

  it('pauses outside the schedule hours with "outside your schedule"', async () => {
    const clock = new FakeClock();
    const node = await testAppNode({}, () => clock.now());
    let hour = 9;
    const controller = new ProvidePolicyController({
      target: node,
      settings: () => settingsOf({ idle_only: false, schedule_hours: [22, 23, 0, 1] }),
      observe: () => ({ idleSeconds: null, onBattery: false }),
      clock,
      localHour: () => hour,
    });
    await controller.tick();
    expect(node.status().pause_reason).toBe('outside your schedule');
    hour = 23;
    clock.advance(TICK_MS);
    await controller.tick();
    expect(node.status().paused).toBe(false);
  });
});

describe('decideProvide', () => {
  it('schedulePause allows every hour when no schedule is set, else only the listed hours', () => {
    expect(schedulePause([], 3)).toBeNull();
    expect(schedulePause([3, 4], 3)).toBeNull();
    expect(schedulePause([3, 4], 5)).toBe(POLICY_REASONS.schedule);
  });

  it('changes state only at the band edges over a seeded random walk of idle times', () => {
    const seed = 0x5eed_0013;
    console.log(`provide-policy random walk seed ${seed}`);
    const rand = seededRandom(seed);
    const s = settingsOf({ pause_on_battery: false });
    let prev: PolicyDecision = NOT_PAUSED;
    let idle = 0;
    let flips = 0;
    for (let i = 0; i < 5_000; i++) {
      // The user comes and goes: idle grows by one tick or resets to 0–4 s.
      idle = rand() < 0.1 ? Math.floor(rand() * 5) : idle + 5 * Math.floor(rand() * 8);
      const next = decideProvide(
        s,
        { idleSeconds: idle, onBattery: false, localHour: 12, localDay: 3, now: i * TICK_MS },
        prev,
      );
      if (next.paused && !prev.paused) {
        expect(idle).toBeLessThan(DEFAULT_POLICY_TUNING.activeBelowS);
        flips++;
      }
      if (!next.paused && prev.paused) {
        expect(idle).toBeGreaterThanOrEqual(DEFAULT_POLICY_TUNING.resumeIdleS);
        flips++;
      }
      prev = next;
    }
    expect(flips).toBeGreaterThan(10); // the walk did cross the band both ways
  });
});
