import type { Worker } from 'node:worker_threads';
import { startSiblingWorker } from '../../main/worker-entry.js';
import type { SignatureItem, SignatureRequest, SignatureResponse } from './signature-protocol.js';

/** Largest batch one worker message carries; a bigger burst is spread over the workers. */
const MAX_BATCH = 64;

interface Waiting {
  item: SignatureItem;
  resolve: (valid: boolean) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Waiting[]>;
}

/**
 * Ed25519 verification on worker threads. Requests made in one turn of the event loop (the
 * result frames that arrived together) go out together once it ends, in batches of at most
 * MAX_BATCH, round robin over the workers. A worker that dies fails the batches it held and is
 * replaced.
 */
export class SignaturePool {
  private readonly slots: Slot[] = [];
  private queue: Waiting[] = [];
  private scheduled = false;
  private next = 0;
  private nextId = 1;
  private closed = false;
  /** Worker messages sent so far (each carries a batch). */
  messages = 0;

  constructor(size = 1) {
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new RangeError(`signature pool size must be from 1 to 64, got ${size}`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /** Whether `signatureHex` is `publicKeyHex`'s Ed25519 signature over `message`. */
  verify(publicKeyHex: string, message: Uint8Array, signatureHex: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('the signature pool was shut down'));
    return new Promise((resolve, reject) => {
      this.queue.push({ item: { publicKey: publicKeyHex, message, signature: signatureHex }, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.dispatch());
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('the signature pool was shut down');
    for (const w of this.queue.splice(0)) w.reject(err);
    await Promise.all(
      this.slots.map(async (s) => {
        for (const batch of s.pending.values()) for (const w of batch) w.reject(err);
        s.pending.clear();
        await s.worker.terminate();
      }),
    );
  }

  private dispatch(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) {
      const batch = all.slice(i, i + MAX_BATCH);
      const slot = this.slots[this.next++ % this.slots.length] as Slot;
      const id = this.nextId++;
      slot.pending.set(id, batch);
      this.messages++;
      slot.worker.postMessage({ id, items: batch.map((w) => w.item) } satisfies SignatureRequest);
    }
  }

  private spawn(): Slot {
    const slot: Slot = { worker: startSiblingWorker(import.meta.url, 'signature-worker'), pending: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (res: SignatureResponse) => {
      const batch = slot.pending.get(res.id);
      if (!batch) return;
      slot.pending.delete(res.id);
      if (res.ok) batch.forEach((w, i) => w.resolve(res.valid[i] === true));
      else for (const w of batch) w.reject(new Error(res.message));
    });
    const failAll = (err: Error) => {
      for (const batch of slot.pending.values()) for (const w of batch) w.reject(err);
      slot.pending.clear();
    };
    slot.worker.on('error', failAll);
    slot.worker.on('exit', () => {
      if (this.closed) return;
      failAll(new Error('a signature worker stopped'));
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots[i] = this.spawn();
    });
    return slot;
  }
}
