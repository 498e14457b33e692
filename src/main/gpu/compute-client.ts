import type { GpuAdapterInfo } from '../../core/workloads/gpu-adapter.js';
import { ComputeReplySchema, type ComputeRequest } from '../../shared/compute/protocol.js';

/**
 * A transport to one GPU compute host: the Dawn worker thread or the hidden compute window's
 * MessagePort. The Electron adapter lives in src/main/electron/gpu-window.ts.
 */
export interface ComputeChannel {
  /** Sends a request; buffers in `transfer` are handed over (copied where the transport cannot transfer). */
  post(message: ComputeRequest, transfer: ArrayBuffer[]): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the host goes away (worker exit, renderer gone, channel closed). */
  onClose(listener: (reason: string) => void): void;
  /** Shuts the host down. */
  close(): Promise<void>;
}

/** Why a GPU host could not give an answer. */
export type GpuHostErrorCode =
  'DEVICE_LOST' | 'KERNEL_ERROR' | 'NOT_READY' | 'BAD_REQUEST' | 'HOST_GONE' | 'BAD_REPLY' | 'TIMEOUT';

export class GpuHostError extends Error {
  override readonly name = 'GpuHostError';
  constructor(
    readonly code: GpuHostErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The outcome of `init`: a ready device, or the host's reason for having none. */
export type ComputeInit = { ok: true; adapter: GpuAdapterInfo; segmentBytes: number } | { ok: false; message: string };

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/**
 * The main process's side of the compute protocol: sends requests, validates every reply,
 * matches answers to requests, and fails everything outstanding when the host goes away.
 */
/** The digests of one `hashBoth` request, as hex. */
export interface DualDigestHex {
  /** Plain BLAKE3. */
  digest: string;
  /** Keyed BLAKE3 under the request's key. */
  keyed: string;
}

type HashReply = { digest: string; keyed?: string | undefined };

export class ComputeClient {
  private readonly pending = new Map<number, Waiter<HashReply>>();
  private initWaiter: Waiter<ComputeInit> | undefined;
  private readonly lostListeners: ((reason: string) => void)[] = [];
  private nextId = 1;
  private gone: string | undefined;
  private closing = false;

  constructor(private readonly channel: ComputeChannel) {
    channel.onMessage((m) => this.receive(m));
    channel.onClose((reason) => {
      if (this.closing) return;
      this.fail(new GpuHostError('HOST_GONE', `the GPU compute host stopped: ${reason}`));
      for (const l of this.lostListeners) l(`host stopped: ${reason}`);
    });
  }

  /** Acquires an adapter and device on the host and compiles the kernel. */
  init(maxSegmentBytes?: number): Promise<ComputeInit> {
    if (this.gone) return Promise.reject(new GpuHostError('HOST_GONE', this.gone));
    this.initWaiter?.reject(new GpuHostError('NOT_READY', 'superseded by a newer init'));
    return new Promise((resolve, reject) => {
      this.initWaiter = { resolve, reject };
      this.channel.post(maxSegmentBytes === undefined ? { type: 'init' } : { type: 'init', maxSegmentBytes }, []);
    });
  }

  /** BLAKE3 of `data` as hex. The caller keeps `data`: the host gets a copy. */
  async hash(data: Uint8Array): Promise<string> {
    return (await this.request(data, undefined)).digest;
  }

  /**
   * Plain BLAKE3 and keyed BLAKE3 under the 32-byte `key` of `data`, as hex, from one upload
   * and one pass of the kernel. The caller keeps `data`: the host gets a copy.
   */
  async hashBoth(data: Uint8Array, key: Uint8Array): Promise<DualDigestHex> {
    if (key.length !== 32) throw new GpuHostError('BAD_REQUEST', `a BLAKE3 key is 32 bytes, got ${key.length}`);
    const reply = await this.request(data, new Uint8Array(key));
    if (reply.keyed === undefined)
      throw new GpuHostError('BAD_REPLY', 'the GPU compute host answered a keyed request without the keyed digest');
    return { digest: reply.digest, keyed: reply.keyed };
  }

  private request(data: Uint8Array, key: Uint8Array<ArrayBuffer> | undefined): Promise<HashReply> {
    if (this.gone) return Promise.reject(new GpuHostError('HOST_GONE', this.gone));
    const id = this.nextId++;
    // A real copy (Buffer#slice would be a view sharing, and then detaching, the caller's memory).
    const copy = new Uint8Array(data);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.channel.post(key ? { type: 'hash', id, data: copy, key } : { type: 'hash', id, data: copy }, [copy.buffer]);
    });
  }

  /** Asks the host to release its device (it then reports the loss). */
  dropDevice(): void {
    if (!this.gone) this.channel.post({ type: 'drop-device' }, []);
  }

  /** Calls `listener` when the host reports that its device was lost, or the host itself stops unasked. */
  onDidLoseDevice(listener: (reason: string) => void): void {
    this.lostListeners.push(listener);
  }

  /** Shuts the host down; outstanding requests fail with HOST_GONE. */
  async close(): Promise<void> {
    this.closing = true;
    this.fail(new GpuHostError('HOST_GONE', 'the GPU compute host was closed'));
    await this.channel.close();
  }

  private receive(raw: unknown): void {
    const parsed = ComputeReplySchema.safeParse(raw);
    if (!parsed.success) {
      this.fail(
        new GpuHostError(
          'BAD_REPLY',
          `the GPU compute host sent a malformed reply: ${parsed.error.issues[0]?.message ?? 'unknown'}`,
        ),
      );
      void this.channel.close();
      return;
    }
    const reply = parsed.data;
    switch (reply.type) {
      case 'ready':
      case 'no-adapter': {
        const w = this.initWaiter;
        this.initWaiter = undefined;
        w?.resolve(
          reply.type === 'ready'
            ? { ok: true, adapter: reply.adapter, segmentBytes: reply.segmentBytes }
            : { ok: false, message: reply.message },
        );
        return;
      }
      case 'hashed':
        this.settle(reply.id, (w) => w.resolve({ digest: reply.digest, keyed: reply.keyed }));
        return;
      case 'failed':
        if (reply.id === null) return;
        this.settle(reply.id, (w) => w.reject(new GpuHostError(reply.code, reply.message)));
        return;
      case 'lost':
        for (const l of this.lostListeners) l(`${reply.reason}: ${reply.message}`);
        return;
    }
  }

  private settle(id: number, fn: (w: Waiter<HashReply>) => void): void {
    const w = this.pending.get(id);
    if (!w) return;
    this.pending.delete(id);
    fn(w);
  }

  private fail(err: GpuHostError): void {
    this.gone ??= err.message;
    this.initWaiter?.reject(err);
    this.initWaiter = undefined;
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
  }
}
