import { fstatSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { toHex } from '../../core/hex.js';
import { formatBytes } from '../../core/units.js';
import { loadBlake3 } from '../../node/hash/node-hasher.js';
import { createLogger } from '../../node/log.js';
import { describeFsError } from '../../main/services/fs-errors.js';
import { defaultPoolSize, HashWorkerPool } from '../../main/services/worker-pool.js';
import { hashFileSync } from '../../node/hash/hash-file.js';
import { hashSplit, SPLIT_MIN_BYTES } from '../../node/hash/split-file.js';
import { loadSubtreeHasher } from '../../node/hash/subtree-hasher.js';
import { WorkloadError } from '../../core/workloads/workload.js';
import { defineCommand, type RawArgs } from '../command-spec.js';
import { CliError, parsePositiveInt } from '../errors.js';
import { progress, type CliIo } from '../io.js';

const MAX_THREADS = 256;

export const hashSpec = defineCommand({
  name: 'hash',
  summary: 'print the BLAKE3 hash of files and standard input, one "<hex>  <name>" line each, exactly as b3sum does',
  args: { usage: '[FILE|-]...', min: 0, max: Infinity },
  options: {
    threads: {
      type: 'string',
      valueName: 'N',
      description: `hash on N threads, 1 to ${MAX_THREADS} (default: one per CPU core); with fewer files than threads, each file of 16 MiB or more is split across all N, as b3sum does`,
    },
  },
  notes: [
    'Each FILE may be a regular file or a pipe, as with b3sum: `tessera hash <(gzip -dc a.gz)` or /dev/stdin work. ' +
      '"-", or no FILE at all, reads standard input. A name containing a backslash or a newline is escaped as b3sum escapes it; ' +
      'a name whose bytes are not UTF-8 is opened by its bytes and printed with U+FFFD, as b3sum prints it.',
  ],
});

/** `tessera hash`: BLAKE3 of files (in parallel on worker threads) and/or stdin, b3sum-compatible output. */
export async function hashCommand(argv: string[], io: CliIo, raw?: RawArgs): Promise<number> {
  const parsed = hashSpec.parse(argv, raw);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { values, positionals, rawPositionals } = parsed;
  const threads = parsePositiveInt(values.threads, '--threads', MAX_THREADS);
  const inputs = positionals.length > 0 ? positionals : ['-'];
  if (inputs.filter((p) => p === '-').length > 1) throw new CliError('stdin ("-") can be given only once');
  if (inputs.includes('-') && fstatSync(0).isDirectory()) throw new CliError('-: standard input is a directory');

  // Names are printed as given (b3sum prints U+FFFD for bytes that are not UTF-8 too); a
  // name that is not UTF-8 is opened by its bytes.
  const files = inputs.flatMap((name, i) => (name === '-' ? [] : [{ name, path: rawPositionals[i] ?? name }]));

  // Check every input before hashing anything, so a typo fails fast with nothing printed.
  for (const { name, path } of files) {
    const st = await stat(path).catch((err: unknown) => {
      throw new CliError(undecodable(err, name, path) ?? describeFsError(err, name));
    });
    if (st.isDirectory()) throw new CliError(`${name} is a directory (tessera hash takes files)`);
  }

  const requested = threads ?? defaultPoolSize();
  // Fewer files than threads, one of them large: split each large file across all threads
  // along BLAKE3's tree, as b3sum does, one file after another (native threads, started in
  // microseconds, where a worker thread takes tens of milliseconds). Otherwise each thread
  // takes whole files.
  const subtree =
    requested > 1 && files.length < requested && files.some((f) => typeof f.path === 'string' && splittable(f.path))
      ? loadSubtreeHasher()
      : undefined;
  const threadCount = subtree ? 1 : Math.min(requested, Math.max(files.length, 1));
  // The calling thread hashes too, starting at once while the other threads' workers spin
  // up: N threads = this thread + N − 1 workers, all taking files from one queue.
  const pool = threadCount > 1 ? new HashWorkerPool(threadCount - 1) : undefined;
  const hasher = await loadBlake3(createLogger('hash'));
  const bar = progress(io, 'hashing');
  const digests = new Map<string, Promise<string>>();
  // Workers get names as strings; a name held as bytes is hashed on this thread.
  const queue = files.flatMap((f, i) => (typeof f.path === 'string' ? [i] : []));
  const byteNamed = files.flatMap((f, i) => (typeof f.path === 'string' ? [] : [i]));
  const results: (Promise<string> | undefined)[] = [];
  let done = 0;
  let bytes = 0;
  const finished = (r: { digest: string; bytes: number }) => {
    done++;
    bytes += r.bytes;
    bar.update(`${done}/${files.length} files, ${formatBytes(bytes)}`);
    return r.digest;
  };
  const settle = (i: number, p: Promise<string>) => {
    results[i] = p;
    p.catch(() => undefined); // reported in order below
  };
  const workerLoop = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const p = (pool as HashWorkerPool).hashFile(files[i]?.path as string).then(finished);
      settle(i, p);
      await p.catch(() => undefined);
    }
  };
  const mainLoop = async () => {
    for (let i = byteNamed.shift() ?? queue.shift(); i !== undefined; i = byteNamed.shift() ?? queue.shift()) {
      let p: Promise<string>;
      try {
        p = Promise.resolve(finished(hashFileSync(hasher, files[i]?.path as string | Buffer)));
      } catch (err) {
        p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      settle(i, p);
      await new Promise((r) => setImmediate(r)); // let worker answers and progress through
    }
  };
  // Split mode: files in order, a large one on all threads, a small one on this thread.
  const splitLoop = async (split: NonNullable<typeof subtree>) => {
    for (let i = 0; i < files.length; i++) {
      const f = files[i] as { path: string | Buffer };
      let p: Promise<string>;
      try {
        if (typeof f.path === 'string' && splittable(f.path)) {
          const byteLength = statSync(f.path).size;
          const digest = toHex(
            await hashSplit({ source: f.path, byteLength, key: null, threads: requested, subtree: split }),
          );
          p = Promise.resolve(finished({ digest, bytes: byteLength }));
        } else {
          p = Promise.resolve(finished(hashFileSync(hasher, f.path)));
        }
      } catch (err) {
        p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      settle(i, p);
    }
  };
  try {
    if (inputs.includes('-')) {
      const stdin = hashStdin(io.stdin);
      stdin.catch(() => undefined); // reported in order below
      digests.set('-', stdin);
    }
    if (subtree) {
      await splitLoop(subtree);
    } else {
      // Workers first: the calling thread's first synchronous file must not delay their start.
      const loops = [...Array.from({ length: pool?.size ?? 0 }, workerLoop), mainLoop()];
      await Promise.all(loops);
    }
    let f = 0;
    for (const path of inputs) {
      const pending = path === '-' ? (digests.get('-') as Promise<string>) : (results[f++] as Promise<string>);
      const digest = await pending.catch((err: unknown) => {
        throw new CliError(err instanceof WorkloadError ? err.message : describeFsError(err, path));
      });
      io.stdout(b3sumLine(digest, path));
    }
  } finally {
    bar.done();
    await pool?.close();
  }
  return 0;
}

/** A regular file large enough that splitting it across threads pays for the threads' start. */
function splittable(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && st.size >= SPLIT_MIN_BYTES;
  } catch {
    return false; // reported when it is hashed
  }
}

/** A name that is not UTF-8 and could not be recovered as bytes cannot be opened: say that, not "no such file". */
function undecodable(err: unknown, name: string, path: string | Buffer): string | undefined {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || typeof path !== 'string' || !name.includes('\uFFFD'))
    return undefined;
  return `${name}: no such file, or its name is not valid UTF-8 and its bytes could not be read from the command line`;
}

async function hashStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const h = (await loadBlake3()).create();
  for await (const chunk of stdin) h.update(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return toHex(h.digest());
}

/**
 * One output line exactly as b3sum writes it: a name containing a backslash or a newline is
 * escaped (`\\`, `\n`) and the line starts with a backslash, so every line stays one line.
 */
export function b3sumLine(digest: string, path: string): string {
  if (!path.includes('\\') && !path.includes('\n')) return `${digest}  ${path}\n`;
  return `\\${digest}  ${path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`;
}
