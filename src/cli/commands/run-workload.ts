import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DEFAULT_MATRIX_SIZE, MAX_MATRIX_SIZE } from '../../core/workloads/synthetic.js';
import { parseWorkload, type SliceJob } from '../../core/workloads/workload.js';
import { WorkloadRunner } from '../../main/services/workload-runner.js';
import { defineCommand, type RawArgs } from '../command-spec.js';
import { CliError, parsePositiveInt } from '../errors.js';
import type { CliIo } from '../io.js';

/** A piped slice is held in memory, so it is bounded; a regular file of any size is streamed from disk. */
const MAX_PIPED_SLICE_BYTES = 256 << 20;

export const runWorkloadSpec = defineCommand({
  name: 'run-workload',
  summary: 'run one workload on a slice file and print its proof hash (or the whole proof with --json)',
  args: { usage: '<file.slice>', min: 1, max: 1 },
  options: {
    workload: {
      type: 'string',
      short: 'w',
      valueName: 'NAME',
      description: 'transcode (default), inference, gpuhash or synthetic',
    },
    json: { type: 'boolean', description: 'print the whole SliceProof as JSON' },
    'slice-id': { type: 'string', valueName: 'ID', description: "the proof's slice id (default: the file's name)" },
    'gpu-required': {
      type: 'boolean',
      description: 'the job must run on a hardware GPU; fail rather than use the CPU',
    },
    gpu: {
      type: 'string',
      valueName: 'MODE',
      description:
        'auto (default: a hardware GPU for gpuhash when there is one), off, or software (also a software adapter such as llvmpipe, for tests and benchmarks)',
    },
    threads: { type: 'string', valueName: 'N', description: 'CPU worker threads, 1 to 256 (default 1)' },
    'block-hash': {
      type: 'string',
      valueName: 'HEX',
      description: "synthetic only: the block hash (default: the slice file's BLAKE3)",
    },
    worker: { type: 'string', valueName: 'ADDRESS', description: 'synthetic only: the worker address (default local)' },
    'matrix-size': {
      type: 'string',
      valueName: 'N',
      description: `synthetic only: the matrix size, 1 to ${MAX_MATRIX_SIZE} (default ${DEFAULT_MATRIX_SIZE})`,
    },
  },
  notes: [
    'The slice file may be a regular file or a pipe, as with b3sum (`tessera run-workload <(cat a.slice)`, /dev/stdin); ' +
      `a pipe is read into memory, up to ${MAX_PIPED_SLICE_BYTES / (1 << 20)} MiB.`,
  ],
});

/** `tessera run-workload`: runs one workload on a slice file and prints its proof. */
export async function runWorkloadCommand(argv: string[], io: CliIo, raw?: RawArgs): Promise<number> {
  const parsed = runWorkloadSpec.parse(argv, raw);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { values, positionals } = parsed;
  if (parsed.rawPositionals[0] !== undefined) {
    throw new CliError(
      `${positionals[0]}: the file's name is not valid UTF-8; a slice id must be text, so rename the file (or pipe it: tessera run-workload /dev/stdin < FILE)`,
    );
  }
  const path = positionals[0] as string;
  const workload = values.workload === undefined ? 'transcode' : parseWorkloadFlag(values.workload);
  const matrixSize = parsePositiveInt(values['matrix-size'], '--matrix-size', MAX_MATRIX_SIZE) ?? DEFAULT_MATRIX_SIZE;
  const threads = parsePositiveInt(values.threads, '--threads', 256) ?? 1;
  if (workload !== 'synthetic' && (values['block-hash'] || values.worker || values['matrix-size'])) {
    throw new CliError('--block-hash, --worker and --matrix-size apply only to --workload synthetic');
  }

  const gpuMode = values.gpu ?? 'auto';
  if (gpuMode !== 'auto' && gpuMode !== 'off' && gpuMode !== 'software') {
    throw new CliError(
      `--gpu must be auto, off or software (software: also use a software adapter such as llvmpipe, for tests and benchmarks), got "${gpuMode}"`,
    );
  }
  const allowSoftwareAdapter = gpuMode === 'software';
  // Only GpuHash (or a job that demands a GPU) is worth starting a GPU host for.
  const gpu =
    gpuMode !== 'off' && (workload === 'gpuhash' || values['gpu-required'])
      ? await startGpu(allowSoftwareAdapter)
      : undefined;
  const runner = new WorkloadRunner({ threads, allowSoftwareAdapter, ...(gpu ? { gpu } : {}) });
  try {
    const sliceId = values['slice-id'] ?? basename(path);
    let job: SliceJob = {
      slice_id: sliceId,
      workload,
      gpu_required: values['gpu-required'] ?? false,
      source: await sliceSource(path),
    };
    if (workload === 'synthetic') {
      // The block hash defaults to the slice file's BLAKE3, so a .slice file names a synthetic task.
      const blockHash =
        values['block-hash'] ??
        (await runner.run({ ...job, workload: 'transcode', slice_id: `${sliceId}#block` })).proof_hash;
      job = {
        slice_id: sliceId,
        workload,
        gpu_required: job.gpu_required,
        synthetic: { block_hash: blockHash, worker_address: values.worker ?? 'local', matrix_size: matrixSize },
      };
    }
    const proof = await runner.run(job);
    io.stdout(values.json ? `${JSON.stringify(proof)}\n` : `${proof.proof_hash}\n`);
    return 0;
  } finally {
    await runner.close();
    await gpu?.close();
  }
}

/**
 * Starts GPU hashing on Dawn; resolves undefined (CPU only) when no adapter is available, or
 * when the only adapter is a software one and `allowSoftwareAdapter` is off.
 */
async function startGpu(allowSoftwareAdapter: boolean) {
  const { GpuHashService } = await import('../../main/gpu/gpu-hash-service.js');
  const { openDawnChannel } = await import('../../main/gpu/dawn-host.js');
  const { createMetricsRegistry } = await import('../../main/metrics.js');
  const service = new GpuHashService({ openHost: () => openDawnChannel(), registry: createMetricsRegistry() });
  await service.start();
  if (service.ready && (service.hardware || allowSoftwareAdapter)) return service;
  await service.close();
  return undefined;
}

/** A regular file is hashed from disk; a pipe (or other stream) is read once, into memory, within a bound. */
async function sliceSource(path: string): Promise<NonNullable<SliceJob['source']>> {
  const st = await stat(path).catch(() => undefined); // a missing file is reported by the runner
  if (!st || st.isFile() || st.isDirectory()) return { kind: 'file', path };
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of createReadStream(path)) {
    total += (chunk as Buffer).length;
    if (total > MAX_PIPED_SLICE_BYTES) {
      throw new CliError(
        `${path}: a piped slice may be at most ${MAX_PIPED_SLICE_BYTES / (1 << 20)} MiB; save it to a file and run that`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return { kind: 'bytes', data: new Uint8Array(Buffer.concat(chunks)) };
}

function parseWorkloadFlag(value: string) {
  try {
    return parseWorkload(value);
  } catch (err) {
    throw new CliError(`--workload: ${(err as Error).message}`);
  }
}
