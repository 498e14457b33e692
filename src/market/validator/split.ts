import { randomUUID } from 'node:crypto';
import { createSliceDigester, type SliceDigests } from '../../core/market/assignment-proof.js';
import type { JsonValue } from '../../core/market/canonical.js';
import type { Blake3Hasher, Sha256 } from '../../core/hash/hasher.js';
import { syntheticResult, syntheticSeed } from '../../core/workloads/synthetic.js';
import { payloadInputBytes } from '../services/task-service.js';
import type { JobRecord } from '../store/jobs-repo.js';
import type { SliceRecord, SlicesRepo } from '../store/slices-repo.js';
import type { TaskRecord } from '../store/tasks-repo.js';
import type { JobInput, JobWorkload } from '../store/validator-repo.js';

/**
 * The workload a task's jobs run (docs/market-api.md, "Tasks to jobs"): rendering → Transcode,
 * inference and training → Inference, synthetic → Synthetic; `gpu_required` → GpuHash.
 */
export function workloadOf(task: Pick<TaskRecord, 'challengeType' | 'gpuRequired'>): JobWorkload {
  if (task.challengeType === 'synthetic') return 'synthetic';
  if (task.gpuRequired) return 'gpuhash';
  return task.challengeType === 'rendering' ? 'transcode' : 'inference';
}

export type NewJob = Pick<JobRecord, 'jobId' | 'taskId' | 'sliceIndex' | 'lane' | 'gpuRequired' | 'offer'>;

/**
 * Splits a task into jobs: its input bytes (the canonical payload, or each uploaded slice) in
 * pieces of at most `sliceBytes`, one job each in input order; a synthetic task is one job. Each
 * job's offer is its equal share of the workers' 25% (rounded down), what a provider's ask is
 * compared with.
 */
export function splitTask(
  task: TaskRecord,
  slices: readonly SliceRecord[],
  sliceBytes: number,
): { jobs: NewJob[]; inputs: JobInput[] } {
  if (!Number.isInteger(sliceBytes) || sliceBytes < 1) throw new RangeError('sliceBytes must be a positive integer');
  const workload = workloadOf(task);
  const pieces: Omit<JobInput, 'jobId' | 'workload'>[] = [];
  if (workload === 'synthetic') {
    const p = task.payload as { matrix_size: number; iterations: number };
    pieces.push({
      source: 'synthetic',
      sliceN: null,
      byteOffset: 0,
      byteLength: 0,
      matrixSize: p.matrix_size,
      iterations: p.iterations,
    });
  } else if (task.inputKind === 'payload') {
    const total = payloadInputBytes(task.payload as JsonValue).length;
    for (let off = 0; off < total; off += sliceBytes)
      pieces.push({
        source: 'payload',
        sliceN: null,
        byteOffset: off,
        byteLength: Math.min(sliceBytes, total - off),
        matrixSize: null,
        iterations: null,
      });
  } else {
    for (const s of slices) {
      if (s.bytes === 0)
        pieces.push({ source: 'slice', sliceN: s.n, byteOffset: 0, byteLength: 0, matrixSize: null, iterations: null });
      for (let off = 0; off < s.bytes; off += sliceBytes)
        pieces.push({
          source: 'slice',
          sliceN: s.n,
          byteOffset: off,
          byteLength: Math.min(sliceBytes, s.bytes - off),
          matrixSize: null,
          iterations: null,
        });
    }
  }
  const offer = (task.reward * 2500n) / 10_000n / BigInt(pieces.length);
  const jobs: NewJob[] = [];
  const inputs: JobInput[] = [];
  pieces.forEach((p, i) => {
    const jobId = randomUUID();
    jobs.push({ jobId, taskId: task.taskId, sliceIndex: i, lane: task.lane, gpuRequired: task.gpuRequired, offer });
    inputs.push({ jobId, workload, ...p });
  });
  return { jobs, inputs };
}

/** A job's input bytes are not in the store: the job cannot be sent or re-executed (its task is failed). */
export class JobInputMissingError extends Error {
  constructor(
    readonly taskId: string,
    message: string,
  ) {
    super(message);
    this.name = 'JobInputMissingError';
  }
}

/**
 * Reads a job's input bytes: a range of the canonical payload or of an uploaded slice, from the
 * store through `slices` (so inside the caller's transaction). Throws JobInputMissingError when a
 * slice's bytes are not there.
 */
export async function readJobBytes(
  input: JobInput,
  task: Pick<TaskRecord, 'taskId' | 'payload'>,
  slices: Pick<SlicesRepo, 'read'>,
): Promise<Uint8Array> {
  if (input.source === 'synthetic') return new Uint8Array(0);
  if (input.source === 'payload')
    return payloadInputBytes(task.payload).subarray(input.byteOffset, input.byteOffset + input.byteLength);
  const bytes = await slices.read(task.taskId, input.sliceN as number, input.byteOffset, input.byteLength);
  if (!bytes)
    throw new JobInputMissingError(
      task.taskId,
      `the bytes of slice ${input.sliceN} of task ${task.taskId} (${input.byteLength} from byte ${input.byteOffset}) are not in the market store; upload the input again in a new task`,
    );
  return bytes;
}

/** The bytes a job's digests cover: its input bytes, or for Synthetic the result matrix (4·N² bytes). */
export function jobOutputBytes(
  input: JobInput,
  inputBytes: Uint8Array,
  synthetic: { blockHash: string; workerAddress: string } | null,
  sha256: Sha256,
): Uint8Array {
  if (input.workload !== 'synthetic') return inputBytes;
  if (!synthetic || input.matrixSize === null) throw new Error(`synthetic job ${input.jobId} has no parameters`);
  return syntheticResult(
    syntheticSeed(
      { block_hash: synthetic.blockHash, worker_address: synthetic.workerAddress, matrix_size: input.matrixSize },
      sha256,
    ),
    input.matrixSize,
  );
}

/** Re-executes a job as the validator: both digests of its output under the assignment key, in one pass. */
export function expectedDigests(output: Uint8Array, assignmentKey: Uint8Array, blake3: Blake3Hasher): SliceDigests {
  const d = createSliceDigester(assignmentKey, blake3);
  const CHUNK = 1 << 16;
  for (let off = 0; off < output.length; off += CHUNK) d.update(output.subarray(off, off + CHUNK));
  return d.digest();
}
