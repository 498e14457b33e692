import { blake3Reference } from '../../../src/core/hash/blake3-tree.js';
import { toHex } from '../../../src/core/hex.js';
import type { GpuAdapterInfo } from '../../../src/core/workloads/gpu-adapter.js';
import type { ComputeChannel } from '../../../src/main/gpu/compute-client.js';
import { blake3KeyedReference } from '../../../src/shared/compute/blake3-keyed.js';
import type { ComputeReply, ComputeRequest } from '../../../src/shared/compute/protocol.js';

export const HARDWARE_ADAPTER: GpuAdapterInfo = {
  vendor: 'nvidia',
  architecture: 'ampere',
  device: '',
  description: 'NVIDIA GeForce RTX 3080',
  isFallbackAdapter: false,
  featureLevel: 'core',
};

export interface FakeHostOptions {
  adapter?: GpuAdapterInfo | null;
  /** Answer every hash with this digest instead of the right one. */
  wrongDigest?: string;
  /** Answer every keyed request with this keyed digest (the plain one stays right). */
  wrongKeyedDigest?: string;
  /** The host dies on the hash request after this many (self-check requests count). */
  crashAfterHashes?: number;
  /** Delay before each hash answer, in ms. */
  hashDelayMs?: number;
}

/** An in-process compute host speaking the protocol, for service tests that need control over failures. */
export class FakeHost implements ComputeChannel {
  hashes = 0;
  closed = false;
  private readonly messageListeners: ((m: unknown) => void)[] = [];
  private readonly closeListeners: ((reason: string) => void)[] = [];

  constructor(private readonly options: FakeHostOptions = {}) {}

  post(message: ComputeRequest): void {
    if (this.closed) return;
    if (message.type === 'init') {
      const adapter = this.options.adapter === undefined ? HARDWARE_ADAPTER : this.options.adapter;
      this.reply(
        adapter
          ? { type: 'ready', adapter, segmentBytes: 1 << 27 }
          : { type: 'no-adapter', message: 'no WebGPU adapter is available' },
      );
    } else if (message.type === 'hash') {
      this.hashes++;
      if (this.options.crashAfterHashes !== undefined && this.hashes > this.options.crashAfterHashes) {
        this.crash();
        return;
      }
      const digest = this.options.wrongDigest ?? toHex(blake3Reference(message.data));
      const keyed = message.key
        ? (this.options.wrongKeyedDigest ??
          this.options.wrongDigest ??
          toHex(blake3KeyedReference(message.key, message.data)))
        : undefined;
      this.reply(
        keyed ? { type: 'hashed', id: message.id, digest, keyed } : { type: 'hashed', id: message.id, digest },
        this.options.hashDelayMs ?? 0,
      );
    } else {
      this.reply({ type: 'lost', reason: 'destroyed', message: 'device was destroyed' });
    }
  }

  onMessage(listener: (m: unknown) => void): void {
    this.messageListeners.push(listener);
  }

  onClose(listener: (reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  /** Sends any message, as a misbehaving host would. */
  send(message: unknown): void {
    for (const l of this.messageListeners) l(message);
  }

  /** The host process dies. */
  crash(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l('exit code 1');
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private reply(message: ComputeReply, delayMs = 0): void {
    setTimeout(() => {
      if (!this.closed) this.send(message);
    }, delayMs);
  }
}
