import { LANES } from '../core/pricing/lanes.js';
import type { PricingBandsInfo } from '../shared/contract.js';
import type { ComputeChannel } from './gpu/compute-client.js';
import { GpuHashService } from './gpu/gpu-hash-service.js';
import { silentLogger, type Logger } from '../node/log.js';
import { openLedger, type Ledger } from './ledger.js';
import { AdmissionService } from './services/admission-service.js';
import { SlaRepo } from './db/repos/sla-repo.js';
import { SqliteBondLedger } from './services/bond-ledger.js';
import { MetricsServer } from './services/metrics-server.js';
import { PriceBoardService } from './services/price-board-service.js';
import { WorkloadRunner } from './services/workload-runner.js';

export interface StartNodeServicesOptions {
  dataDir: string;
  logger?: Logger;
  /** Opens the GPU compute host (the hidden window on the desktop, Dawn when headless); none → CPU only. */
  openGpuHost?: () => ComputeChannel;
  /** CPU worker threads (default: one per core). */
  threads?: number;
  /** Overrides config.toml's metrics_port (0: no endpoint). */
  metricsPort?: number;
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

/** A running provider node: every long-lived service, wired once, shared by the desktop app and headless mode. */
export interface NodeServices {
  ledger: Ledger;
  runner: WorkloadRunner;
  gpu: GpuHashService | undefined;
  priceBoard: PriceBoardService;
  admission: AdmissionService;
  metrics: MetricsServer | undefined;
  /** Saves the price board and stops every service; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts a node on a data directory: ledger (with its start-up receipt check), price board
 * (loaded, saved on an interval and at close), admission with its tick, the workload runner
 * with GPU hashing when a host is given (calibrated after the GPU is up), and /metrics on
 * 127.0.0.1. Fails before starting anything that would write if the data or config is bad.
 */
export async function startNodeServices(options: StartNodeServicesOptions): Promise<NodeServices> {
  const logger = options.logger ?? silentLogger;
  const ledger = await openLedger({ dataDir: options.dataDir, logger });
  const cleanups: (() => unknown)[] = [() => ledger.close()];
  try {
    const priceBoard = await PriceBoardService.open({ dataDir: ledger.dataDir.root, config: ledger.config, hasher: ledger.blake3, registry: ledger.registry, logger });
    priceBoard.start();
    cleanups.unshift(() => priceBoard.close());
    const admission = new AdmissionService({ config: ledger.config, board: priceBoard.board, ledger: new SqliteBondLedger({ db: ledger.db, credits: ledger.settlement.credits }), deadlines: new SlaRepo(ledger.db), registry: ledger.registry, logger });
    const tick = setInterval(() => admission.tick(), options.admissionTickMs ?? 1000);
    tick.unref();
    cleanups.unshift(() => clearInterval(tick));

    const gpu = options.openGpuHost ? new GpuHashService({ openHost: options.openGpuHost, registry: ledger.registry, logger }) : undefined;
    const runner = new WorkloadRunner({ ...(options.threads ? { threads: options.threads } : {}), ...(gpu ? { gpu } : {}), logger });
    cleanups.unshift(() => runner.close());
    if (gpu) {
      cleanups.unshift(() => gpu.close());
      // The GPU comes up in the background; the CPU takes every job until it is ready.
      void gpu.start().then(async (caps) => {
        if (!gpu.ready) return;
        logger.info('GPU ready', { hardware_gpu: caps.hardware_gpu, adapter: caps.adapter?.description ?? caps.adapter?.device ?? null });
        await runner.calibrateGpu();
      }).catch((err: unknown) => logger.warn('GPU start-up failed; hashing on the CPU', { error: String(err) }));
    }

    const port = options.metricsPort ?? ledger.config.metrics_port;
    let metrics: MetricsServer | undefined;
    if (port > 0) {
      try {
        metrics = await MetricsServer.start(ledger.registry, port);
        cleanups.unshift(() => metrics?.close());
        logger.info('metrics served', { url: metrics.url });
      } catch (err) {
        logger.warn('metrics endpoint not started (is the port in use?)', { port, error: String(err) });
      }
    }

    let closing: Promise<void> | undefined;
    return {
      ledger,
      runner,
      gpu,
      priceBoard,
      admission,
      metrics,
      close() {
        closing ??= (async () => {
          for (const c of cleanups) await c();
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const c of cleanups) await c();
    throw err;
  }
}
