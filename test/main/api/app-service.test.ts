import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { dispatchContractCall, type EventName } from '../../../src/shared/contract.js';
import { tempDir } from '../../support/temp-dir.js';
import { getTask, postTask, startMarket } from '../../support/market.js';
import { until } from '../../support/wait.js';
import { testAppNode } from './fixtures.js';

describe('AppService against an in-process market', () => {
  it('joins (status events until connected), runs a job (job:finished, earnings:changed), pauses, resumes and leaves', async () => {
    const dir = tempDir('tessera-app-node-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1 });
    let practiceClosed = false;
    const node = await testAppNode({ startPractice: async () => ({ url: m.base, close: async () => { practiceClosed = true; await m.close(); } }) });
    const seen: { event: EventName; payload: unknown }[] = [];
    node.events.onDidEmit((event, payload) => seen.push({ event, payload }));
    const h = createAppHandlers(node);

    expect(await dispatchContractCall(h, 'node:join', [{ kind: 'practice' }])).toMatchObject({ ok: true, result: { joined: true, market: { kind: 'practice' } } });
    expect(await dispatchContractCall(h, 'node:join', [{ kind: 'practice' }])).toMatchObject({ ok: false, error: { code: 'ALREADY_JOINED' } });
    await until('connected', () => node.status(), (s) => s.state === 'connected');
    expect(seen.some((e) => e.event === 'node:status' && (e.payload as { state: string }).state === 'connected')).toBe(true);

    const task = await postTask(m, { challenge_type: 'synthetic', payload: { seed: '00c0ffee', matrix_size: 8, iterations: 1, lane: 'consumer' }, reward: '1.5' });
    expect(task.status).toBe(201);
    await until('task completed', () => getTask(m, task.json.task_id as string), (t) => t.status === 'completed', 30_000);
    await until('job finished event', () => seen, (s) => s.some((e) => e.event === 'job:finished'));
    const finished = seen.find((e) => e.event === 'job:finished')?.payload as { status: string; task_id: string };
    expect(finished).toMatchObject({ status: 'accepted', task_id: task.json.task_id });
    await until('earnings changed', () => seen, (s) => s.some((e) => e.event === 'earnings:changed'));
    const jobs = await dispatchContractCall(h, 'jobs:list', [{}]);
    expect(jobs).toMatchObject({ ok: true, result: { total: 1, rows: [{ status: 'accepted' }] } });

    expect(await dispatchContractCall(h, 'node:pause', [])).toMatchObject({ ok: true, result: { paused: true, pause_reason: 'paused by you', running: 0 } });
    expect(await dispatchContractCall(h, 'diagnostics:report', [])).toMatchObject({ ok: true, result: { checks: expect.arrayContaining([expect.objectContaining({ id: 'paused', ok: false })]) } });
    await dispatchContractCall(h, 'node:resume', []);
    await until('reconnected', () => node.status(), (s) => s.state === 'connected' && !s.paused);

    expect(await dispatchContractCall(h, 'node:leave', [])).toMatchObject({ ok: true, result: { joined: false, state: 'idle' } });
    expect(practiceClosed).toBe(true);
  });
});
