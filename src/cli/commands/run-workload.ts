import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MATRIX_SIZE, MAX_MATRIX_SIZE } from '../../core/workloads/synthetic.js';
import { parseWorkload, type SliceJob } from '../../core/workloads/workload.js';
import { WorkloadRunner } from '../../main/services/workload-runner.js';
import { CliError, parsePositiveInt } from '../errors.js';
import type { CliIo } from '../io.js';

export const runWorkloadUsage =
  'tessera run-workload <file.slice> [--workload transcode|inference|gpuhash|synthetic] [--json]\n' +
  '       [--slice-id ID] [--gpu-required] [--gpu auto|off] [--threads N]\n' +
  '       synthetic only: [--block-hash HEX] [--worker ADDRESS] [--matrix-size N]';

/** `tessera run-workload`: runs one workload on a slice file and prints its proof. */
export async function runWorkloadCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string', short: 'w' },
      json: { type: 'boolean' },
      'slice-id': { type: 'string' },
      'gpu-required': { type: 'boolean' },
      gpu: { type: 'string' },
      threads: { type: 'string' },
      'block-hash': { type: 'string' },
      worker: { type: 'string' },
      'matrix-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(`usage: ${runWorkloadUsage}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new CliError(`run-workload takes exactly one slice file (got ${positionals.length}); usage: ${runWorkloadUsage.split('\n')[0]}`);
  const path = positionals[0] as string;
  const workload = values.workload === undefined ? 'transcode' : parseWorkloadFlag(values.workload);
  const matrixSize = parsePositiveInt(values['matrix-size'], '--matrix-size', MAX_MATRIX_SIZE) ?? DEFAULT_MATRIX_SIZE;
  const threads = parsePositiveInt(values.threads, '--threads', 256) ?? 1;
  if (workload !== 'synthetic' && (values['block-hash'] || values.worker || values['matrix-size'])) {
    throw new CliError('--block-hash, --worker and --matrix-size apply only to --workload synthetic');
  }

  const gpuMode = values.gpu ?? 'auto';
  if (gpuMode !== 'auto' && gpuMode !== 'off') throw new CliError(`--gpu must be auto or off, got "${gpuMode}"`);
  // Only GpuHash (or a job that demands a GPU) is worth starting a GPU host for.
  const gpu = gpuMode === 'auto' && (workload === 'gpuhash' || values['gpu-required']) ? await startGpu() : undefined;
  const runner = new WorkloadRunner({ threads, ...(gpu ? { gpu } : {}) });
  try {
    const sliceId = values['slice-id'] ?? basename(path);
    let job: SliceJob = { slice_id: sliceId, workload, gpu_required: values['gpu-required'] ?? false, source: { kind: 'file', path } };
    if (workload === 'synthetic') {
      // The block hash defaults to the slice file's BLAKE3, so a .slice file names a synthetic task.
      const blockHash = values['block-hash'] ?? (await runner.run({ ...job, workload: 'transcode', slice_id: `${sliceId}#block` })).proof_hash;
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

/** Starts GPU hashing on Dawn; resolves undefined (CPU only) when no adapter is available. */
async function startGpu() {
  const { GpuHashService } = await import('../../main/gpu/gpu-hash-service.js');
  const { openDawnChannel } = await import('../../main/gpu/dawn-host.js');
  const { createMetricsRegistry } = await import('../../main/metrics.js');
  const service = new GpuHashService({ openHost: () => openDawnChannel(), registry: createMetricsRegistry() });
  await service.start();
  if (service.ready) return service;
  await service.close();
  return undefined;
}

function parseWorkloadFlag(value: string) {
  try {
    return parseWorkload(value);
  } catch (err) {
    throw new CliError(`--workload: ${(err as Error).message}`);
  }
}
