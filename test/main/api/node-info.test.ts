import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { ProviderJobsRepo } from '../../../src/main/db/repos/provider-jobs-repo.js';
import { contract, dispatchContractCall, type GpuCapabilitiesInfo } from '../../../src/shared/contract.js';
import { testAppNode } from './fixtures.js';

describe('contract additions for the UI', () => {
  it('node:info reports the CPU, the platform, the data folder and the host kind', async () => {
    const node = await testAppNode({ headless: true });
    const env = await dispatchContractCall(createAppHandlers(node), 'node:info', []);
    expect(env.ok).toBe(true);
    const info = contract['node:info'].result.parse((env as { result: unknown }).result);
    expect(info.cpu_threads).toBe(os.availableParallelism());
    expect(info.cpu_model).toBe(os.cpus()[0]?.model.trim() || 'unknown CPU');
    expect(info.platform).toBe(process.platform);
    expect(info.data_dir).toBe(node.ledger.dataDir.root);
    expect(info.headless).toBe(true);
    const desktop = await testAppNode();
    expect(desktop.nodeInfo().headless).toBe(false);
    expect((await dispatchContractCall(createAppHandlers(node), 'node:info', [1])).ok).toBe(false);
  });

  it('jobs:workloads lists each workload of the history once, sorted', async () => {
    const node = await testAppNode();
    const repo = new ProviderJobsRepo(node.ledger.db);
    const workloads = ['synthetic', 'inference', 'synthetic', 'transcode', 'inference'];
    workloads.forEach((workload, i) =>
      repo.start({
        marketId: 'm',
        taskId: `t${i}`,
        jobId: `j${i}`,
        epoch: 0,
        workload,
        bytes: 10,
        startedAt: 1000 + i,
      }),
    );
    const env = await dispatchContractCall(createAppHandlers(node), 'jobs:workloads', []);
    expect(env).toEqual({ ok: true, result: ['inference', 'synthetic', 'transcode'] });
  });

  it('emits gpu:capabilities-changed when the GPU host reports a change, and stops at close', async () => {
    const listeners = new Set<(caps: GpuCapabilitiesInfo) => void>();
    const node = await testAppNode({
      onGpuChange: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    });
    const seen: unknown[] = [];
    node.events.onDidEmit((event, payload) => {
      if (event === 'gpu:capabilities-changed') seen.push(payload);
    });
    const caps: GpuCapabilitiesInfo = {
      hardware_gpu: true,
      adapter: {
        vendor: 'v',
        architecture: 'a',
        device: 'd',
        description: 'GPU',
        isFallbackAdapter: false,
        featureLevel: 'core',
        software: false,
      },
    };
    for (const l of listeners) l(caps);
    expect(seen).toEqual([caps]);
    await node.close();
    expect(listeners.size).toBe(0);
  });
});
