import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { tempDir } from '../support/temp-dir.js';
import { getTask, postTask, startMarket } from '../support/market.js';
import { startProvider } from '../support/provider.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';

const SEED = 0xfa17;
console.log(`faults test seed ${SEED}`);
const fastLeases = {
  quorum: { m: 1, n: 1, t1Secs: 0.4, t2Secs: 0.8, staleSecs: 2, maxSkewSecs: 1, respawnRetrySecs: 0.5 },
  checkFraction: 1,
};

describe('faults in the loop', () => {
  it('a provider killed mid-job loses the lease; the job is reassigned, completed, and paid once', async () => {
    const dir = tempDir('tessera-kill-');
    const m = await startMarket(join(dir, 'market'), fastLeases, { digestThreads: 1 });
    const victim = new RawProvider(m.base, m.blake3, seedFrom(SEED));
    try {
      await victim.join();
      const id = (
        await postTask(m, {
          challenge_type: 'training',
          payload: { model_architecture: 'r', dataset_url: 'https://e.org/d', epochs: 1, batch_size: 1 },
          reward: '4.0',
        })
      ).json.task_id as string;
      const job = await victim.nextJob();
      victim.ws.terminate(); // killed: no result, no job_lost, no more heartbeats
      const p = await startProvider(m.base, join(dir, 'p'));
      try {
        const done = await until(
          'task completed',
          () => getTask(m, id),
          (t) => t.status === 'completed',
          20_000,
        );
        expect((done.result as { worker_address: string }).worker_address).toBe(p.address);
        const results = await m.store.transaction((tx) => tx.validator.results(job.job_id));
        expect(results.map((r) => r.workerAddress)).toEqual([p.address]);
        const a = await m.store.transaction((tx) => tx.validator.assignment(job.job_id));
        expect(a?.epoch).toBe(2);
        expect(await m.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.worker(p.address)))).toBe(1_000_000n);
        expect(await m.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.worker(victim.address)))).toBe(0n);
        const receipts = await m.store.transaction((tx) => tx.validator.receipts(p.address, false));
        expect(receipts).toHaveLength(1);
      } finally {
        await p.close();
      }
    } finally {
      await m.close();
    }
  });

  it('with standbys = 1, a provider killed mid-job has its job handed to the provider node standing by, which completes it; paid once', async () => {
    const dir = tempDir('tessera-kill-standby-');
    const m = await startMarket(join(dir, 'market'), { ...fastLeases, standbys: 1 }, { digestThreads: 1 });
    const victim = new RawProvider(m.base, m.blake3, seedFrom(SEED + 1));
    try {
      await victim.join(); // first in join order: it gets the job; the node below is named its standby
      const p = await startProvider(m.base, join(dir, 'p'));
      try {
        await until(
          'both joined',
          () => m.validator.connectedProviders,
          (n) => n === 2,
          5000,
        );
        // The victim heartbeats like a live provider until it has the job: dispatch serves providers
        // heard within t1 (0.4 s here) first, and on a loaded machine starting the node takes longer.
        const beating = setInterval(() => victim.heartbeat(), 100);
        let job: Awaited<ReturnType<RawProvider['nextJob']>>;
        let id: string;
        try {
          victim.heartbeat();
          id = (
            await postTask(m, {
              challenge_type: 'training',
              payload: { model_architecture: 'r', dataset_url: 'https://e.org/d', epochs: 1, batch_size: 1 },
              reward: '4.0',
            })
          ).json.task_id as string;
          job = await victim.nextJob();
        } finally {
          clearInterval(beating);
        }
        victim.ws.terminate();
        await until(
          'task completed',
          () => getTask(m, id),
          (t) => t.status === 'completed',
          20_000,
        );
        expect(m.validator.handoverCount).toBe(1);
        const a = await m.store.transaction((tx) => tx.validator.assignment(job.job_id));
        expect([a?.provider, a?.epoch]).toEqual([p.address, 2]);
        const results = await m.store.transaction((tx) => tx.validator.results(job.job_id));
        expect(results.map((r) => [r.workerAddress, r.verdict])).toEqual([[p.address, 'accepted']]);
        expect(await m.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.worker(p.address)))).toBe(1_000_000n);
        expect(await m.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.worker(victim.address)))).toBe(0n);
        const repo = new ProviderJobsRepo(p.ledger.db);
        await until(
          'the node recorded its receipt',
          () => repo.earningsByDay(0).reduce((n, d) => n + d.jobs, 0),
          (n) => n === 1,
        );
      } finally {
        await p.close();
      }
    } finally {
      await m.close();
    }
  });

  it('a market restarted mid-task: the provider reconnects, reports what it finished, and the task completes without double pay', async () => {
    const dir = tempDir('tessera-restart-');
    const marketDir = join(dir, 'market');
    let m = await startMarket(marketDir, { ...fastLeases, sliceBytes: 32 }, { digestThreads: 1, onDisk: true });
    const port = Number(new URL(m.base).port);
    const customer = { key: m.customerKey, id: m.customerId };
    const p = await startProvider(m.base, join(dir, 'p'), { maxJobs: 1 });
    try {
      const id = (
        await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: 'x'.repeat(150), max_tokens: 1 },
          reward: '2.0',
        })
      ).json.task_id as string;
      const jobs = (
        await until(
          'jobs split',
          () => m.store.transaction((tx) => tx.jobs.byTask(id)),
          (j) => j.length > 0,
        )
      ).length;
      expect(jobs).toBeGreaterThan(3);
      const repo = new ProviderJobsRepo(p.ledger.db);
      await until(
        'first job accepted',
        () => repo.recent(50).filter((j) => j.status === 'accepted').length,
        (n) => n >= 1,
      );
      await m.close();
      m = await startMarket(marketDir, fastLeases, { digestThreads: 1, onDisk: true, port, customer });
      await until(
        'task completed after the restart',
        () => getTask(m, id),
        (t) => t.status === 'completed',
        30_000,
      );
      const rows = await m.store.transaction(async (tx) => {
        const out: string[] = [];
        for (const j of await tx.jobs.byTask(id))
          for (const r of await tx.validator.results(j.jobId)) if (r.verdict === 'accepted') out.push(j.jobId);
        return out;
      });
      expect(new Set(rows).size).toBe(jobs);
      expect(rows).toHaveLength(jobs);
      await until(
        'every receipt recorded by the provider',
        () => repo.earningsByDay(0).reduce((a, d) => a + d.jobs, 0),
        (n) => n === jobs,
      );
      expect(repo.earningsByDay(0).reduce((a, d) => a + d.paid, 0n)).toBe(500_000n);
      expect(await m.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.worker(p.address)))).toBe(500_000n);
    } finally {
      await p.close();
      await m.close();
    }
  });
});
