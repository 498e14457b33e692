import type { Registry } from 'prom-client';
import { blake3Reference } from '../../core/hash/blake3-tree.js';
import { toHex } from '../../core/hex.js';
import { gpuCapabilities, type GpuAdapterInfo, type GpuCapabilities } from '../../core/workloads/gpu-adapter.js';
import { blake3KeyedReference } from '../../shared/compute/blake3-keyed.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { counter } from '../metrics.js';
import type { GpuHashPort } from '../services/workload-runner.js';
import { ComputeClient, GpuHostError, type ComputeChannel } from './compute-client.js';
import { errorMessage } from '../../core/errors.js';

export interface GpuHashServiceOptions {
  /** Opens a fresh compute host: the Dawn worker (headless) or the hidden compute window (desktop). */
  openHost: () => ComputeChannel;
  /** Registry for `gpu_device_lost_total`. */
  registry: Registry;
  logger?: Logger;
  /** Caps the kernel's segment size (bytes); the device limits decide otherwise. */
  maxSegmentBytes?: number;
  /** How long adapter, device and kernel set-up may take (default 60 s). */
  initTimeoutMs?: number;
  /** Fixed part of a job's time budget on the GPU (default 15 s)… */
  jobTimeoutMs?: number;
  /** …plus its size divided by this rate (default 4 MB/s, slower than any software adapter). */
  minBytesPerSecond?: number;
  /** Delay before re-initialising after a device loss or timeout; doubles per failure up to 10 minutes (default 30 s). */
  reinitDelayMs?: number;
}

type State = 'idle' | 'starting' | 'ready' | 'down' | 'unavailable' | 'closed';

const MAX_REINIT_DELAY_MS = 10 * 60_000;

/** Lengths the start-up self-check hashes against the TypeScript reference (crossing block and chunk edges). */
const SELF_CHECK_LENGTHS = [0, 1, 64, 1023, 1024, 1025, 3 * 1024 + 7];
/** Lengths the self-check also hashes in keyed mode (one chunk, a parent, an uneven tree). */
const KEYED_SELF_CHECK_LENGTHS = [0, 1025, 3 * 1024 + 7];
/** The fixed key of the keyed self-check (bytes 0…31). */
const SELF_CHECK_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);

/** A job's two digests from the GPU, as hex: plain BLAKE3 and keyed BLAKE3 under the job's key. */
export interface GpuJobDigests {
  resultHash: string;
  proof: string;
}

/**
 * GPU BLAKE3 for the workload runner. Starts a compute host, reports its adapter (a software
 * adapter is never announced as a hardware GPU, and the runner gives it no work unless
 * `allowSoftwareAdapter` is set), and self-checks the kernel against the
 * TypeScript reference before taking work. A device loss, host crash or job timeout counts
 * `gpu_device_lost_total`, fails that job (the runner then hashes it on the CPU) and
 * re-initialises the host later. A digest is only returned when the device survived the hash.
 */
export class GpuHashService implements GpuHashPort {
  private state: State = 'idle';
  private client: ComputeClient | undefined;
  private adapter: GpuAdapterInfo | null = null;
  private segment = 0;
  private starting: Promise<GpuCapabilities> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private reinitTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private readonly listeners = new Set<(caps: GpuCapabilities) => void>();
  private readonly logger: Logger;
  private readonly lostTotal;

  constructor(private readonly options: GpuHashServiceOptions) {
    this.logger = options.logger ?? silentLogger;
    this.lostTotal = counter(options.registry, {
      name: 'gpu_device_lost_total',
      help: 'GPU devices lost, hosts crashed or GPU jobs timed out (each job then ran on the CPU)',
    });
  }

  /** True only for a hardware adapter (never llvmpipe or SwiftShader). */
  get hardware(): boolean {
    return this.capabilities().hardware_gpu;
  }

  /** True while a device is ready to take work. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Bytes per kernel segment on the current device (0 before the first start). */
  get segmentBytes(): number {
    return this.segment;
  }

  /** What to show in the UI and announce to a market (no GPU is announced once its kernel failed the self-check). */
  capabilities(): GpuCapabilities {
    const caps = gpuCapabilities(this.adapter);
    return this.state === 'unavailable' ? { ...caps, hardware_gpu: false } : caps;
  }

  /** Calls `listener` whenever the adapter or readiness changes; returns an unsubscribe function. */
  onDidChangeCapabilities(listener: (caps: GpuCapabilities) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts (or restarts) the compute host; resolves with the capabilities once it is settled. */
  start(): Promise<GpuCapabilities> {
    if (this.state === 'closed' || this.state === 'ready') return Promise.resolve(this.capabilities());
    this.starting ??= this.startNow().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /**
   * BLAKE3 of `data` (hex) on the GPU. Rejects when the GPU cannot give a trusted digest
   * (not ready, device lost, timeout, kernel error); the caller then hashes on the CPU.
   * `data` is not modified or detached.
   */
  hashBytes(data: Uint8Array): Promise<string> {
    return this.enqueue(() => this.hashNow(data, 1, (c) => c.hash(data)));
  }

  /**
   * A market job's digests on the GPU in one pass over `data` (one upload, both trees in the
   * same dispatches): plain BLAKE3 (the result) and keyed BLAKE3 under the 32-byte assignment
   * `key` (the proof). Rejects as `hashBytes` does; `data` is not modified or detached.
   */
  digestBytes(data: Uint8Array, key: Uint8Array): Promise<GpuJobDigests> {
    return this.enqueue(async () => {
      const both = await this.hashNow(data, 2, (c) => c.hashBoth(data, key));
      return { resultHash: both.digest, proof: both.keyed };
    });
  }

  /**
   * BLAKE3 MB/s of this GPU over `bytes` bytes (the Join screen's quick benchmark): one plain
   * hash of a zero buffer, timed end to end. Rejects as `hashBytes` does when the GPU is not ready.
   */
  async benchmark(bytes: number): Promise<number> {
    const sample = new Uint8Array(bytes);
    const t0 = performance.now();
    await this.hashBytes(sample);
    const seconds = Math.max(1e-6, (performance.now() - t0) / 1000);
    return Math.round((bytes / 1e6 / seconds) * 10) / 10;
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Tests and shutdown: asks the host to drop its device, which then reports the loss. */
  dropDevice(): void {
    this.client?.dropDevice();
  }

  /** Stops the host and any pending re-initialisation. */
  async close(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.reinitTimer);
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }

  private async startNow(): Promise<GpuCapabilities> {
    clearTimeout(this.reinitTimer);
    const previous = this.client;
    if (previous) await this.retire(previous, 'starting');
    this.state = 'starting';
    const client = new ComputeClient(this.options.openHost());
    this.client = client;
    client.onDidLoseDevice((reason) => this.fail(client, 'device lost', reason));
    try {
      const init = await withTimeout(
        client.init(this.options.maxSegmentBytes),
        this.options.initTimeoutMs ?? 60_000,
        'GPU initialisation',
      );
      if (this.client !== client) return this.capabilities();
      if (!init.ok) {
        this.logger.info('no WebGPU adapter; GPU hashing is off and every job runs on the CPU', {
          reason: init.message,
        });
        this.adapter = null;
        await this.retire(client, 'unavailable');
        return this.capabilities();
      }
      this.adapter = init.adapter;
      this.segment = init.segmentBytes;
      await this.selfCheck(client);
      if (this.client !== client) return this.capabilities();
      this.state = 'ready';
      const caps = this.capabilities();
      this.logger.info('GPU hashing ready', {
        vendor: init.adapter.vendor,
        architecture: init.adapter.architecture,
        device: init.adapter.device,
        description: init.adapter.description,
        feature_level: init.adapter.featureLevel,
        software: caps.adapter?.software ?? false,
        segment_bytes: init.segmentBytes,
      });
      this.emit();
      return caps;
    } catch (err) {
      if (this.client !== client) return this.capabilities();
      if (err instanceof SelfCheckError) {
        this.logger.error('GPU kernel gave a wrong BLAKE3 digest in its self-check; GPU hashing is off', {
          error: err.message,
        });
        await this.retire(client, 'unavailable');
        return this.capabilities();
      }
      this.failures++;
      this.logger.warn('GPU initialisation failed; hashing on the CPU and retrying later', { error: errorText(err) });
      await this.retire(client, 'down');
      this.scheduleReinit();
      return this.capabilities();
    }
  }

  /** Hashes fixed inputs on the GPU and compares with the TypeScript reference. */
  private async selfCheck(client: ComputeClient): Promise<void> {
    const lengths = [...SELF_CHECK_LENGTHS];
    if (this.segment <= 64 << 10) lengths.push(2 * this.segment + 1025);
    for (const len of lengths) {
      const input = new Uint8Array(len);
      for (let i = 0; i < len; i++) input[i] = i % 251;
      const got = await withTimeout(client.hash(input), this.options.initTimeoutMs ?? 60_000, 'GPU self-check');
      const want = toHex(blake3Reference(input));
      if (got !== want) throw new SelfCheckError(`length ${len}: GPU ${got}, expected ${want}`);
    }
    const keyedLengths = [...KEYED_SELF_CHECK_LENGTHS];
    if (this.segment <= 64 << 10) keyedLengths.push(2 * this.segment + 1025);
    for (const len of keyedLengths) {
      const input = new Uint8Array(len);
      for (let i = 0; i < len; i++) input[i] = i % 251;
      const got = await withTimeout(
        client.hashBoth(input, SELF_CHECK_KEY),
        this.options.initTimeoutMs ?? 60_000,
        'GPU self-check',
      );
      const want = { digest: toHex(blake3Reference(input)), keyed: toHex(blake3KeyedReference(SELF_CHECK_KEY, input)) };
      if (got.keyed !== want.keyed || got.digest !== want.digest) {
        throw new SelfCheckError(
          `keyed mode, length ${len}: GPU ${got.digest}/${got.keyed}, expected ${want.digest}/${want.keyed}`,
        );
      }
    }
  }

  /** Runs one GPU request of `data` (`trees` digests computed over it) under the job time budget. */
  private async hashNow<T>(data: Uint8Array, trees: number, op: (client: ComputeClient) => Promise<T>): Promise<T> {
    const client = this.client;
    if (this.state !== 'ready' || !client) throw new GpuHostError('NOT_READY', `the GPU is not ready (${this.state})`);
    try {
      const digest = await withTimeout(op(client), this.budget(data.length * trees), 'GPU job');
      this.failures = 0;
      return digest;
    } catch (err) {
      if (err instanceof GpuHostError && (err.code === 'KERNEL_ERROR' || err.code === 'BAD_REQUEST')) {
        // The device is fine; this job is not (e.g. too large for its memory).
        this.logger.warn('GPU job failed; hashing it on the CPU', { error: err.message, bytes: data.length });
      } else {
        this.fail(
          client,
          err instanceof GpuHostError && err.code === 'TIMEOUT' ? 'timeout' : 'device lost',
          errorText(err),
        );
      }
      throw err;
    }
  }

  /** Time a job of `bytes` may take before it counts as a kernel timeout. */
  private budget(bytes: number): number {
    return (this.options.jobTimeoutMs ?? 15_000) + (bytes / (this.options.minBytesPerSecond ?? 4e6)) * 1000;
  }

  /** Retires a host after a loss or timeout (once per host) and schedules its replacement. */
  private fail(client: ComputeClient, kind: 'device lost' | 'timeout', reason: string): void {
    if (this.client !== client || this.state === 'closed') return;
    this.lostTotal.inc();
    this.failures++;
    this.logger.warn(`GPU ${kind}; hashing on the CPU until the GPU is re-initialised`, {
      reason,
      failures: this.failures,
    });
    void this.retire(client, 'down');
    this.scheduleReinit();
  }

  private async retire(client: ComputeClient, state: State): Promise<void> {
    if (this.client === client) {
      this.client = undefined;
      this.state = state;
      this.emit();
    }
    await client.close().catch(() => undefined);
  }

  private scheduleReinit(): void {
    if (this.state === 'closed') return;
    clearTimeout(this.reinitTimer);
    const delay = Math.min(
      MAX_REINIT_DELAY_MS,
      (this.options.reinitDelayMs ?? 30_000) * 2 ** Math.max(0, this.failures - 1),
    );
    this.reinitTimer = setTimeout(() => void this.start(), delay);
    this.reinitTimer.unref();
  }

  private emit(): void {
    const caps = this.capabilities();
    for (const l of this.listeners) l(caps);
  }
}

class SelfCheckError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new GpuHostError('TIMEOUT', `${what} took longer than ${Math.round(ms)} ms`)),
      ms,
    );
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function errorText(err: unknown): string {
  return errorMessage(err);
}
