import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { startLocalMarketThread, type LocalMarketThreadOptions } from '../market/local-market-thread.js';
import type { AppInfo } from '../shared/contract.js';
import { nodeSha256 } from '../node/hash/node-hasher.js';
import type { Logger } from '../node/log.js';
import { pricingBands, type NodeServices } from '../main/node-services.js';
import { DigestPool } from '../node/digest/digest-pool.js';
import { ProviderService } from '../main/services/provider-service.js';
import { AppService, type AppProvider } from '../main/api/app-service.js';
import type { LogBuffer } from '../main/api/log-buffer.js';
import type { SettingsStore } from '../main/api/settings-store.js';

export interface HostAppNodeDeps {
  node: NodeServices;
  settings: SettingsStore;
  clock: Clock;
  logs: LogBuffer;
  logger: Logger;
  info: AppInfo;
  /** True in headless mode (the UI hides desktop-only settings). */
  headless: boolean;
  /** Options of the in-process practice market (tests shorten its intervals). */
  practiceMarket?: Partial<LocalMarketThreadOptions>;
}

/**
 * The AppService both hosts serve (the desktop app and `tessera headless`): providers on the
 * node's ledger, price board, digest workers and GPU host; the practice market in the data dir,
 * in a thread of its own.
 * Returns the digest pool too: the host closes it after the AppService.
 */
export function createHostAppNode(d: HostAppNodeDeps): { app: AppService; digester: DigestPool } {
  const { node, settings, clock, logs, logger } = d;
  const digester = new DigestPool(2);
  const app = new AppService({
    ledger: node.ledger,
    settings,
    clock,
    logs,
    info: d.info,
    logger,
    // In its own thread: the embedded store's start-up never blocks the UI's socket or the provider.
    startPractice: () => startLocalMarketThread({ dataDir: join(node.ledger.dataDir.root, 'practice-market'), ...d.practiceMarket }, logger),
    createProvider: (url, hooks): AppProvider =>
      new ProviderService({
        ...hooks,
        market: url,
        db: node.ledger.db,
        settlement: node.ledger.settlement,
        signer: node.ledger.identity,
        blake3: node.ledger.blake3,
        sha256: nodeSha256,
        clock,
        threads: settings.get().threads ?? 1,
        priceBoard: node.priceBoard,
        digester,
        ...(node.gpu && settings.get().gpu_enabled ? { gpuDigester: node.gpu } : {}),
        logger: logs.logger('provider', logger),
      }),
    gpu: () => node.gpu?.capabilities() ?? { hardware_gpu: false, adapter: null },
    ...(node.gpu ? { onGpuChange: (listener) => node.gpu?.onDidChangeCapabilities(listener) ?? (() => undefined) } : {}),
    pricing: () => pricingBands(node),
    headless: d.headless,
  });
  return { app, digester };
}
