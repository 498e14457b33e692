import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { dispatchContractCall, type EventName } from '../../../src/shared/contract.js';
import { tempDir } from '../../support/temp-dir.js';
import { getTask, postTask, startMarket } from '../../support/market.js';
import { testAppNode } from './fixtures.js';

/** Resolves once `pred` holds: now, or at an event the node emits (it emits on every change of its status, jobs and earnings). */
function whenNode(
  node: { events: { onDidEmit(l: (event: EventName) => void): () => void } },
  what: string,
  pred: () => boolean,
  ms = 30_000,
): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const off = node.events.onDidEmit(() => {
      if (!pred()) return;
      off();
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('AppService against an in-process market', () => {
  it('joins (status events until connected), runs a job (job:finished, earnings:changed), pauses, resumes and leaves', async () => {
    const dir = tempDir('tessera-app-node-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1 });
    let practiceClosed = false;
    const node = await testAppNode({
      startPractice: async () => ({
        url: m.base,
        close: async () => {
          practiceClosed = true;
          await m.close();
        },
      }),
    });
    const seen: { event: EventName; payload: unknown }[] = [];
    node.events.onDidEmit((event, payload) => seen.push({ event, payload }));
    const h = createAppHandlers(node);

    expect(await dispatchContractCall(h, 'node:join', [{ kind: 'practice' }])).toMatchObject({
      ok: true,
      result: { joined: true, market: { kind: 'practice' } },
    });
    expect(await dispatchContractCall(h, 'node:join', [{ kind: 'practice' }])).toMatchObject({
      ok: false,
      error: { code: 'ALREADY_JOINED' },
    });
    await whenNode(node, 'connected', () => node.status().state === 'connected');
    expect(seen.some((e) => e.event === 'node:status' && (e.payload as { state: string }).state === 'connected')).toBe(
      true,
    );

    const task = await postTask(m, {
      challenge_type: 'synthetic',
      payload: { seed: '00c0ffee', matrix_size: 8, iterations: 1, lane: 'consumer' },
      reward: '1.5',
    });
    expect(task.status).toBe(201);
    await whenNode(node, 'job finished event', () => seen.some((e) => e.event === 'job:finished'));
    const finished = seen.find((e) => e.event === 'job:finished')?.payload as { status: string; task_id: string };
    expect(finished).toMatchObject({ status: 'accepted', task_id: task.json.task_id });
    // Earnings change when the receipt lands, after the commit that pays the task.
    await whenNode(node, 'earnings changed', () => seen.some((e) => e.event === 'earnings:changed'));
    expect((await getTask(m, task.json.task_id as string)).status).toBe('completed');
    const jobs = await dispatchContractCall(h, 'jobs:list', [{}]);
    expect(jobs).toMatchObject({ ok: true, result: { total: 1, rows: [{ status: 'accepted' }] } });

    expect(await dispatchContractCall(h, 'node:pause', [])).toMatchObject({
      ok: true,
      result: { paused: true, pause_reason: 'paused by you', running: 0 },
    });
    expect(await dispatchContractCall(h, 'diagnostics:report', [])).toMatchObject({
      ok: true,
      result: {
        checks: expect.arrayContaining([
          expect.objectContaining({
            id: 'providing',
            severity: 'info',
            action: { kind: 'run', label: 'Resume', fix: 'resume' },
          }),
        ]),
      },
    });
    await dispatchContractCall(h, 'node:resume', []);
    await whenNode(node, 'reconnected', () => node.status().state === 'connected' && !node.status().paused);

    expect(await dispatchContractCall(h, 'node:leave', [])).toMatchObject({
      ok: true,
      result: { joined: false, state: 'idle' },
    });
    expect(practiceClosed).toBe(true);
  });
});
