import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { WorkloadError, type WorkloadErrorCode } from '../../core/workloads/workload.js';
import { startSiblingWorker } from '../../node/worker-entry.js';
import type { HashRequest, HashResponse, HashResult, HashTask } from './hash-protocol.js';

interface Pending {
  req: HashRequest;
  /** A small in-memory slice (decided before its buffer is transferred away). */
  small: boolean;
  transfer: ArrayBuffer[];
  resolve: (r: HashResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Tasks posted to this worker and not yet answered, by request id. */
  inFlight: Map<number, Pending>;
}

/** Small in-memory slices are pipelined (several per worker) so a worker never idles on a round trip. */
const PIPELINE_DEPTH = 4;
const SMALL_TASK_BYTES = 4 << 20;

function isSmall(p: Pending): boolean {
  return p.small;
}

/** Starts a hash worker thread (hash-worker.js beside this module in a build). */
export function startHashWorker(): Worker {
  return startSiblingWorker(import.meta.url, 'hash-worker');
}

/** Consecutive worker deaths without a finished task after which the pool gives up. */
const MAX_CRASH_STREAK = 3;

/** Default pool size: one worker per core. */
export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism());
}

/**
 * A fixed-size pool of hash worker threads. Tasks queue in FIFO order; a worker that dies
 * fails only the tasks it held and is replaced. Byte buffers are transferred, not copied.
 */
export class HashWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private crashStreak = 0;
  private broken: Error | undefined;

  constructor(readonly size: number = defaultPoolSize()) {
    if (!Number.isInteger(size) || size < 1 || size > 256)
      throw new Error(`worker pool size must be an integer from 1 to 256, got ${size}`);
    for (let i = 0; i < size; i++) this.slots.push({ worker: this.spawn(), inFlight: new Map() });
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
    // A zero-length view (empty, or its buffer already transferred) is never transferred:
    // postMessage would drop a message carrying a detached buffer without a word.
    const owned =
      data.byteLength > 0 &&
      data.byteOffset === 0 &&
      data.byteLength === data.buffer.byteLength &&
      data.buffer instanceof ArrayBuffer
        ? data
        : data.byteLength === 0
          ? new Uint8Array(0)
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
        for (const p of s.inFlight.values()) p.reject(err);
        s.inFlight.clear();
        await s.worker.terminate();
      }),
    );
  }

  private submit(task: HashTask, transfer: ArrayBuffer[]): Promise<HashResult> {
    if (this.closed) return Promise.reject(new WorkloadError('RUNNER_CLOSED', 'the workload runner was shut down'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const small = task.op === 'hash-bytes' && task.data.byteLength <= SMALL_TASK_BYTES;
      this.queue.push({ req: { ...task, id: this.nextId++ } as HashRequest, small, transfer, resolve, reject });
      this.pump();
    });
  }

  /**
   * Hands queued tasks out in FIFO order to the least-loaded worker. A worker takes a second
   * task only when both are small slices (pipelining); files and Synthetic jobs go one per
   * worker so a long task never waits behind another while a worker sits idle.
   */
  private pump(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0] as Pending;
      let best: Slot | undefined;
      for (const slot of this.slots) if (!best || slot.inFlight.size < best.inFlight.size) best = slot;
      if (!best) return;
      const load = best.inFlight.size;
      const fits = load === 0 || (load < PIPELINE_DEPTH && isSmall(next) && [...best.inFlight.values()].every(isSmall));
      if (!fits) return;
      this.queue.shift();
      best.inFlight.set(next.req.id, next);
      best.worker.ref(); // a busy worker keeps the process alive until its answer arrives
      best.worker.postMessage(next.req, next.transfer);
    }
  }

  private spawn(): Worker {
    const worker = startHashWorker();
    worker.unref();
    worker.on('message', (res: HashResponse) => {
      const slot = this.slots.find((s) => s.worker === worker);
      const p = slot?.inFlight.get(res.id);
      if (!slot || !p) return;
      slot.inFlight.delete(res.id);
      this.crashStreak = 0;
      if (slot.inFlight.size === 0) worker.unref(); // idle workers never hold the process open
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
      for (const p of slot.inFlight.values()) p.reject(err);
      slot.inFlight.clear();
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
