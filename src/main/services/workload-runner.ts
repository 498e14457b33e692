import { stat } from 'node:fs/promises';
import type { SliceIdentity } from '../../core/workloads/proof-cache.js';
import { ProofCache } from '../../core/workloads/proof-cache.js';
import { validateSyntheticParams } from '../../core/workloads/synthetic.js';
import { WorkloadError, type ProofBackend, type SliceJob, type SliceProof } from '../../core/workloads/workload.js';
import { describeFsError } from './fs-errors.js';
import type { HashResult } from './hash-protocol.js';
import { HashWorkerPool } from './worker-pool.js';

/** A GPU BLAKE3 host (hidden renderer or Dawn); absent until a GPU host is attached. */
export interface GpuHashPort {
  /** True only for a hardware adapter; software adapters (llvmpipe, SwiftShader) say false. */
  readonly hardware: boolean;
  hashBytes(data: Uint8Array): Promise<string>;
}

export interface WorkloadRunnerOptions {
  /** Worker threads in the CPU pool (default: one per core). */
  threads?: number;
  /** Upper bound on the memory the proof cache may use, in bytes (default 1 MiB ≈ 4,000 proofs). */
  cacheBytes?: number;
  gpu?: GpuHashPort;
  now?: () => number;
}

/**
 * Runs workloads on job slices and returns proofs. Dispatches on the workload: BLAKE3 of the
 * slice bytes (Transcode, Inference, GpuHash — GPU when attached, else the CPU pool with
 * identical output) or the Synthetic matrix product. Proofs are cached per slice id.
 */
export class WorkloadRunner {
  private readonly pool: HashWorkerPool;
  private readonly cache: ProofCache;
  private readonly now: () => number;

  constructor(private readonly options: WorkloadRunnerOptions = {}) {
    this.pool = new HashWorkerPool(options.threads);
    this.cache = new ProofCache(options.cacheBytes ?? 1 << 20);
    this.now = options.now ?? (() => performance.now());
  }

  /** Number of CPU worker threads. */
  get threads(): number {
    return this.pool.size;
  }

  /** Runs one slice job and returns its proof (from cache when the same slice was proven before). */
  async run(job: SliceJob): Promise<SliceProof> {
    if (job.slice_id.length === 0) throw new WorkloadError('BAD_PARAMS', 'slice_id must not be empty');
    if (job.gpu_required && !this.options.gpu?.hardware) {
      throw new WorkloadError('GPU_REQUIRED', `job ${job.slice_id} requires a hardware GPU and this node has none; it was not run on the CPU`);
    }
    const identity = await this.identify(job);
    const hit = this.cache.get(job.slice_id, identity);
    if (hit) return hit;

    const started = this.now();
    const { result, backend } = await this.execute(job);
    const proof: SliceProof = {
      slice_id: job.slice_id,
      workload: job.workload,
      proof_hash: result.digest,
      bytes: result.bytes,
      backend,
      duration_ms: Math.round((this.now() - started) * 1000) / 1000,
    };
    if (job.source?.kind === 'file' && result.bytes !== identity.length) {
      throw new WorkloadError('BAD_SLICE', `${job.source.path} changed while it was being hashed; run the job again`);
    }
    this.cache.set(job.slice_id, identity, proof);
    return proof;
  }

  /** Stops the worker threads. */
  close(): Promise<void> {
    return this.pool.close();
  }

  private async identify(job: SliceJob): Promise<SliceIdentity> {
    if (job.workload === 'synthetic') {
      const p = job.synthetic;
      if (!p) throw new WorkloadError('BAD_PARAMS', `synthetic job ${job.slice_id} has no synthetic parameters`);
      validateSyntheticParams(p);
      return { workload: job.workload, length: p.matrix_size, fingerprint: `${p.block_hash.toLowerCase()}:${p.worker_address}` };
    }
    const src = job.source;
    if (!src) throw new WorkloadError('BAD_SLICE', `${job.workload} job ${job.slice_id} has no slice bytes`);
    if (src.kind === 'bytes') return { workload: job.workload, length: src.data.length, fingerprint: '' };
    try {
      const st = await stat(src.path, { bigint: true });
      if (st.isDirectory()) throw new WorkloadError('BAD_SLICE', `${src.path} is a directory, not a slice file`);
      return { workload: job.workload, length: Number(st.size), fingerprint: `${st.dev}:${st.ino}:${st.mtimeNs}` };
    } catch (err) {
      if (err instanceof WorkloadError) throw err;
      throw new WorkloadError('BAD_SLICE', describeFsError(err, src.path));
    }
  }

  private async execute(job: SliceJob): Promise<{ result: HashResult; backend: ProofBackend }> {
    if (job.workload === 'synthetic') {
      return { result: await this.pool.synthetic(job.synthetic as NonNullable<SliceJob['synthetic']>), backend: 'cpu' };
    }
    const src = job.source as NonNullable<SliceJob['source']>;
    const gpu = this.options.gpu;
    if (job.workload === 'gpuhash' && gpu && src.kind === 'bytes') {
      const bytes = src.data.length;
      return { result: { digest: await gpu.hashBytes(src.data), bytes, implementation: 'webgpu' }, backend: 'gpu' };
    }
    const result = src.kind === 'file' ? await this.pool.hashFile(src.path) : await this.pool.hashBytes(src.data);
    return { result, backend: 'cpu' };
  }
}

