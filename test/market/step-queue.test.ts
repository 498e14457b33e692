import { describe, expect, it } from 'vitest';
import { StepQueue, type StepKind } from '../../src/market/validator/step-queue.js';

describe('step queue', () => {
  it('runs one step at a time, the most urgent kind first (settle, lease, dispatch), each kind in its own order', async () => {
    const q = new StepQueue();
    const ran: string[] = [];
    let open!: () => void;
    const held = new Promise<void>((r) => (open = r));
    let running = 0;
    let most = 0;
    const step = (name: string, kind: StepKind) =>
      q.serial(async () => {
        running++;
        most = Math.max(most, running);
        ran.push(name);
        await Promise.resolve();
        running--;
      }, kind);
    const first = q.serial(() => held, 'dispatch'); // runs now and holds the queue
    const all = [
      step('d1', 'dispatch'),
      step('l1', 'lease'),
      step('s1', 'settle'),
      step('d2', 'dispatch'),
      step('s2', 'settle'),
      step('l2', 'lease'),
    ];
    expect(ran).toEqual([]);
    open();
    await first;
    await Promise.all(all);
    expect(ran).toEqual(['s1', 's2', 'l1', 'l2', 'd1', 'd2']);
    expect(most).toBe(1);
  });

  it('a failed step rejects its caller and the queue goes on; drain waits for every step queued before it', async () => {
    const q = new StepQueue();
    const ran: string[] = [];
    const boom = new Error('step failed');
    const failed = q.serial(() => Promise.reject(boom), 'settle');
    const after = q.serial(async () => ran.push('lease'), 'lease');
    const idle = q.drain();
    const settleLater = q.serial(async () => ran.push('settle after drain'), 'settle');
    await expect(failed).rejects.toBe(boom);
    await idle;
    // The failed step was running while the others queued: the settle step queued after drain is the most
    // urgent, so it ran first, then the lease step, then drain's empty dispatch step.
    expect(ran).toEqual(['settle after drain', 'lease']);
    await after;
    await settleLater;
  });

  it('returns the step’s value', async () => {
    const q = new StepQueue();
    expect(await q.serial(async () => 42, 'lease')).toBe(42);
  });
});
