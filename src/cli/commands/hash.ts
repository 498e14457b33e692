import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { toHex } from '../../core/hex.js';
import { formatBytes } from '../../core/units.js';
import { loadBlake3 } from '../../main/hash/node-hasher.js';
import { describeFsError } from '../../main/services/fs-errors.js';
import { defaultPoolSize, HashWorkerPool } from '../../main/services/worker-pool.js';
import { hashFileSync } from '../../main/hash/hash-file.js';
import { WorkloadError } from '../../core/workloads/workload.js';
import { CliError, parsePositiveInt } from '../errors.js';
import { progress, type CliIo } from '../io.js';

export const hashUsage = 'tessera hash [--threads N] <file|->...   print "<blake3 hex>  <path>" per input, like b3sum';

/** `tessera hash`: BLAKE3 of files (in parallel on worker threads) and/or stdin, b3sum-compatible output. */
export async function hashCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { threads: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(`usage: ${hashUsage}\n`);
    return 0;
  }
  const threads = parsePositiveInt(values.threads, '--threads', 256);
  const inputs = positionals.length > 0 ? positionals : ['-'];
  if (inputs.filter((p) => p === '-').length > 1) throw new CliError('stdin ("-") can be given only once');

  // Check every input before hashing anything, so a typo fails fast with nothing printed.
  for (const path of inputs) {
    if (path === '-') continue;
    const st = await stat(path).catch((err: unknown) => {
      throw new CliError(describeFsError(err, path));
    });
    if (st.isDirectory()) throw new CliError(`${path} is a directory (tessera hash takes files)`);
  }

  const files = inputs.filter((p) => p !== '-');
  if (inputs.length === 1 && files.length === 1) {
    // One file: a worker thread would only add start-up time, so hash it right here.
    const { digest } = await hashOneFile(files[0] as string);
    io.stdout(`${digest}  ${files[0]}\n`);
    return 0;
  }
  const pool = files.length > 0 ? new HashWorkerPool(Math.min(threads ?? defaultPoolSize(), files.length)) : undefined;
  const bar = progress(io, 'hashing');
  let done = 0;
  let bytes = 0;
  try {
    const pending = inputs.map((path) =>
      path === '-'
        ? hashStdin(io.stdin)
        : (pool as HashWorkerPool).hashFile(path).then((r) => {
            done++;
            bytes += r.bytes;
            bar.update(`${done}/${files.length} files, ${formatBytes(bytes)}`);
            return r.digest;
          }),
    );
    for (let i = 0; i < inputs.length; i++) {
      const digest = await (pending[i] as Promise<string>).catch((err: unknown) => {
        throw new CliError(err instanceof Error ? err.message : String(err));
      });
      io.stdout(`${digest}  ${inputs[i]}\n`);
    }
  } finally {
    bar.done();
    await pool?.close();
  }
  return 0;
}

async function hashStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const h = (await loadBlake3()).create();
  for await (const chunk of stdin) h.update(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return toHex(h.digest());
}

async function hashOneFile(path: string): Promise<{ digest: string; bytes: number }> {
  const hasher = await loadBlake3();
  try {
    return hashFileSync(hasher, path);
  } catch (err) {
    if (err instanceof WorkloadError) throw new CliError(err.message);
    throw new CliError(describeFsError(err, path));
  }
}
