import { availableParallelism } from 'node:os';
import type { Clock } from '../core/clock.js';
import type { Blake3Hasher } from '../core/hash/hasher.js';
import type { ComputeChannel } from '../main/gpu/compute-client.js';
import { startNodeServices, type NodeServices } from '../main/node-services.js';
import { ProviderService, type ProviderServiceDeps } from '../main/services/provider-service.js';
import { DigestPool } from '../node/digest/digest-pool.js';
import { nodeSha256 } from '../node/hash/node-hasher.js';
import { DisposableStore } from '../node/lifecycle.js';
import type { Logger } from '../node/log.js';

/** The CPU threads a node announces when the threads setting or flag is empty: cores − 1, at least 1. */
export function automaticThreads(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** BLAKE3 MB/s on this thread over a 4 MiB sample: what every provider of a node announces to the market. */
export function measureBlake3Mbps(blake3: Blake3Hasher, bytes = 4 << 20): number {
  const sample = new Uint8Array(bytes);
  const t0 = performance.now();
  blake3.hash(sample);
  const seconds = Math.max(1e-6, (performance.now() - t0) / 1000);
  return Math.round((bytes / 1e6 / seconds) * 10) / 10;
}

/** The provider settings, read each time a provider is built (the app's settings can change between joins). */
export interface ProviderSettings {
  /** CPU threads to announce; null: `automaticThreads()`. */
  threads: number | null;
  /** Whether GpuHash jobs may run on the GPU host. */
  gpu_enabled: boolean;
}

export interface ProviderNodeOptions {
  dataDir: string;
  clock: Clock;
  logger: Logger;
  /** Opens the GPU compute host (hidden window on the desktop, Dawn in the CLI and headless); null: CPU only. */
  openGpuHost: (() => ComputeChannel) | null;
  settings: () => ProviderSettings;
  /** Overrides config.toml's metrics_port (0: no endpoint); null: the config's. */
  metricsPort: number | null;
}

/** What a host adds to a provider it builds: hooks for the UI, a fixed ask, its own logger. */
export type ProviderExtras = Partial<Pick<ProviderServiceDeps, 'ask' | 'onJobProgress' | 'logger'>>;

/** A running provider node: its services, its measured figures and the one way to build its providers. */
export interface ProviderNode {
  services: NodeServices;
  /** BLAKE3 MB/s measured once at start; every provider of this node announces it. */
  mbps: number;
  /** The CPU threads announced now: the setting, else `automaticThreads()`. */
  threads(): number;
  /** A provider for `market` (its URLs, tried in order) on this node's ledger, price board, digest pool and GPU host (not started). */
  createProvider(market: string | readonly string[], extras?: ProviderExtras): ProviderService;
  /** GPU BLAKE3 MB/s over `bytes` on the GPU host; null without one. */
  gpuBenchmark: ((bytes: number) => Promise<number>) | null;
  /** Stops the digest pool and the services and closes the ledger (every step attempted); safe to call twice. Drain providers first. */
  close(): Promise<void>;
}

/**
 * The one builder of a provider node, used by `tessera provide`, `tessera practice`, headless
 * mode and the desktop app: node services (ledger, price board, admission, GPU host, metrics),
 * a digest pool, BLAKE3 throughput measured once, and `createProvider`, so every host
 * announces the same threads, MB/s and GPU on the same machine.
 */
export async function startProviderNode(o: ProviderNodeOptions): Promise<ProviderNode> {
  const store = new DisposableStore('provider node', o.logger);
  try {
    const services = store.add(
      await startNodeServices({
        dataDir: o.dataDir,
        logger: o.logger,
        openGpuHost: o.openGpuHost,
        metricsPort: o.metricsPort,
      }),
      'node services',
    );
    const threads = () => o.settings().threads ?? automaticThreads();
    const mbps = measureBlake3Mbps(services.ledger.blake3);
    const digester = store.add(new DigestPool(Math.min(threads(), 4)), 'digest pool');
    const { ledger, gpu } = services;
    o.logger.info('provider node started', { threads: threads(), mbps, gpu_host: gpu !== undefined });
    return {
      services,
      mbps,
      threads,
      createProvider: (market, extras = {}) =>
        new ProviderService({
          logger: o.logger,
          ...extras,
          market,
          db: ledger.db,
          settlement: ledger.settlement,
          signer: ledger.identity,
          blake3: ledger.blake3,
          sha256: nodeSha256,
          clock: o.clock,
          threads: threads(),
          mbps,
          priceBoard: services.priceBoard,
          digester,
          ...(gpu && o.settings().gpu_enabled ? { gpuDigester: gpu } : {}),
        }),
      gpuBenchmark: gpu ? (bytes) => gpu.benchmark(bytes) : null,
      close: () => store.dispose(),
    };
  } catch (err) {
    await store.dispose().catch(() => undefined);
    throw err;
  }
}
