import { join } from 'node:path';
import type { Clock } from '../../core/pricing/clock.js';
import { startLocalMarketThread, type LocalMarketThreadOptions } from '../../market/local-market-thread.js';
import type { AppInfo } from '../../shared/contract.js';
import { nodeSha256 } from '../hash/node-hasher.js';
import type { Logger } from '../log.js';
import { pricingBands, type RunningNode } from '../node.js';
import { DigestPool } from '../services/digest-pool.js';
import { ProviderService } from '../services/provider-service.js';
import { AppNode, type AppProvider } from './app-node.js';
import type { LogBuffer } from './log-buffer.js';
import type { SettingsStore } from './settings-store.js';

export interface HostAppNodeDeps {
  node: RunningNode;
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
 * The AppNode both hosts serve (the desktop app and `tessera headless`): providers on the
 * node's ledger, price board, digest workers and GPU host; the practice market in the data dir,
 * in a thread of its own.
 * Returns the digest pool too: the host closes it after the AppNode.
 */
export function createHostAppNode(d: HostAppNodeDeps): { app: AppNode; digester: DigestPool } {
  const { node, settings, clock, logs, logger } = d;
  const digester = new DigestPool(2);
  const app = new AppNode({
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
