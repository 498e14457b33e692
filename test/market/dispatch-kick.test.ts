import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/market/validator/dispatcher.js';
import { StepQueue } from '../../src/market/validator/step-queue.js';
import { DEFAULT_VALIDATOR_CONFIG } from '../../src/market/validator/validator-config.js';
import type { ValidatorContext } from '../../src/market/validator/validator-context.js';

/** A dispatcher whose pass only counts, on a real step queue (the rest of the context is not used by kick). */
function counted() {
  const steps = new StepQueue();
  let passes = 0;
  let gate: Promise<void> | undefined;
  const ctx = {
    steps,
    config: DEFAULT_VALIDATOR_CONFIG,
    clock: { now: () => 0 },
    isClosed: () => false,
    report: (what: string, err: unknown) => {
      throw new Error(`${what}: ${String(err)}`);
    },
  } as unknown as ValidatorContext;
  const dispatcher = new Dispatcher(ctx, {
    pass: async () => {
      passes++;
      await gate;
    },
  });
  return { steps, dispatcher, passes: () => passes, hold: (g: Promise<void> | undefined) => (gate = g) };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('Dispatcher.kick', () => {
  it('answers every kick made while its pass waits behind other steps with that one pass', async () => {
    const { steps, dispatcher, passes } = counted();
    let release!: () => void;
    const settling = steps.serial(() => new Promise<void>((r) => (release = r)), 'settle');
    dispatcher.kick();
    await turn(); // the pass is now queued behind the settlement
    for (let i = 0; i < 5; i++) {
      dispatcher.kick();
      await turn();
    }
    release();
    await settling;
    await steps.drain();
    expect(passes()).toBe(1);
  });

  it('runs one more pass, not one per kick, for kicks made while a pass runs', async () => {
    const { steps, dispatcher, passes, hold } = counted();
    let release!: () => void;
    hold(new Promise<void>((r) => (release = r)));
    dispatcher.kick();
    await turn();
    expect(passes()).toBe(1); // running, held at the gate
    hold(undefined);
    for (let i = 0; i < 3; i++) {
      dispatcher.kick();
      await turn();
    }
    release();
    await steps.drain();
    expect(passes()).toBe(2);
  });
});
