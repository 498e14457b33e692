import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/core/hex.js';
import type { SliceJob } from '../../../src/core/workloads/workload.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import type { ComputeChannel } from '../../../src/main/gpu/compute-client.js';
import { openDawnChannel } from '../../../src/main/gpu/dawn-host.js';
import { GpuHashService, type GpuHashServiceOptions } from '../../../src/main/gpu/gpu-hash-service.js';
import { createMetricsRegistry, metricValue } from '../../../src/main/metrics.js';
import { WorkloadRunner, type GpuHashPort } from '../../../src/main/services/workload-runner.js';
import { pseudoRandomBytes } from '../../support/data.js';
import { probeDawn } from './dawn-probe.js';
import { FakeHost, HARDWARE_ADAPTER } from './fake-host.js';

const cpu = loadNativeBlake3();
const dawn = await probeDawn();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function service(options: Partial<GpuHashServiceOptions> & Pick<GpuHashServiceOptions, 'openHost'>) {
  const registry = createMetricsRegistry();
  const svc = new GpuHashService({ registry, reinitDelayMs: 20, ...options });
  cleanups.push(() => svc.close());
  return { svc, registry, lost: () => metricValue(registry, 'gpu_device_lost_total') };
}

/** A runner; `allowSoftwareAdapter` lets llvmpipe take GPU work (tests and benchmarks only). */
function runner(gpu: GpuHashPort | undefined, threads = 1, allowSoftwareAdapter = false): WorkloadRunner {
  const r = new WorkloadRunner({ threads, gpu, allowSoftwareAdapter });
  cleanups.push(() => r.close());
  return r;
}

const bytesJob = (id: string, data: Uint8Array, extra: Partial<SliceJob> = {}): SliceJob => ({
  slice_id: id,
  workload: 'gpuhash',
  source: { kind: 'bytes', data },
  ...extra,
});

describe.skipIf(!dawn.ok)(
  dawn.ok ? 'GpuHashService on Dawn (llvmpipe)' : `GpuHashService on Dawn — skipped: ${dawn.ok ? '' : dawn.reason}`,
  () => {
    const dawnHost = () => openDawnChannel({ backends: ['opengles'] });

    /** A Dawn host that counts the hash requests it is sent (self-check included). */
    const countingHost = () => {
      const counts = { hashes: 0 };
      const open = (): ComputeChannel => {
        const channel = dawnHost();
        return {
          ...channel,
          post(message, transfer) {
            if (message.type === 'hash') counts.hashes++;
            channel.post(message, transfer);
          },
        };
      };
      return { counts, open };
    };

    it('reports llvmpipe as a software adapter: never a hardware GPU, GpuHash on the CPU (labelled cpu), gpu_required refused', async () => {
      const host = countingHost();
      const { svc } = service({ openHost: host.open });
      const caps = await svc.start();
      expect(svc.ready).toBe(true);
      expect(caps.hardware_gpu).toBe(false);
      expect(caps.adapter).toMatchObject({
        software: true,
        isFallbackAdapter: false,
        featureLevel: 'compatibility',
        vendor: '',
      });
      expect(caps.adapter?.device).toMatch(/llvmpipe/);
      const r = runner(svc);
      const afterSelfCheck = host.counts.hashes;
      const data = pseudoRandomBytes(70_001, 11);
      const want = execFileSync('b3sum', ['--no-names'], { input: Buffer.from(data), encoding: 'utf8' }).trim();
      expect(await r.run(bytesJob('sw', data))).toMatchObject({ backend: 'cpu', proof_hash: want });
      expect(host.counts.hashes).toBe(afterSelfCheck); // the software adapter was not even asked
      await expect(r.run(bytesJob('req', new Uint8Array(10), { gpu_required: true }))).rejects.toMatchObject({
        code: 'GPU_REQUIRED',
      });
    });

    it('with allowSoftwareAdapter, runs GpuHash on llvmpipe (bytes and files) with the CPU’s digest; Transcode stays on the CPU uncalibrated', async () => {
      const { svc } = service({ openHost: dawnHost });
      await svc.start();
      expect(svc.hardware).toBe(false); // still never announced as a hardware GPU
      const r = runner(svc, 1, true);
      const data = pseudoRandomBytes(300_001, 9);
      const want = toHex(cpu.hash(data));
      const proof = await r.run(bytesJob('a', data, { gpu_required: true }));
      expect(proof).toMatchObject({ backend: 'gpu', proof_hash: want, bytes: 300_001 });
      expect(data.byteLength).toBe(300_001);

      const dir = mkdtempSync(join(tmpdir(), 'tessera-gpu-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'g.slice');
      writeFileSync(path, pseudoRandomBytes(2_000_003, 4));
      const b3sum = execFileSync('b3sum', ['--no-names', path], { encoding: 'utf8' }).trim();
      expect(await r.run({ slice_id: 'f', workload: 'gpuhash', source: { kind: 'file', path } })).toMatchObject({
        backend: 'gpu',
        proof_hash: b3sum,
      });
      expect(await r.run({ slice_id: 't', workload: 'transcode', source: { kind: 'file', path } })).toMatchObject({
        backend: 'cpu',
        proof_hash: b3sum,
      });
    });

    it('falls back to the CPU when the device is lost mid-job, counts it, and re-initialises', async () => {
      // The device is dropped right behind the first big job, so the loss lands while it runs.
      let dropped = false;
      const lossyHost = (): ComputeChannel => {
        const channel = dawnHost();
        return {
          ...channel,
          post(message, transfer) {
            const big = message.type === 'hash' && message.data.length >= 1 << 20; // before the transfer detaches it
            channel.post(message, transfer);
            if (big && !dropped) {
              dropped = true;
              channel.post({ type: 'drop-device' }, []);
            }
          },
        };
      };
      const { svc, lost } = service({ openHost: lossyHost });
      await svc.start();
      const r = runner(svc, 1, true);
      const data = pseudoRandomBytes(8 << 20, 21);
      const want = toHex(cpu.hash(data));
      expect(await r.run(bytesJob('big', data))).toMatchObject({ backend: 'cpu', proof_hash: want });
      expect(dropped).toBe(true);
      expect(await lost()).toBe(1);
      await expect.poll(() => svc.ready, { timeout: 20_000 }).toBe(true);
      const small = pseudoRandomBytes(70_000, 22);
      expect(await r.run(bytesJob('after', small))).toMatchObject({
        backend: 'gpu',
        proof_hash: toHex(cpu.hash(small)),
      });
      expect(await lost()).toBe(1);
    });

    it('treats a job over its time budget as a kernel timeout: CPU result, counted, host retired', async () => {
      const { svc, lost } = service({
        openHost: dawnHost,
        jobTimeoutMs: 1,
        minBytesPerSecond: 1e15,
        reinitDelayMs: 60_000,
      });
      await svc.start();
      const r = runner(svc, 1, true);
      const data = pseudoRandomBytes(16 << 20, 31);
      const want = toHex(cpu.hash(data)); // before the run: the CPU pool takes the buffer over
      expect(await r.run(bytesJob('slow', data))).toMatchObject({ backend: 'cpu', proof_hash: want });
      expect(await lost()).toBe(1);
      expect(svc.ready).toBe(false);
      // While it is down, jobs go straight to the CPU.
      const next = pseudoRandomBytes(1000, 32);
      const nextWant = toHex(cpu.hash(next));
      expect(await r.run(bytesJob('down', next))).toMatchObject({ backend: 'cpu', proof_hash: nextWant });
    });
  },
);

describe('GpuHashService without a usable GPU', () => {
  it('falls back to the CPU when no adapter exists (real Dawn host with no backend)', async () => {
    const { svc, lost } = service({ openHost: () => openDawnChannel({ backends: [] }) });
    expect(await svc.start()).toEqual({ hardware_gpu: false, adapter: null });
    expect(svc.ready).toBe(false);
    const r = runner(svc);
    const data = pseudoRandomBytes(5000, 1);
    const want = toHex(cpu.hash(data));
    expect(await r.run(bytesJob('cpu', data))).toMatchObject({ backend: 'cpu', proof_hash: want });
    await expect(r.run(bytesJob('req', new Uint8Array(1), { gpu_required: true }))).rejects.toMatchObject({
      code: 'GPU_REQUIRED',
    });
    expect(await lost()).toBe(0);
  });

  it('never uses a kernel that fails its self-check', async () => {
    const host = new FakeHost({ wrongDigest: '00'.repeat(32) });
    const { svc, lost } = service({ openHost: () => host });
    const caps = await svc.start();
    expect(svc.ready).toBe(false);
    expect(caps.hardware_gpu).toBe(false); // a GPU whose kernel is wrong is not offered
    expect(caps.adapter?.vendor).toBe('nvidia');
    const r = runner(svc);
    const data = pseudoRandomBytes(2000, 2);
    const want = toHex(cpu.hash(data));
    expect(await r.run(bytesJob('x', data))).toMatchObject({ backend: 'cpu', proof_hash: want });
    expect(host.hashes).toBe(1); // only the first self-check input
    expect(await lost()).toBe(0);
  });

  it('counts a host crash while idle and comes back after the re-init delay', async () => {
    const hosts: FakeHost[] = [];
    const { svc, lost } = service({ openHost: () => (hosts.push(new FakeHost()), hosts.at(-1) as FakeHost) });
    const changes: boolean[] = [];
    svc.onDidChangeCapabilities(() => changes.push(svc.ready));
    expect((await svc.start()).hardware_gpu).toBe(true);
    hosts[0]?.crash();
    expect(svc.ready).toBe(false);
    expect(await lost()).toBe(1);
    await expect.poll(() => svc.ready).toBe(true);
    expect(hosts).toHaveLength(2);
    expect(changes).toEqual([true, false, true]);
  });

  it('drops a host that sends a malformed reply, and the job still gets the right digest', async () => {
    const host = new FakeHost({ hashDelayMs: 50 });
    const { svc, lost } = service({ openHost: () => host, reinitDelayMs: 60_000 });
    await svc.start();
    const r = runner(svc);
    const data = pseudoRandomBytes(4000, 3);
    const want = toHex(cpu.hash(data));
    const job = r.run(bytesJob('m', data));
    await new Promise((ok) => setTimeout(ok, 5));
    host.send({ type: 'hashed', id: 1, digest: 'not-hex' });
    expect(await job).toMatchObject({ backend: 'cpu', proof_hash: want });
    expect(await lost()).toBe(1);
  });
});

describe('start-up calibration', () => {
  /** A GPU port whose speed the test controls: answers after `delayMs` with the right digest. */
  const port = (delayMs: number): GpuHashPort => ({
    hardware: true,
    ready: true,
    hashBytes: async (data) => {
      await new Promise((ok) => setTimeout(ok, delayMs));
      return toHex(cpu.hash(data));
    },
  });

  it('moves Transcode/Inference to the GPU only at sizes where it measured ≥ 1.2× the CPU pool', async () => {
    const slow = runner(port(30), 2);
    const cal = await slow.calibrateGpu({ sizes: [64 << 10, 1 << 20], repetitions: 2 });
    expect(cal.points.map((p) => p.gpu)).toEqual([false, false]);
    const data = pseudoRandomBytes(1 << 20, 5);
    expect(await slow.run({ slice_id: 's', workload: 'transcode', source: { kind: 'bytes', data } })).toMatchObject({
      backend: 'cpu',
    });

    // Fast after the first sight of a buffer: calibration hashes the same buffer for every
    // repetition, so only its untimed warm-up pays for the (real) digest.
    const seen = new WeakMap<Uint8Array, string>();
    const instant: GpuHashPort = {
      hardware: true,
      ready: true,
      hashBytes: async (data) => {
        const known = seen.get(data);
        if (known) return known;
        const digest = toHex(cpu.hash(data));
        seen.set(data, digest);
        return digest;
      },
    };
    const fast = runner(instant, 2);
    const fastCal = await fast.calibrateGpu({ sizes: [8 << 20], repetitions: 2 });
    expect(fastCal.points[0]).toMatchObject({ bytes: 8 << 20, gpu: true });
    expect(fastCal.points[0]?.speedup).toBeGreaterThanOrEqual(1.2);
    const big = pseudoRandomBytes(6 << 20, 6);
    const bigWant = execFileSync('b3sum', ['--no-names'], { input: Buffer.from(big), encoding: 'utf8' }).trim();
    expect(
      await fast.run({ slice_id: 'b', workload: 'inference', source: { kind: 'bytes', data: big } }),
    ).toMatchObject({ backend: 'gpu', proof_hash: bigWant });
  });

  it('judges each side by its fastest run: one run the machine interrupted does not send slices back to the CPU', async () => {
    // The calibration's clock is wall time plus what the test adds: the GPU's second timed run is
    // interrupted for 10 s (as a busy machine can), its first and third are instant.
    let extra = 0;
    const now = () => performance.now() + extra;
    let calls = 0;
    let digest: string | undefined; // the calibration hashes one buffer: only the warm-up pays for its digest
    const interrupted: GpuHashPort = {
      hardware: true,
      ready: true,
      hashBytes: async (data) => {
        if (calls++ === 2) extra += 10_000;
        digest ??= toHex(cpu.hash(data));
        return digest;
      },
    };
    const r = new WorkloadRunner({ threads: 2, gpu: interrupted, now });
    cleanups.push(() => r.close());
    const cal = await r.calibrateGpu({ sizes: [1 << 20], repetitions: 3 });
    expect(calls).toBe(4); // a warm-up and three timed runs
    expect(cal.points[0]).toMatchObject({ bytes: 1 << 20, gpu: true });
  });

  it('keeps everything on the CPU when the GPU is not ready', async () => {
    const r = runner({ hardware: true, ready: false, hashBytes: () => Promise.reject(new Error('unused')) });
    const cal = await r.calibrateGpu({ sizes: [64 << 10], repetitions: 1 });
    expect(cal.points[0]).toMatchObject({ gpuBytesPerSecond: 0, gpu: false });
  });

  it('never measures or moves work to a software adapter unless allowed', async (ctx) => {
    if (!dawn.ok) ctx.skip(dawn.reason);
    const { svc } = service({ openHost: () => openDawnChannel({ backends: ['opengles'] }) });
    await svc.start();
    const r = runner(svc, 2);
    const cal = await r.calibrateGpu({ sizes: [64 << 10, 1 << 20], repetitions: 1 });
    expect(cal.points.map((p) => [p.gpuBytesPerSecond, p.gpu])).toEqual([
      [0, false],
      [0, false],
    ]);
    // …and a slice of a calibrated size stays on the CPU.
    const data = pseudoRandomBytes(1 << 20, 12);
    const want = toHex(cpu.hash(data));
    expect(await r.run({ slice_id: 'tr', workload: 'transcode', source: { kind: 'bytes', data } })).toMatchObject({
      backend: 'cpu',
      proof_hash: want,
    });
  });

  it('calibrates against a real Dawn host (software adapter explicitly allowed) without error', async (ctx) => {
    if (!dawn.ok) ctx.skip(dawn.reason);
    const { svc } = service({ openHost: () => openDawnChannel({ backends: ['opengles'] }) });
    await svc.start();
    const cal = await runner(svc, 2, true).calibrateGpu({ sizes: [64 << 10, 1 << 20], repetitions: 2 });
    expect(cal.points).toHaveLength(2);
    for (const p of cal.points) {
      expect(p.gpuBytesPerSecond).toBeGreaterThan(0);
      expect(p.cpuBytesPerSecond).toBeGreaterThan(0);
      expect(p.gpu).toBe(p.speedup >= 1.2);
    }
  });
});

describe('hardware adapter reporting', () => {
  it('announces a hardware adapter and takes gpu_required jobs on it', async () => {
    const { svc } = service({ openHost: () => new FakeHost() });
    const caps = await svc.start();
    expect(caps).toEqual({ hardware_gpu: true, adapter: { ...HARDWARE_ADAPTER, software: false } });
    const data = pseudoRandomBytes(3000, 8);
    const want = execFileSync('b3sum', ['--no-names'], { input: Buffer.from(data), encoding: 'utf8' }).trim();
    expect(await runner(svc).run(bytesJob('hw', data, { gpu_required: true }))).toMatchObject({
      backend: 'gpu',
      proof_hash: want,
    });
  });
});
