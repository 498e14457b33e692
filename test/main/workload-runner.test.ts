import { execFileSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import type { SliceJob, SliceProof } from '../../src/core/workloads/workload.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { HashWorkerPool } from '../../src/main/services/worker-pool.js';
import { WorkloadRunner } from '../../src/main/services/workload-runner.js';
import { tempDir } from '../support/temp-dir.js';
import { pseudoRandomBytes } from '../support/data.js';

const cpuHasher = loadNativeBlake3();
const runners: WorkloadRunner[] = [];
function runner(threads: number, extra: ConstructorParameters<typeof WorkloadRunner>[0] = {}): WorkloadRunner {
  const r = new WorkloadRunner({ threads, ...extra });
  runners.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.close()));
});

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('WorkloadRunner', () => {
  it('gives the same proofs at any pool size and submission order', async () => {
    const dir = tempDir();
    const files = Array.from({ length: 10 }, (_, i) => {
      const path = join(dir, `s${i}.slice`);
      writeFileSync(path, pseudoRandomBytes(1000 + i * 37_123, i + 3));
      return path;
    });
    const jobs = (): SliceJob[] => [
      ...files.map((path, i): SliceJob => ({
        slice_id: `file-${i}`,
        workload: i % 2 ? 'inference' : 'transcode',
        source: { kind: 'file', path },
      })),
      ...[0, 1, 64, 1024, 1025, 100_000].map((len, i): SliceJob => ({
        slice_id: `mem-${i}`,
        workload: 'gpuhash',
        source: { kind: 'bytes', data: pseudoRandomBytes(len, 99 + i) },
      })),
      {
        slice_id: 'syn-a',
        workload: 'synthetic',
        synthetic: { block_hash: '11'.repeat(32), worker_address: 'alice', matrix_size: 48 },
      },
      {
        slice_id: 'syn-b',
        workload: 'synthetic',
        synthetic: { block_hash: '11'.repeat(32), worker_address: 'bob', matrix_size: 48 },
      },
    ];
    const reference = execFileSync('b3sum', ['--no-names', ...files], { encoding: 'utf8' })
      .trim()
      .split('\n');
    let baseline: Map<string, string> | undefined;
    for (const threads of [1, 2, 3, 4]) {
      const r = runner(threads);
      const proofs = await Promise.all(shuffled(jobs(), threads * 7919).map((j) => r.run(j)));
      const byId = new Map(proofs.map((p) => [p.slice_id, p.proof_hash]));
      files.forEach((_, i) => expect(byId.get(`file-${i}`)).toBe(reference[i]));
      if (baseline) expect(byId).toEqual(baseline);
      baseline = byId;
    }
    expect(baseline?.get('syn-a')).not.toBe(baseline?.get('syn-b'));
  });

  it('returns a SliceProof with the slice id, workload, size and backend', async () => {
    const dir = tempDir();
    const path = join(dir, 'one.slice');
    writeFileSync(path, pseudoRandomBytes(5000, 1));
    const r = runner(1);
    const started = performance.now();
    const proof = await r.run({ slice_id: 'one', workload: 'transcode', source: { kind: 'file', path } });
    const elapsed = performance.now() - started;
    expect(proof).toMatchObject({
      slice_id: 'one',
      workload: 'transcode',
      bytes: 5000,
      backend: 'cpu',
    } satisfies Partial<SliceProof>);
    expect(proof.proof_hash).toBe(execFileSync('b3sum', ['--no-names', path], { encoding: 'utf8' }).trim());
    // The reported time is the job's own, so it cannot exceed the wall time around the call.
    expect(proof.duration_ms).toBeLessThanOrEqual(Math.ceil(elapsed));
  });

  it('answers a repeated file slice from cache but refuses a reused id with new length, workload or content', async () => {
    const dir = tempDir();
    const r = runner(1);
    const a = await r.run({
      slice_id: 'x',
      workload: 'transcode',
      source: { kind: 'bytes', data: pseudoRandomBytes(100, 1) },
    });
    const again = await r.run({
      slice_id: 'x',
      workload: 'transcode',
      source: { kind: 'bytes', data: pseudoRandomBytes(100, 1) },
    });
    expect(again.proof_hash).toBe(a.proof_hash);
    await expect(
      r.run({ slice_id: 'x', workload: 'transcode', source: { kind: 'bytes', data: pseudoRandomBytes(101, 1) } }),
    ).rejects.toMatchObject({ code: 'SLICE_ID_REUSED' });
    await expect(
      r.run({ slice_id: 'x', workload: 'inference', source: { kind: 'bytes', data: pseudoRandomBytes(100, 1) } }),
    ).rejects.toMatchObject({ code: 'SLICE_ID_REUSED' });

    const path = join(dir, 'edit.slice');
    writeFileSync(path, pseudoRandomBytes(64, 1));
    const fileProof = await r.run({ slice_id: 'f', workload: 'transcode', source: { kind: 'file', path } });
    expect(await r.run({ slice_id: 'f', workload: 'transcode', source: { kind: 'file', path } })).toBe(fileProof); // the cached object itself
    writeFileSync(path, pseudoRandomBytes(64, 2)); // same length, new content
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    await expect(r.run({ slice_id: 'f', workload: 'transcode', source: { kind: 'file', path } })).rejects.toThrow(
      /different content/,
    );
  });

  it('refuses gpu_required jobs without a hardware GPU, and runs them on one', async () => {
    const bytes = pseudoRandomBytes(10_000, 41);
    const want = execFileSync('b3sum', ['--no-names'], { input: Buffer.from(bytes), encoding: 'utf8' }).trim();
    const job = (): SliceJob => ({
      slice_id: 'g',
      workload: 'gpuhash',
      gpu_required: true,
      source: { kind: 'bytes', data: bytes.slice() },
    });
    await expect(runner(1).run(job())).rejects.toMatchObject({ code: 'GPU_REQUIRED' });
    // A GPU port that really hashes what it is given (the digest is checked against b3sum, not against itself).
    const hashing = (hardware: boolean) => {
      const calls = { n: 0 };
      return {
        calls,
        port: { hardware, ready: true, hashBytes: async (d: Uint8Array) => (calls.n++, toHex(cpuHasher.hash(d))) },
      };
    };
    const software = hashing(false);
    await expect(runner(1, { gpu: software.port }).run(job())).rejects.toMatchObject({
      code: 'GPU_REQUIRED',
      message: expect.stringMatching(/software adapter/),
    });
    expect(software.calls.n).toBe(0);
    const hw = hashing(true);
    const gpu = hw.port;
    expect(await runner(1, { gpu }).run(job())).toMatchObject({ backend: 'gpu', proof_hash: want });
    expect(hw.calls.n).toBe(1);
    // Never quietly on the CPU: not ready, a failing GPU, or a workload the GPU cannot run.
    await expect(runner(1, { gpu: { ...gpu, ready: false } }).run(job())).rejects.toThrow(/not ready yet/);
    const failing = { hardware: true, ready: true, hashBytes: () => Promise.reject(new Error('device lost')) };
    await expect(runner(1, { gpu: failing }).run(job())).rejects.toThrow(
      /the GPU failed on job g \(Error: device lost\).*not run on the CPU/,
    );
    await expect(
      runner(1, { gpu }).run({
        slice_id: 's',
        workload: 'synthetic',
        gpu_required: true,
        synthetic: { block_hash: '00'.repeat(32), worker_address: 'w', matrix_size: 4 },
      }),
    ).rejects.toMatchObject({ code: 'GPU_REQUIRED' });
  });

  it('runs GpuHash on a software adapter only when explicitly allowed; otherwise on the CPU, labelled cpu', async () => {
    const bytes = pseudoRandomBytes(50_000, 42);
    const want = execFileSync('b3sum', ['--no-names'], { input: Buffer.from(bytes), encoding: 'utf8' }).trim();
    let gpuCalls = 0;
    const software = {
      hardware: false,
      ready: true,
      hashBytes: async (d: Uint8Array) => (gpuCalls++, toHex(cpuHasher.hash(d))),
    };
    const job = (extra: Partial<SliceJob> = {}): SliceJob => ({
      slice_id: 'sw',
      workload: 'gpuhash',
      source: { kind: 'bytes', data: bytes.slice() },
      ...extra,
    });
    expect(await runner(1, { gpu: software }).run(job())).toMatchObject({ backend: 'cpu', proof_hash: want });
    expect(gpuCalls).toBe(0);
    const allowed = runner(1, { gpu: software, allowSoftwareAdapter: true });
    expect(await allowed.run(job())).toMatchObject({ backend: 'gpu', proof_hash: want });
    expect(await allowed.run(job({ slice_id: 'sw-req', gpu_required: true }))).toMatchObject({
      backend: 'gpu',
      proof_hash: want,
    });
    expect(gpuCalls).toBe(2);
  });

  it('never answers in-memory bytes from cache: new bytes under an old id are refused, the same bytes re-proven', async () => {
    const r = runner(1);
    const first = await r.run({
      slice_id: 'm',
      workload: 'transcode',
      source: { kind: 'bytes', data: new Uint8Array(64).fill(1) },
    });
    expect(
      (
        await r.run({
          slice_id: 'm',
          workload: 'transcode',
          source: { kind: 'bytes', data: new Uint8Array(64).fill(1) },
        })
      ).proof_hash,
    ).toBe(first.proof_hash);
    await expect(
      r.run({ slice_id: 'm', workload: 'transcode', source: { kind: 'bytes', data: new Uint8Array(64).fill(2) } }),
    ).rejects.toThrow(/already used for different content/);
  });

  it('refuses a job whose bytes an earlier run already handed to a worker, instead of hashing zero bytes', async () => {
    const r = runner(1);
    const job: SliceJob = {
      slice_id: 'once',
      workload: 'transcode',
      source: { kind: 'bytes', data: new Uint8Array(4096).fill(7) },
    };
    await r.run(job);
    await expect(r.run({ ...job, slice_id: 'again' })).rejects.toThrow(/already handed to a worker/);
  });

  it('names the problem for a missing file, a directory and missing synthetic parameters', async () => {
    const dir = tempDir();
    const r = runner(1);
    await expect(
      r.run({ slice_id: 'm', workload: 'transcode', source: { kind: 'file', path: join(dir, 'nope.slice') } }),
    ).rejects.toThrow(/nope\.slice: no such file/);
    mkdirSync(join(dir, 'd'));
    await expect(
      r.run({ slice_id: 'd', workload: 'transcode', source: { kind: 'file', path: join(dir, 'd') } }),
    ).rejects.toThrow(/is a directory/);
    await expect(r.run({ slice_id: 's', workload: 'synthetic' })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
  });
});

describe('HashWorkerPool', () => {
  it('transfers whole buffers instead of copying them', async () => {
    const pool = new HashWorkerPool(1);
    try {
      const data = new Uint8Array(1 << 16);
      const r = await pool.hashBytes(data);
      expect(r.bytes).toBe(1 << 16);
      expect(data.byteLength).toBe(0); // detached: ownership moved to the worker
      const view = new Uint8Array(new ArrayBuffer(100), 10, 50);
      await pool.hashBytes(view);
      expect(view.byteLength).toBe(50); // a partial view is copied, the caller keeps it
    } finally {
      await pool.close();
    }
  });

  it('answers for an empty or already-transferred buffer instead of dropping the message', async () => {
    const pool = new HashWorkerPool(1);
    try {
      const d = new Uint8Array(32);
      await pool.hashBytes(d); // transfers d away
      const again = await pool.hashBytes(d);
      expect(again.bytes).toBe(0);
      expect((await pool.hashBytes(new Uint8Array(0))).bytes).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('fails queued work after close with RUNNER_CLOSED', async () => {
    const pool = new HashWorkerPool(1);
    await pool.close();
    await expect(pool.hashBytes(new Uint8Array(1))).rejects.toMatchObject({ code: 'RUNNER_CLOSED' });
  });
});
