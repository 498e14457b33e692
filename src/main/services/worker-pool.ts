import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WorkloadError, type WorkloadErrorCode } from '../../core/workloads/workload.js';
import type { HashRequest, HashResponse, HashResult, HashTask } from './hash-protocol.js';

interface Pending {
  req: HashRequest;
  transfer: ArrayBuffer[];
  resolve: (r: HashResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Pending;
}

/**
 * Starts a hash worker: the compiled sibling `hash-worker.js` in a build, or the TypeScript
 * source through tsx's loader when running from source (tests, `npm run tessera`).
 */
export function startHashWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./hash-worker.js', here));
  const source = new URL('./hash-worker.ts', here).href;
  const tsxRoot = dirname(createRequire(here).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); })`;
  return new Worker(boot, { eval: true });
}

/** Consecutive worker deaths without a finished task after which the pool gives up. */
const MAX_CRASH_STREAK = 3;

/** Default pool size: one worker per core. */
export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism());
}

/**
 * A fixed-size pool of hash worker threads. Tasks queue in FIFO order; a worker that dies
 * fails only its own task and is replaced. Byte buffers are transferred, not copied.
 */
export class HashWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private crashStreak = 0;
  private broken: Error | undefined;

  constructor(readonly size: number = defaultPoolSize()) {
    if (!Number.isInteger(size) || size < 1 || size > 256) throw new Error(`worker pool size must be an integer from 1 to 256, got ${size}`);
    for (let i = 0; i < size; i++) this.slots.push({ worker: this.spawn() });
  }

  /** Streams a file through BLAKE3 inside a worker. */
  hashFile(path: string): Promise<HashResult> {
    return this.submit({ op: 'hash-file', path }, []);
  }

  /**
   * Hashes bytes inside a worker. The buffer is transferred when it owns its whole
   * ArrayBuffer (the caller's view is detached afterwards); otherwise it is copied once.
   */
  hashBytes(data: Uint8Array): Promise<HashResult> {
    const owned =
      data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer
        ? data
        : data.slice();
    return this.submit({ op: 'hash-bytes', data: owned }, [owned.buffer as ArrayBuffer]);
  }

  /** Runs a Synthetic workload inside a worker. */
  synthetic(params: Extract<HashTask, { op: 'synthetic' }>['params']): Promise<HashResult> {
    return this.submit({ op: 'synthetic', params }, []);
  }

  /** Terminates all workers; queued and running tasks fail with RUNNER_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new WorkloadError('RUNNER_CLOSED', 'the workload runner was shut down');
    for (const p of this.queue.splice(0)) p.reject(err);
    await Promise.all(
      this.slots.map(async (s) => {
        s.busy?.reject(err);
        s.busy = undefined;
        await s.worker.terminate();
      }),
    );
  }

  private submit(task: HashTask, transfer: ArrayBuffer[]): Promise<HashResult> {
    if (this.closed) return Promise.reject(new WorkloadError('RUNNER_CLOSED', 'the workload runner was shut down'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ req: { ...task, id: this.nextId++ } as HashRequest, transfer, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const p = this.queue.shift() as Pending;
      slot.busy = p;
      slot.worker.ref(); // a busy worker keeps the process alive until its answer arrives
      slot.worker.postMessage(p.req, p.transfer);
    }
  }

  private spawn(): Worker {
    const worker = startHashWorker();
    worker.unref();
    worker.on('message', (res: HashResponse) => {
      const slot = this.slots.find((s) => s.worker === worker);
      const p = slot?.busy;
      if (!slot || !p || p.req.id !== res.id) return;
      slot.busy = undefined;
      this.crashStreak = 0;
      worker.unref(); // idle workers never hold the process open
      if (res.ok) p.resolve({ digest: res.digest, bytes: res.bytes, implementation: res.implementation });
      else p.reject(new WorkloadError(res.code as WorkloadErrorCode, res.message));
      this.pump();
    });
    const onDeath = (reason: string) => {
      if (this.closed) return;
      const idx = this.slots.findIndex((s) => s.worker === worker);
      if (idx < 0) return;
      const slot = this.slots[idx] as Slot;
      const err = new Error(`hash worker stopped: ${reason}`);
      slot.busy?.reject(err);
      slot.busy = undefined;
      if (++this.crashStreak >= MAX_CRASH_STREAK * this.size) {
        // Workers die on start-up (e.g. a broken install): fail fast instead of respawning forever.
        this.broken = new Error(`hash workers keep failing to start (${reason}); reinstall Tessera`);
        for (const p of this.queue.splice(0)) p.reject(this.broken);
        return;
      }
      slot.worker = this.spawn();
      this.pump();
    };
    worker.on('error', (e) => onDeath(e.message));
    worker.on('exit', (code) => onDeath(`exit code ${code}`));
    return worker;
  }
}
