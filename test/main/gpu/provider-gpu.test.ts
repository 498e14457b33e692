import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { fromHex, toHex } from '../../../src/core/hex.js';
import { parseComputeResult } from '../../../src/core/market/compute-result.js';
import { ProviderJobsRepo } from '../../../src/main/db/repos/provider-jobs-repo.js';
import type { ComputeChannel } from '../../../src/main/gpu/compute-client.js';
import { openDawnChannel } from '../../../src/main/gpu/dawn-host.js';
import { GpuHashService } from '../../../src/main/gpu/gpu-hash-service.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { createMetricsRegistry } from '../../../src/main/metrics.js';
import { startProvider as startCliProvider } from '../../../src/cli/commands/provide.js';
import { silentLogger } from '../../../src/node/log.js';
import { ACCOUNTS } from '../../../src/market/store/accounts-repo.js';
import type { CapabilitiesFrame, JobFrame } from '../../../src/shared/market-protocol.js';
import { tempDir } from '../../support/temp-dir.js';
import { balance, getTask, postTask, startMarket } from '../../support/market.js';
import { startProvider } from '../../support/provider.js';
import { until } from '../../support/wait.js';
import { probeDawn } from './dawn-probe.js';
import { FakeHost } from './fake-host.js';

const cpu = loadNativeBlake3();
const dawn = await probeDawn();

/** A real market store and a software GPU adapter: slow on a busy machine. */
const SLOW_MS = 180_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Dawn (llvmpipe) host that counts the keyed hash requests it is sent. */
function countingDawn(): { open: () => ComputeChannel; keyed: () => number } {
  let keyed = 0;
  return {
    keyed: () => keyed,
    open: () => {
      const channel = openDawnChannel({ backends: ['opengles'] });
      return {
        ...channel,
        post(message, transfer) {
          if (message.type === 'hash' && message.key) keyed++;
          channel.post(message, transfer);
        },
      };
    },
  };
}

async function gpuService(open: () => ComputeChannel): Promise<GpuHashService> {
  const svc = new GpuHashService({ openHost: open, registry: createMetricsRegistry() });
  cleanups.push(() => svc.close());
  await svc.start();
  expect(svc.ready).toBe(true);
  expect(svc.hardware).toBe(false); // llvmpipe: software
  return svc;
}

const gpuTask = (bytes: number) => ({
  challenge_type: 'inference',
  payload: { model_id: 'm', prompt: 'p'.repeat(bytes), max_tokens: 1, gpu_required: true },
  reward: '4.0',
});

describe.skipIf(!dawn.ok)(
  dawn.ok
    ? 'GpuHash market jobs on the GPU host (Dawn software adapter, explicitly allowed)'
    : `GpuHash market jobs — skipped: ${dawn.ok ? '' : dawn.reason}`,
  () => {
    it(
      'a gpu_required task goes to the provider, runs on the GPU host (backend gpu, both digests), is verified and paid',
      async () => {
        const dir = tempDir('tessera-gpu-loop-');
        const m = await startMarket(join(dir, 'market'), { checkFraction: 1, sliceBytes: 4096 });
        cleanups.push(() => m.close());
        const host = countingDawn();
        const gpu = await gpuService(host.open);
        const selfCheck = host.keyed();
        const jobs: JobFrame[] = [];
        const p = await startProvider(m.base, join(dir, 'p'), {
          gpuDigester: gpu,
          allowSoftwareAdapter: true,
          testOnlyAnnounceGpuAsHardware: true,
          // Observes each job's frame (its assignment key and bytes); the result is sent unchanged.
          tamper: (result, job) => {
            jobs.push(job);
            return result;
          },
        });
        cleanups.push(() => p.close());

        const posted = await postTask(m, gpuTask(10_000));
        expect(posted.status).toBe(201);
        const id = posted.json.task_id as string;
        await until(
          `task ${id} completed`,
          () => getTask(m, id),
          (t) => t.status === 'completed',
          60_000,
        );

        const repo = new ProviderJobsRepo(p.ledger.db);
        const history = await until(
          'receipts recorded',
          () => repo.recent(50),
          (rows) => rows.length > 0 && rows.every((r) => r.status === 'accepted'),
        );
        expect(history.length).toBeGreaterThan(1); // ~10 KB in 4 KiB slices
        expect(history.every((r) => r.workload === 'gpuhash' && r.backend === 'gpu' && r.credits > 0n)).toBe(true);
        // Each job was one keyed request to the GPU host: both digests from one upload.
        expect(host.keyed() - selfCheck).toBe(history.length);

        // Both digests are the right ones: plain BLAKE3 of the slice and keyed BLAKE3 under its assignment key.
        expect(jobs.length).toBe(history.length);
        for (const job of jobs) {
          const bytes = new Uint8Array(Buffer.from(job.slice?.data ?? '', 'base64'));
          const row = history.find((r) => r.jobId === job.job_id);
          expect(row?.resultHash).toBe(toHex(cpu.hash(bytes)));
          expect(row?.proof).toBe(toHex(cpu.keyed(fromHex(job.assignment_key, 'key'), bytes)));
          expect(parseComputeResult(JSON.parse(row?.result ?? '{}')).proof).toBe(row?.proof);
        }

        // The market verified every result and paid the worker what the provider's ledger shows.
        const verdicts = await m.store.transaction(async (tx) => {
          const out: string[] = [];
          for (const j of await tx.jobs.byTask(id))
            for (const r of await tx.validator.results(j.jobId)) out.push(r.verdict);
          return out;
        });
        expect(verdicts.length).toBe(history.length);
        expect(verdicts.every((v) => v === 'accepted')).toBe(true);
        const paid = repo.earningsByDay(0).reduce((a, d) => a + d.paid, 0n);
        expect(paid).toBeGreaterThan(0n);
        expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(paid);
      },
      SLOW_MS,
    );

    it(
      'a software adapter announced as software gets no gpu_required job, while other work still flows',
      async () => {
        const dir = tempDir('tessera-gpu-soft-');
        const m = await startMarket(join(dir, 'market'), { checkFraction: 0, sliceBytes: 4096 });
        cleanups.push(() => m.close());
        const gpu = await gpuService(() => openDawnChannel({ backends: ['opengles'] }));
        // Allowed to use llvmpipe locally, but announced honestly: the market must not count it.
        const p = await startProvider(m.base, join(dir, 'p'), { gpuDigester: gpu, allowSoftwareAdapter: true });
        cleanups.push(() => p.close());
        const gpuId = (await postTask(m, gpuTask(100))).json.task_id as string;
        const plain = await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: 'hello', max_tokens: 1 },
          reward: '1.0',
        });
        const plainId = plain.json.task_id as string;
        await until(
          'plain task completed',
          () => getTask(m, plainId),
          (t) => t.status === 'completed',
          30_000,
        );
        await m.validator.pumpNow(); // one more whole dispatch pass with the GPU job queued and the node idle
        expect((await getTask(m, gpuId)).status).not.toBe('completed');
        const gpuJobs = await m.store.transaction((tx) => tx.jobs.byTask(gpuId));
        expect(gpuJobs.length).toBeGreaterThan(0);
        expect(gpuJobs.every((j) => j.status === 'queued')).toBe(true);
        const repo = new ProviderJobsRepo(p.ledger.db);
        expect(repo.recent(50).every((r) => r.workload !== 'gpuhash')).toBe(true);
      },
      SLOW_MS,
    );
  },
);

describe('GpuHash market jobs when the GPU fails', () => {
  it(
    'a hardware GPU is announced as hardware; a GPU failure on a gpu_required job reports it lost and never runs it on the CPU',
    async () => {
      const dir = tempDir('tessera-gpu-fail-');
      const m = await startMarket(join(dir, 'market'), { checkFraction: 0, sliceBytes: 4096 });
      cleanups.push(() => m.close());
      // A hardware adapter whose host dies on its first job (after the 10 self-check requests); each replacement does the same.
      const hosts: FakeHost[] = [];
      const gpu = new GpuHashService({
        openHost: () => (hosts[hosts.length] = new FakeHost({ crashAfterHashes: 10 })),
        registry: createMetricsRegistry(),
        reinitDelayMs: 20,
      });
      cleanups.push(() => gpu.close());
      await gpu.start();
      expect(gpu.hardware && gpu.ready).toBe(true);
      const p = await startProvider(m.base, join(dir, 'p'), { gpuDigester: gpu });
      cleanups.push(() => p.close());
      const id = (await postTask(m, gpuTask(100))).json.task_id as string;
      const repo = new ProviderJobsRepo(p.ledger.db);
      // The job reached this provider (so the market counted it as hardware) and came back lost.
      const rows = await until(
        'the job reported lost',
        () => repo.recent(50),
        (r) => r.some((x) => x.status === 'lost'),
        60_000,
      );
      const gpuRows = rows.filter((r) => r.workload === 'gpuhash');
      expect(gpuRows.length).toBeGreaterThan(0);
      expect(gpuRows.every((r) => r.status === 'lost' || r.status === 'running')).toBe(true);
      expect(gpuRows.some((r) => r.code === 'RUN_FAILED')).toBe(true);
      expect(gpuRows.every((r) => r.backend === null && r.proof === null)).toBe(true);
      expect((await getTask(m, id)).status).not.toBe('completed');
    },
    SLOW_MS,
  );
});

/** A stand-in market socket that records the capabilities frames a provider announces. */
async function captureMarket(): Promise<{
  url: string;
  frames: CapabilitiesFrame[];
  setAddress: (a: string) => void;
  close: () => Promise<void>;
}> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const frames: CapabilitiesFrame[] = [];
  let setAddress: (a: string) => void = () => undefined;
  const address = new Promise<string>((r) => (setAddress = r));
  wss.on('connection', (ws: WebSocket) => {
    ws.send(
      JSON.stringify({ type: 'challenge', version: 1, market_id: 'capture', nonce: '00'.repeat(32), practice: false }),
    );
    ws.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString('utf8')) as { type: string };
      if (f.type !== 'capabilities') return;
      const first = frames.length === 0;
      frames.push(f as CapabilitiesFrame);
      if (first)
        void address.then((a) =>
          ws.send(
            JSON.stringify({
              type: 'welcome',
              address: a,
              heartbeat_ms: 60_000,
              leased_jobs: [],
              server_time: Date.now(),
              market_key: '00'.repeat(32),
            }),
          ),
        );
    });
  });
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    frames,
    setAddress,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

describe.skipIf(!dawn.ok)('a node whose only adapter is software', () => {
  it(
    'starts its GPU host, reports hardware_gpu false and announces the adapter as software',
    async () => {
      const market = await captureMarket();
      cleanups.push(() => market.close());
      const node = await startCliProvider({
        market: market.url,
        dataDir: tempDir(),
        threads: 1,
        ask: 0n,
        logger: silentLogger,
        metricsPort: 0,
        openGpuHost: () => openDawnChannel({ backends: ['opengles'] }),
      });
      cleanups.push(() => node.stop(2000));
      market.setAddress(node.service.address);
      // The GPU comes up after the join and is announced again once ready.
      const frames = await until(
        'GPU announced',
        () => market.frames.filter((f) => f.gpu !== null),
        (f) => f.length > 0,
        60_000,
      );
      expect(node.node.services.gpu?.ready).toBe(true);
      expect(node.node.services.gpu?.capabilities().hardware_gpu).toBe(false);
      expect(frames[0]?.gpu).toMatchObject({ software: true });
      expect(frames[0]?.gpu?.name).toMatch(/llvmpipe/);
    },
    SLOW_MS,
  );
});
