import { LANES } from '../core/pricing/lanes.js';
import { errorMessage } from '../core/errors.js';
import type { PricingBandsInfo } from '../shared/contract.js';
import type { ComputeChannel } from './gpu/compute-client.js';
import { GpuHashService } from './gpu/gpu-hash-service.js';
import { DisposableStore } from '../node/lifecycle.js';
import type { Logger } from '../node/log.js';
import { openLedger, type Ledger } from './ledger.js';
import { AdmissionService } from './services/admission-service.js';
import { SlaRepo } from './db/repos/sla-repo.js';
import { SqliteBondLedger } from './services/bond-ledger.js';
import { MetricsServer } from './services/metrics-server.js';
import { PriceBoardService } from './services/price-board-service.js';

export interface StartNodeServicesOptions {
  dataDir: string;
  logger: Logger;
  /** Opens the GPU compute host (the hidden window on the desktop, Dawn elsewhere); null: CPU only. */
  openGpuHost: (() => ComputeChannel) | null;
  /** Overrides config.toml's metrics_port (0: no endpoint); null: the config's. */
  metricsPort: number | null;
  /** How often admission re-checks its guard, deferred jobs and deadlines (default 1 s). */
  admissionTickMs?: number;
}

/** Price bands and suggested asks in the contract's shape (u64 as decimal strings). */
export function pricingBands(node: Pick<NodeServices, 'priceBoard' | 'admission'>): PricingBandsInfo {
  return {
    admission_mode: node.admission.controller.mode,
    lanes: LANES.map((lane) => {
      const b = node.priceBoard.bands(lane);
      const bid = node.admission.suggestedBid(lane);
      return {
        lane,
        count: b?.count ?? 0,
        p25: b ? b.p25.toString() : null,
        median: b ? b.median.toString() : null,
        p75: b ? b.p75.toString() : null,
        suggested_bid: bid === undefined ? null : bid.toString(),
      };
    }),
  };
}

/** The long-lived services under a provider node (src/hosts/provider-node.ts builds the node on them). */
export interface NodeServices {
  ledger: Ledger;
  gpu: GpuHashService | undefined;
  priceBoard: PriceBoardService;
  admission: AdmissionService;
  metrics: MetricsServer | undefined;
  /** Saves the price board and stops every service, then closes the ledger; every step is attempted; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the services on a data directory: ledger (with its start-up receipt check), price
 * board (loaded, saved on an interval and at close), admission with its tick, the GPU host
 * when one is given (it comes up in the background; the CPU takes every job until it is
 * ready), and /metrics on 127.0.0.1. Fails before starting anything that would write if the
 * data or config is bad.
 */
export async function startNodeServices(options: StartNodeServicesOptions): Promise<NodeServices> {
  const { logger } = options;
  const store = new DisposableStore('node services', logger);
  try {
    const ledger = store.add(await openLedger({ dataDir: options.dataDir, logger }), 'ledger');
    const priceBoard = store.add(
      await PriceBoardService.open({
        dataDir: ledger.dataDir.root,
        config: ledger.config,
        hasher: ledger.blake3,
        registry: ledger.registry,
        logger,
      }),
      'price board',
    );
    priceBoard.start();
    const admission = new AdmissionService({
      config: ledger.config,
      board: priceBoard.board,
      ledger: new SqliteBondLedger({ db: ledger.db, credits: ledger.settlement.credits }),
      deadlines: new SlaRepo(ledger.db),
      registry: ledger.registry,
      logger,
    });
    const tick = setInterval(() => admission.tick(), options.admissionTickMs ?? 1000);
    tick.unref();
    store.add(() => clearInterval(tick), 'admission tick');

    const gpu = options.openGpuHost
      ? store.add(new GpuHashService({ openHost: options.openGpuHost, registry: ledger.registry, logger }), 'GPU host')
      : undefined;
    if (gpu) {
      void gpu.start().then(
        (caps) => {
          if (gpu.ready)
            logger.info('GPU ready', {
              hardware_gpu: caps.hardware_gpu,
              adapter: caps.adapter?.description ?? caps.adapter?.device ?? null,
            });
        },
        (err: unknown) => logger.warn('GPU start-up failed; hashing on the CPU', { error: errorMessage(err) }),
      );
    }

    const port = options.metricsPort ?? ledger.config.metrics_port;
    let metrics: MetricsServer | undefined;
    if (port > 0) {
      try {
        metrics = store.add(await MetricsServer.start(ledger.registry, port), 'metrics endpoint');
        logger.info('metrics served', { url: metrics.url });
      } catch (err) {
        logger.warn('metrics endpoint not started (is the port in use?)', { port, error: errorMessage(err) });
      }
    }
    return { ledger, gpu, priceBoard, admission, metrics, close: () => store.dispose() };
  } catch (err) {
    await store.dispose().catch(() => undefined);
    throw err;
  }
}
