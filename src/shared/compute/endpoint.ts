/// <reference types="@webgpu/types" />
import { toHex } from '../../core/hex.js';
import type { GpuAdapterInfo } from '../../core/workloads/gpu-adapter.js';
import { ComputeRequestSchema, type ComputeReply } from './protocol.js';
import { errorMessage } from '../../core/errors.js';

/** A BLAKE3 kernel compiled on a device (the compute page and the Dawn worker both pass Blake3Kernel). */
export interface HashKernel {
  readonly segmentBytes: number;
  hash(data: Uint8Array): Promise<Uint8Array>;
  /** Plain and keyed BLAKE3 of `data` in one pass. */
  hashBoth(data: Uint8Array, key: Uint8Array): Promise<{ plain: Uint8Array; keyed: Uint8Array }>;
  destroy(): void;
}

export interface ComputeEndpointOptions {
  /** Finds an adapter, or null when the host has none. */
  requestAdapter: () => Promise<GPUAdapter | null>;
  /** Compiles the kernel on a device. */
  createKernel: (device: GPUDevice, options: { maxSegmentBytes?: number }) => Promise<HashKernel>;
  /** Sends a reply to the main process. */
  post: (reply: ComputeReply) => void;
}

interface Session {
  device: GPUDevice;
  kernel: HashKernel;
  lost: boolean;
}

/**
 * The compute host's side of the protocol, shared by the hidden compute page and the Dawn
 * worker: validates each request, runs it on the current device and answers with a reply that
 * names what went wrong. A digest is only sent when the device survived the whole hash.
 */
export class ComputeEndpoint {
  private session: Session | undefined;
  private starting: Promise<void> = Promise.resolve();

  constructor(private readonly options: ComputeEndpointOptions) {}

  /** Handles one incoming message (anything: it is validated first). */
  handle(message: unknown): void {
    const parsed = ComputeRequestSchema.safeParse(message);
    if (!parsed.success) {
      const maybeId = (message as { id?: unknown } | null)?.id;
      const id = typeof maybeId === 'number' && Number.isInteger(maybeId) && maybeId >= 0 ? maybeId : null;
      this.options.post({
        type: 'failed',
        id,
        code: 'BAD_REQUEST',
        message: `malformed compute request: ${parsed.error.issues[0]?.message ?? 'unknown'}`,
      });
      return;
    }
    const req = parsed.data;
    switch (req.type) {
      case 'init':
        this.starting = this.starting.then(() => this.init(req.maxSegmentBytes));
        return;
      case 'hash':
        void this.starting.then(() => this.hash(req.id, req.data, req.key));
        return;
      case 'drop-device': {
        const session = this.session;
        if (session) {
          // Requests from now on are refused; the device's loss is reported when it lands.
          session.lost = true;
          session.device.destroy();
        }
        return;
      }
    }
  }

  private async init(maxSegmentBytes: number | undefined): Promise<void> {
    const old = this.session;
    this.session = undefined;
    if (old) {
      old.kernel.destroy();
      old.device.destroy();
    }
    try {
      const adapter = await this.options.requestAdapter();
      if (!adapter) {
        this.options.post({ type: 'no-adapter', message: 'no WebGPU adapter is available' });
        return;
      }
      const info = adapterInfo(adapter);
      const device = await adapter.requestDevice({ label: 'tessera blake3' });
      const kernel = await this.options.createKernel(device, maxSegmentBytes === undefined ? {} : { maxSegmentBytes });
      const session: Session = { device, kernel, lost: false };
      void device.lost.then((lost) => {
        session.lost = true;
        kernel.destroy();
        if (this.session !== session) return;
        this.session = undefined;
        this.options.post({ type: 'lost', reason: lost.reason, message: lost.message });
      });
      this.session = session;
      this.options.post({ type: 'ready', adapter: info, segmentBytes: kernel.segmentBytes });
    } catch (err) {
      this.options.post({
        type: 'no-adapter',
        message: `WebGPU device or kernel could not be created: ${errorText(err)}`,
      });
    }
  }

  private async hash(id: number, data: Uint8Array, key: Uint8Array | undefined): Promise<void> {
    const session = this.session;
    if (!session || session.lost) {
      this.options.post({ type: 'failed', id, code: 'NOT_READY', message: 'no GPU device is ready' });
      return;
    }
    try {
      const both = key
        ? await session.kernel.hashBoth(data, key)
        : { plain: await session.kernel.hash(data), keyed: undefined };
      // A device lost mid-hash may still have mapped a result; never report it.
      if (session.lost) throw new Error('the device was lost while hashing');
      this.options.post(
        both.keyed
          ? { type: 'hashed', id, digest: toHex(both.plain), keyed: toHex(both.keyed) }
          : { type: 'hashed', id, digest: toHex(both.plain) },
      );
    } catch (err) {
      const code = session.lost ? 'DEVICE_LOST' : 'KERNEL_ERROR';
      this.options.post({ type: 'failed', id, code, message: errorText(err) });
    }
  }
}

/** The adapter's description in the protocol's terms. */
export function adapterInfo(adapter: GPUAdapter): GpuAdapterInfo {
  const i = adapter.info;
  return {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    isFallbackAdapter: i.isFallbackAdapter === true,
    featureLevel: adapter.features.has('core-features-and-limits') ? 'core' : 'compatibility',
  };
}

function errorText(err: unknown): string {
  return errorMessage(err);
}
