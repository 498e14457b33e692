import { join, resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { PracticeProgress, PracticeStartStep } from '../market/local-market.js';
import { startLocalMarketThread, type LocalMarketThreadOptions } from '../market/local-market-thread.js';
import type { AppInfo, ContractHandlers } from '../shared/contract.js';
import { AppService, type RunningMarket } from '../main/api/app-service.js';
import type { PracticeStartProgress } from '../main/api/startup.js';
import { createAppHandlers } from '../main/api/index.js';
import { logFinishedJobs } from '../main/api/job-log.js';
import type { LogBuffer } from '../main/api/log-buffer.js';
import type { SettingsStore } from '../main/api/settings-store.js';
import type { ComputeChannel } from '../main/gpu/compute-client.js';
import { pricingBands } from '../main/node-services.js';
import { ProvidePolicyController, type ProvidePolicyControllerDeps } from '../main/services/provide-policy.js';
import { DisposableStore } from '../node/lifecycle.js';
import type { Logger } from '../node/log.js';
import { startProviderNode, type ProviderNode } from './provider-node.js';

/** The practice market's start steps as the UI says them. */
const PRACTICE_STEP_WORDS: Record<PracticeStartStep, string> = {
  unpacking: "Setting up the practice market's store",
  initdb: "Creating the practice market's store (first start: a few seconds)",
  opening: "Opening the practice market's store",
  migrating: "Preparing the practice market's tables",
  starting: "Starting the practice market's server",
};

export interface AppHostOptions {
  dataDir: string;
  settings: SettingsStore;
  clock: Clock;
  logger: Logger;
  logs: LogBuffer;
  info: AppInfo;
  /** True in headless mode (the UI hides desktop-only settings). */
  headless: boolean;
  /** The GPU compute host: the hidden window on the desktop, Dawn in headless mode; null: CPU only. */
  openGpuHost: (() => ComputeChannel) | null;
  /** Overrides config.toml's metrics_port (0: no endpoint); null: the config's. */
  metricsPort: number | null;
  /** Options of the in-process practice market ({} for its defaults; tests shorten its intervals). */
  practiceMarket: Partial<LocalMarketThreadOptions>;
  /**
   * Start the practice market at once, beside the node's own start, because the host will join
   * it (`tessera headless` with no market configured): the first practice join takes it over.
   * Default false: it starts when joined.
   */
  prestartPractice?: boolean;
  /** What the provide policy observes (idle time, battery; headless mode has neither), how often it ticks, and the local hour. */
  policy: Pick<ProvidePolicyControllerDeps, 'observe' | 'localHour'> & { intervalMs: number };
}

/** What both app hosts run: the provider node, the AppService over it, its contract handlers and the provide policy. */
export interface AppHost {
  node: ProviderNode;
  app: AppService;
  handlers: ContractHandlers;
  policy: ProvidePolicyController;
  /** Stops the policy, leaves the market (jobs in flight finish or are reported), stops the practice market, then the node; safe to call twice. */
  close(): Promise<void>;
}

/**
 * The composition both app hosts share (the desktop app and `tessera headless`): the provider
 * node from the one builder (so the app announces what `tessera provide` does), the AppService
 * with the node's providers, GPU and price board, the practice market in a thread of its own
 * under the data dir, and the provide policy, ticked once before this returns.
 */
export async function startAppHost(o: AppHostOptions): Promise<AppHost> {
  const { settings, clock, logger, logs } = o;
  const store = new DisposableStore('app host', logger);
  const startPractice = (onProgress: (p: PracticeStartProgress) => void) =>
    startLocalMarketThread(
      { dataDir: join(resolve(o.dataDir), 'practice-market'), ...o.practiceMarket },
      logger,
      undefined,
      (p: PracticeProgress) => onProgress({ step: PRACTICE_STEP_WORDS[p.step], progress: p.progress }),
    );
  // Its thread starts now and the node's start runs beside it; closed here if no join takes it over.
  const early = o.prestartPractice ? startEarly(startPractice) : null;
  if (early) store.add(() => early.discard(), 'practice market started early');
  try {
    const node = store.add(
      await startProviderNode({
        dataDir: o.dataDir,
        clock,
        // Through the log buffer, so the Logs screen shows the node's GPU and start-up lines.
        logger: logs.logger('node', logger),
        openGpuHost: o.openGpuHost,
        metricsPort: o.metricsPort,
        settings: () => settings.get(),
      }),
      'provider node',
    );
    const gpu = node.services.gpu;
    const app = store.add(
      new AppService({
        ledger: node.services.ledger,
        settings,
        clock,
        logs,
        info: o.info,
        logger,
        // In its own thread: the embedded store's start-up never blocks the UI's socket or the provider.
        startPractice: (onProgress) => early?.take(onProgress) ?? startPractice(onProgress),
        createProvider: (urls, hooks) =>
          node.createProvider(urls, { ...hooks, logger: logs.logger('provider', logger) }),
        gpu: () => gpu?.capabilities() ?? { hardware_gpu: false, adapter: null },
        ...(gpu ? { onGpuChange: (listener) => gpu.onDidChangeCapabilities(listener) } : {}),
        gpuBenchmark: node.gpuBenchmark,
        pricing: () => pricingBands(node.services),
        headless: o.headless,
      }),
      'app service',
    );
    const handlers = createAppHandlers(app);
    // One line per finished job in the Logs screen (the buffer only: the host's own log stays quiet).
    store.add(logFinishedJobs(app.events, logs.logger('jobs')), 'job log');
    // Provide only when idle / on mains power / inside the schedule, as the settings say.
    const policy = new ProvidePolicyController({
      target: app,
      settings: () => settings.get(),
      observe: o.policy.observe,
      clock,
      ...(o.policy.localHour ? { localHour: o.policy.localHour } : {}),
      logger,
    });
    store.add(() => policy.stop(), 'provide policy');
    // A changed schedule or a timed pause ("pause for 1 hour") applies at once, not at the next tick.
    const setSettings = handlers['settings:set'];
    handlers['settings:set'] = async (patch) => {
      const next = await setSettings(patch);
      await policy.tick().catch((err: unknown) => logger.error('provide policy tick failed', { error: String(err) }));
      return next;
    };
    await policy.tick();
    policy.start(o.policy.intervalMs);
    return { node, app, handlers, policy, close: () => store.dispose() };
  } catch (err) {
    await store.dispose().catch(() => undefined);
    throw err;
  }
}

/** A practice market started before anyone joined it: the first join takes it over (and hears its progress so far). */
function startEarly(start: (onProgress: (p: PracticeStartProgress) => void) => Promise<RunningMarket>): {
  take(onProgress: (p: PracticeStartProgress) => void): Promise<RunningMarket> | undefined;
  discard(): Promise<void>;
} {
  let listener: ((p: PracticeStartProgress) => void) | null = null;
  let last: PracticeStartProgress | null = null;
  let taken = false;
  const started = start((p) => {
    last = p;
    listener?.(p);
  });
  // A failure to start is the join's to report (it awaits this promise); until then it is held.
  started.catch(() => undefined);
  return {
    take(onProgress) {
      if (taken) return undefined;
      taken = true;
      listener = onProgress;
      if (last) onProgress(last);
      return started;
    },
    async discard() {
      if (taken) return;
      taken = true;
      const market = await started.catch(() => null);
      await market?.close();
    },
  };
}
