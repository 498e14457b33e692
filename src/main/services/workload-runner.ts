import { stat } from 'node:fs/promises';
import { TesseraError, errorMessage } from '../../core/errors.js';
import {
  buildCalibration,
  CALIBRATION_SIZES,
  chooseHashBackend,
  GPU_MIN_SPEEDUP,
  gpuUsable,
  type CalibrationSample,
  type GpuAvailability,
  type GpuCalibration,
} from '../../core/workloads/gpu-dispatch.js';
import type { SliceIdentity } from '../../core/workloads/proof-cache.js';
import { ProofCache } from '../../core/workloads/proof-cache.js';
import { validateSyntheticParams } from '../../core/workloads/synthetic.js';
import { WorkloadError, type ProofBackend, type SliceJob, type SliceProof } from '../../core/workloads/workload.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { readRegularFile } from './bounded-read.js';
import { describeFsError } from './fs-errors.js';
import type { HashResult } from './hash-protocol.js';
import { HashWorkerPool } from './worker-pool.js';

/** A GPU BLAKE3 host (hidden renderer or Dawn, see src/main/gpu); absent until a GPU host is attached. */
export interface GpuHashPort {
  /** True only for a hardware adapter; software adapters (llvmpipe, SwiftShader) say false. */
  readonly hardware: boolean;
  /** False while no device can take work (starting, lost, re-initialising); absent means always ready. */
  readonly ready?: boolean;
  /**
   * BLAKE3 of `data` as hex. Rejects when the GPU cannot give a trusted digest (device lost,
   * timeout, kernel error); the runner then hashes the slice on the CPU. Must not detach `data`.
   */
  hashBytes(data: Uint8Array): Promise<string>;
}

/** Options of the start-up GPU calibration. */
export interface GpuCalibrationOptions {
  /** Slice sizes to measure (default 64 KiB, 1 MiB, 8 MiB). */
  sizes?: readonly number[];
  /** Speed-up over the CPU pool the GPU must show at a size (default 1.2). */
  minSpeedup?: number;
  /** Timed repetitions per size and backend, after one warm-up (default 3). */
  repetitions?: number;
}

/** Largest slice file read into memory for the GPU; bigger files stream through the CPU pool. */
const MAX_GPU_FILE_BYTES = 1 << 30;

export interface WorkloadRunnerOptions {
  /** Worker threads in the CPU pool (default: one per core). */
  threads?: number;
  /** Upper bound on the memory the proof cache may use, in bytes (default 1 MiB ≈ 4,000 proofs). */
  cacheBytes?: number;
  gpu?: GpuHashPort;
  /**
   * Tests and benchmarks only: let a software adapter (llvmpipe, SwiftShader) take GPU work —
   * GpuHash, `gpu_required` jobs and calibration — with proofs labelled `gpu`. Without it a
   * software adapter takes no work: GpuHash runs on the CPU (labelled `cpu`) and
   * `gpu_required` jobs are refused.
   */
  allowSoftwareAdapter?: boolean;
  now?: () => number;
  logger?: Logger;
}

/**
 * Runs workloads on job slices and returns proofs. Dispatches on the workload: BLAKE3 of the
 * slice bytes (GpuHash on the GPU when a hardware one is ready — a software adapter only with
 * `allowSoftwareAdapter`; Transcode and Inference on the GPU only at
 * sizes where the start-up calibration measured it ≥ 1.2× the CPU pool; else the CPU pool,
 * with identical output) or the Synthetic matrix product. A GPU failure falls back to the CPU
 * for that job. Proofs are cached per slice id.
 */
export class WorkloadRunner {
  private readonly pool: HashWorkerPool;
  private readonly cache: ProofCache;
  private readonly now: () => number;
  private readonly logger: Logger;
  private calibration: GpuCalibration | undefined;

  constructor(private readonly options: WorkloadRunnerOptions = {}) {
    this.pool = new HashWorkerPool(options.threads);
    this.cache = new ProofCache(options.cacheBytes ?? 1 << 20);
    this.now = options.now ?? (() => performance.now());
    this.logger = options.logger ?? silentLogger;
  }

  /** The start-up GPU calibration, once `calibrateGpu` has run. */
  get gpuCalibration(): GpuCalibration | undefined {
    return this.calibration;
  }

  /**
   * Start-up calibration: measures GPU and CPU-pool BLAKE3 throughput over a small size sweep
   * and decides at which sizes Transcode/Inference use the GPU (only where it is ≥ `minSpeedup`×
   * the pool, which hashes `threads` slices at once). Without a ready GPU, or with a software
   * adapter that was not explicitly allowed, nothing is measured and nothing moves to it.
   */
  async calibrateGpu(options: GpuCalibrationOptions = {}): Promise<GpuCalibration> {
    const gpu = this.options.gpu;
    const minSpeedup = options.minSpeedup ?? GPU_MIN_SPEEDUP;
    const reps = options.repetitions ?? 3;
    const samples: CalibrationSample[] = [];
    for (const bytes of options.sizes ?? CALIBRATION_SIZES) {
      const data = calibrationBytes(bytes);
      let gpuBytesPerSecond = 0;
      if (gpu && gpuUsable(this.gpuAvailability())) {
        try {
          gpuBytesPerSecond = await this.throughput(reps, bytes, () => gpu.hashBytes(data));
        } catch (err) {
          this.logger.warn('GPU calibration failed; Transcode/Inference stay on the CPU at this size', {
            bytes,
            error: String(err),
          });
        }
      }
      // The pool hashes one slice per worker at once and takes ownership of each buffer, as
      // it does for real jobs; the copies are made before the clock starts.
      const batch = this.pool.size;
      const copies = Array.from({ length: (reps + 1) * batch }, () => data.slice());
      const cpuBytesPerSecond =
        (await this.throughput(reps, bytes, () =>
          Promise.all(copies.splice(0, batch).map((c) => this.pool.hashBytes(c))),
        )) * batch;
      samples.push({ bytes, gpuBytesPerSecond, cpuBytesPerSecond });
    }
    this.calibration = buildCalibration(samples, minSpeedup);
    this.logger.info('GPU calibration', {
      points: this.calibration.points.map((p) => ({
        bytes: p.bytes,
        speedup: Math.round(p.speedup * 100) / 100,
        gpu: p.gpu,
      })),
    });
    return this.calibration;
  }

  /** Number of CPU worker threads. */
  get threads(): number {
    return this.pool.size;
  }

  /**
   * Runs one slice job and returns its proof. A file or Synthetic slice proven before is
   * answered from cache; in-memory bytes are always hashed (their content cannot be checked
   * more cheaply than by hashing), and a reused slice id whose bytes changed is refused.
   * In-memory bytes are handed to a worker thread (transferred): the caller must not reuse them.
   */
  async run(job: SliceJob): Promise<SliceProof> {
    if (job.slice_id.length === 0) throw new WorkloadError('BAD_PARAMS', 'slice_id must not be empty');
    if (job.gpu_required) {
      const gpu = this.options.gpu;
      if (!gpu || !(gpu.hardware || this.options.allowSoftwareAdapter === true)) {
        throw new WorkloadError(
          'GPU_REQUIRED',
          `job ${job.slice_id} requires a hardware GPU and this node has none (a software adapter such as llvmpipe does not count); it was not run on the CPU`,
        );
      }
      if (gpu.ready === false)
        throw new WorkloadError(
          'GPU_REQUIRED',
          `job ${job.slice_id} requires the GPU, which is not ready yet; try again shortly`,
        );
      if (job.workload === 'synthetic')
        throw new WorkloadError(
          'GPU_REQUIRED',
          `job ${job.slice_id}: the Synthetic workload has no GPU implementation, so it cannot honour gpu_required`,
        );
    }
    const identity = await this.identify(job);
    const hit = this.cache.get(job.slice_id, identity);
    if (hit && job.source?.kind !== 'bytes') return hit;

    const started = this.now();
    const { result, backend } = await this.execute(job, identity.length);
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
    if (hit && hit.proof_hash !== proof.proof_hash) {
      throw new WorkloadError(
        'SLICE_ID_REUSED',
        `slice id "${job.slice_id}" was already used for different content; use a new slice id`,
      );
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
      return {
        workload: job.workload,
        length: p.matrix_size,
        fingerprint: `${p.block_hash.toLowerCase()}:${p.worker_address}`,
      };
    }
    const src = job.source;
    if (!src) throw new WorkloadError('BAD_SLICE', `${job.workload} job ${job.slice_id} has no slice bytes`);
    if (src.kind === 'bytes') {
      if (isDetached(src.data)) {
        throw new WorkloadError(
          'BAD_SLICE',
          `the bytes of job ${job.slice_id} were already handed to a worker by an earlier run; pass the slice bytes again`,
        );
      }
      return { workload: job.workload, length: src.data.length, fingerprint: '' };
    }
    try {
      const st = await stat(src.path, { bigint: true });
      if (st.isDirectory()) throw new WorkloadError('BAD_SLICE', `${src.path} is a directory, not a slice file`);
      return { workload: job.workload, length: Number(st.size), fingerprint: `${st.dev}:${st.ino}:${st.mtimeNs}` };
    } catch (err) {
      if (err instanceof WorkloadError) throw err;
      throw new WorkloadError('BAD_SLICE', describeFsError(err, src.path));
    }
  }

  private async execute(job: SliceJob, size: number): Promise<{ result: HashResult; backend: ProofBackend }> {
    if (job.workload === 'synthetic') {
      return { result: await this.pool.synthetic(job.synthetic as NonNullable<SliceJob['synthetic']>), backend: 'cpu' };
    }
    const src = job.source as NonNullable<SliceJob['source']>;
    const gpu = this.options.gpu;
    const useGpu =
      gpu &&
      (job.gpu_required || chooseHashBackend(job.workload, size, this.gpuAvailability(), this.calibration) === 'gpu');
    if (job.gpu_required && size > MAX_GPU_FILE_BYTES) {
      throw new WorkloadError(
        'GPU_REQUIRED',
        `job ${job.slice_id} requires the GPU but its ${size}-byte slice is over the ${MAX_GPU_FILE_BYTES}-byte GPU limit`,
      );
    }
    // A slice that is not a regular file (a pipe named on the command line) streams through the CPU pool.
    const data =
      gpu && useGpu && size <= MAX_GPU_FILE_BYTES
        ? src.kind === 'bytes'
          ? src.data
          : await readSlice(src.path)
        : undefined;
    if (gpu && useGpu && !data && job.gpu_required) {
      throw new WorkloadError(
        'GPU_REQUIRED',
        `job ${job.slice_id} requires the GPU, which takes only a regular slice file, not a pipe or device; it was not run on the CPU`,
      );
    }
    if (gpu && data) {
      try {
        return {
          result: { digest: await gpu.hashBytes(data), bytes: data.length, implementation: 'webgpu' },
          backend: 'gpu',
        };
      } catch (err) {
        if (job.gpu_required) {
          throw new WorkloadError(
            'GPU_REQUIRED',
            `the GPU failed on job ${job.slice_id} (${String(err)}); it requires the GPU, so it was not run on the CPU — retry later`,
          );
        }
        this.logger.warn('GPU hash failed; hashing the slice on the CPU', {
          slice_id: job.slice_id,
          error: String(err),
        });
        // The GPU host never detaches `data`, so the CPU hashes exactly the bytes the GPU was given.
        return { result: await this.pool.hashBytes(data), backend: 'cpu' };
      }
    }
    const result = src.kind === 'file' ? await this.pool.hashFile(src.path) : await this.pool.hashBytes(src.data);
    return { result, backend: 'cpu' };
  }

  /** The attached GPU as dispatch sees it (undefined without one). */
  private gpuAvailability(): GpuAvailability | undefined {
    const gpu = this.options.gpu;
    if (!gpu) return undefined;
    return {
      ready: gpu.ready !== false,
      hardware: gpu.hardware,
      allowSoftware: this.options.allowSoftwareAdapter === true,
    };
  }

  /**
   * Bytes per second of `op` at its fastest of `reps` timed runs after one warm-up: a run the
   * machine interrupted (another process scheduled in, a collection) does not count against the
   * side it fell on, so a busy moment at start-up does not decide where slices run.
   */
  private async throughput(reps: number, bytes: number, op: () => Promise<unknown>): Promise<number> {
    await op();
    let fastest = Infinity;
    for (let i = 0; i < Math.max(1, reps); i++) {
      const started = this.now();
      await op();
      fastest = Math.min(fastest, this.now() - started);
    }
    return bytes / Math.max(1e-6, fastest / 1000);
  }
}

/** Deterministic calibration input (content does not affect BLAKE3's speed). */
function calibrationBytes(len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

/**
 * Reads a slice file whole for the GPU, bounded by the GPU limit (a file that grew past it is
 * refused). Undefined when it is not a regular file: a pipe is hashed as a stream on the CPU.
 */
async function readSlice(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readRegularFile(path, MAX_GPU_FILE_BYTES, 'slice on the GPU');
  } catch (err) {
    if (err instanceof TesseraError && err.code === 'FILE_NOT_REGULAR') return undefined;
    throw new WorkloadError('BAD_SLICE', errorMessage(err));
  }
}

/** True when a buffer was transferred away (reading it would silently see zero bytes). */
function isDetached(data: Uint8Array): boolean {
  try {
    new Uint8Array(data.buffer);
    return false;
  } catch {
    return true;
  }
}
