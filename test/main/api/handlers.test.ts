import { describe, expect, it } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { queryJobs } from '../../../src/main/api/jobs.js';
import { ProviderJobsRepo } from '../../../src/main/db/repos/provider-jobs-repo.js';
import { CHANNELS, dispatchContractCall, type ChannelResult } from '../../../src/shared/contract.js';
import { seededRandom } from '../../support/data.js';
import { testAppNode } from './fixtures.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');

describe('the merged handler table on a real ledger', () => {
  it('has exactly one handler per contract channel', async () => {
    const node = await testAppNode();
    expect(Object.keys(createAppHandlers(node)).sort()).toEqual([...CHANNELS].sort());
  });

  it('settlement:status reads the ledger and settlement:set-mode changes it', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    const before = (await dispatchContractCall(h, 'settlement:status', [])) as {
      ok: true;
      result: ChannelResult<'settlement:status'>;
    };
    expect(before.result.mode).toBe(node.ledger.settlement.status().mode);
    const after = await dispatchContractCall(h, 'settlement:set-mode', ['real']);
    expect(after).toMatchObject({ ok: true, result: { mode: 'real' } });
    expect(node.ledger.settlement.currentMode().kind).toBe('real');
    expect(await dispatchContractCall(h, 'settlement:set-mode', ['armed'])).toMatchObject({
      ok: false,
      error: { code: 'BAD_ARGUMENTS' },
    });
  });

  it('settings:set validates a patch, merges it and settings:get returns it; a bad value is BAD_ARGUMENTS naming the field', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    expect(await dispatchContractCall(h, 'settings:set', [{ idle_only: true, threads: 3 }])).toMatchObject({
      ok: true,
      result: { idle_only: true, threads: 3, gpu_enabled: true },
    });
    expect(await dispatchContractCall(h, 'settings:get', [])).toMatchObject({
      ok: true,
      result: { idle_only: true, threads: 3 },
    });
    const bad = await dispatchContractCall(h, 'settings:set', [{ threads: -1 }]);
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENTS' } });
    expect(!bad.ok && bad.error.message).toContain('threads');
    expect(node.settings.get().threads).toBe(3);
    // A patch changes only its own keys.
    await dispatchContractCall(h, 'settings:set', [{ gpu_enabled: false }]);
    expect(await dispatchContractCall(h, 'settings:set', [{ close_to_tray: false }])).toMatchObject({
      ok: true,
      result: { gpu_enabled: false, idle_only: true, threads: 3, close_to_tray: false },
    });
  });

  it('jobs:list pages through the history newest first without gaps or repeats, and filters by status and workload', async () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 100_000);
    console.log(`jobs:list seed ${seed}`);
    const rand = seededRandom(seed);
    const node = await testAppNode({}, () => NOW);
    const repo = new ProviderJobsRepo(node.ledger.db);
    const n = 57;
    const statuses: string[] = [];
    for (let i = 0; i < n; i++) {
      const workload = rand() < 0.5 ? 'synthetic' : 'slice';
      repo.start({
        marketId: 'm',
        taskId: `t${i}`,
        jobId: `j${i}`,
        epoch: 0,
        workload,
        bytes: 100 + i,
        startedAt: NOW - (n - i) * 1000,
      });
      repo.finished('m', `j${i}`, 0, {
        resultHash: 'aa',
        proof: 'bb',
        backend: 'cpu',
        durationMs: 5,
        result: '{}',
        bytes: 100 + i,
        at: NOW - (n - i) * 1000 + 5,
      });
      const ok = rand() < 0.7;
      repo.answered('m', `j${i}`, 0, ok, ok ? null : 'MISMATCH', NOW);
      statuses.push(`${workload}:${ok ? 'accepted' : 'rejected'}`);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const res = queryJobs(node.ledger.db, { limit: 10, ...(cursor ? { cursor } : {}) });
      expect(res.total).toBe(n);
      seen.push(...res.rows.map((r) => r.job_id));
      if (res.next === null) break;
      cursor = res.next;
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `j${n - 1 - i}`));
    const rejectedSlice = queryJobs(node.ledger.db, { limit: 1000, status: 'rejected', workload: 'slice' });
    expect(rejectedSlice.total).toBe(statuses.filter((s) => s === 'slice:rejected').length);
    expect(
      rejectedSlice.rows.every((r) => r.status === 'rejected' && r.workload === 'slice' && r.code === 'MISMATCH'),
    ).toBe(true);
    const h = createAppHandlers(node);
    expect(await dispatchContractCall(h, 'jobs:list', [{ cursor: '1 OR 1=1' }])).toMatchObject({
      ok: false,
      error: { code: 'BAD_ARGUMENTS' },
    });
  });

  it('courier:flush without a market is NOT_JOINED; courier:list of an empty ledger is empty', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    expect(await dispatchContractCall(h, 'courier:flush', [])).toMatchObject({
      ok: false,
      error: { code: 'NOT_JOINED' },
    });
    expect(await dispatchContractCall(h, 'courier:list', [{}])).toMatchObject({ ok: true, result: { rows: [] } });
  });

  it('node:leave before joining is NOT_JOINED; joining practice on a host without one is PRACTICE_UNAVAILABLE', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    expect(await dispatchContractCall(h, 'node:leave', [])).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
    expect(await dispatchContractCall(h, 'node:join', [{ kind: 'practice' }])).toMatchObject({
      ok: false,
      error: { code: 'PRACTICE_UNAVAILABLE' },
    });
    expect(await dispatchContractCall(h, 'node:join', [{ kind: 'url', url: 'not a url' }])).toMatchObject({
      ok: false,
      error: { code: 'BAD_ARGUMENTS' },
    });
  });

  it('diagnostics:report marks not-joined red with the way to join; logs:recent returns what the node logged', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    await dispatchContractCall(h, 'settings:set', [{ idle_only: true }]);
    const rep = (await dispatchContractCall(h, 'diagnostics:report', [])) as {
      ok: true;
      result: ChannelResult<'diagnostics:report'>;
    };
    const joined = rep.result.checks.find((c) => c.id === 'joined');
    expect(joined).toMatchObject({ severity: 'problem', action: { kind: 'open', screen: 'join' } });
    expect(joined?.detail).toMatch(/practice market/);
    expect(rep.result.data_dir).toBe(node.ledger.dataDir.root);
    const logs = await dispatchContractCall(h, 'logs:recent', [{ limit: 10 }]);
    expect(logs).toMatchObject({
      ok: true,
      result: [
        expect.objectContaining({ msg: 'settings changed', module: 'app-node', fields: { keys: ['idle_only'] } }),
      ],
    });
  });
});
