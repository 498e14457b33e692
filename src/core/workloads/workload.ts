import { TesseraError } from '../errors.js';
/** The workloads a provider can run on a job slice. */
export const WORKLOADS = ['transcode', 'inference', 'gpuhash', 'synthetic'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** Where a proof was computed. */
export type ProofBackend = 'cpu' | 'gpu';

/** Parses a user-supplied workload name (case-insensitive); throws a one-line error otherwise. */
export function parseWorkload(name: string): Workload {
  const w = name.trim().toLowerCase();
  if ((WORKLOADS as readonly string[]).includes(w)) return w as Workload;
  throw new WorkloadError('UNKNOWN_WORKLOAD', `unknown workload "${name}" (expected one of: ${WORKLOADS.join(', ')})`);
}

/** Parameters of the Synthetic workload (see synthetic.ts for the exact algorithm). */
export interface SyntheticParams {
  /** 32-byte block hash, hex. */
  block_hash: string;
  /** The provider's address; mixed into the seed so each worker computes its own matrix. */
  worker_address: string;
  /** Matrix dimension N (N×N); default 1024. */
  matrix_size: number;
}

/** Where a slice's bytes come from. */
export type SliceSource = { kind: 'file'; path: string } | { kind: 'bytes'; data: Uint8Array };

/** A unit of work handed to the runner. */
export interface SliceJob {
  slice_id: string;
  workload: Workload;
  /** When true the job may only run on a hardware GPU; a CPU-only runner refuses it. */
  gpu_required?: boolean;
  /** Slice bytes (Transcode, Inference, GpuHash). Synthetic jobs carry `synthetic` instead. */
  source?: SliceSource;
  synthetic?: SyntheticParams;
}

/** The proof a runner returns for one slice, included in the signed result sent to the market. */
export interface SliceProof {
  slice_id: string;
  workload: Workload;
  /** Hex digest: BLAKE3 of the slice bytes, or SHA-256 of the Synthetic result matrix. */
  proof_hash: string;
  /** Input bytes processed (Synthetic: bytes of the result matrix). */
  bytes: number;
  backend: ProofBackend;
  duration_ms: number;
}

/** Stable error codes for workload failures, shown to users and sent to the market. */
export type WorkloadErrorCode =
  'UNKNOWN_WORKLOAD' | 'GPU_REQUIRED' | 'SLICE_ID_REUSED' | 'BAD_SLICE' | 'BAD_PARAMS' | 'RUNNER_CLOSED';

/** A workload failure with a stable code and a one-line message. */
export class WorkloadError extends TesseraError {
  constructor(
    override readonly code: WorkloadErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'WorkloadError';
  }
}
