import type { Worker } from 'node:worker_threads';
import { startSiblingWorker } from '../worker-entry.js';
import type { DigestRequest, DigestResponse, DigestTask } from './digest-protocol.js';

/** Both digests of one job's output, and how many bytes they covered. */
export interface JobDigests {
  resultHash: string;
  proof: string;
  bytes: number;
}

/** Computes job digests off the calling thread (provider and validator share it). */
export interface JobDigester {
  digest(task: DigestTask): Promise<JobDigests>;
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (d: JobDigests) => void; reject: (e: Error) => void }>;
}

/**
 * A small pool of digest worker threads (round robin). A worker that dies fails the jobs it held
 * and is replaced; input bytes are transferred when they own their buffer, else copied once.
 */
export class DigestPool implements JobDigester {
  private readonly slots: Slot[] = [];
  private next = 0;
  private nextId = 1;
  private closed = false;

  constructor(size = 1) {
    if (!Number.isInteger(size) || size < 1 || size > 64)
      throw new RangeError(`digest pool size must be from 1 to 64, got ${size}`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  digest(task: DigestTask): Promise<JobDigests> {
    if (this.closed) return Promise.reject(new Error('the digest pool was shut down'));
    const slot = this.slots[this.next++ % this.slots.length] as Slot;
    const id = this.nextId++;
    const data =
      task.data.byteOffset === 0 &&
      task.data.byteLength === task.data.buffer.byteLength &&
      task.data.buffer instanceof ArrayBuffer &&
      task.data.byteLength > 0
        ? task.data
        : task.data.slice();
    const req: DigestRequest = { id, data, key: task.key.slice(), synthetic: task.synthetic };
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(req, data.byteLength > 0 ? [data.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        for (const p of s.pending.values()) p.reject(new Error('the digest pool was shut down'));
        s.pending.clear();
        await s.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const slot: Slot = { worker: startSiblingWorker(import.meta.url, 'digest-worker'), pending: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (res: DigestResponse) => {
      const p = slot.pending.get(res.id);
      if (!p) return;
      slot.pending.delete(res.id);
      if (res.ok) p.resolve({ resultHash: res.resultHash, proof: res.proof, bytes: res.bytes });
      else p.reject(new Error(res.message));
    });
    slot.worker.on('error', (err) => {
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    });
    slot.worker.on('exit', () => {
      if (this.closed) return;
      for (const p of slot.pending.values()) p.reject(new Error('a digest worker stopped'));
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots[i] = this.spawn();
    });
    return slot;
  }
}
