import { TesseraError, errorMessage } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import os from 'node:os';
import type {
  AppInfo,
  NodeInfo,
  BenchmarkInfo,
  GpuCapabilitiesInfo,
  MarketTarget,
  NodeStatusInfo,
  PricingBandsInfo,
  PricingInfo,
} from '../../shared/contract.js';
import type { Logger } from '../../node/log.js';
import type { Ledger } from '../ledger.js';
import { signerAddress } from '../../node/signing/result-signing.js';
import type { ProviderService, ProviderServiceDeps, ProviderStatus } from '../services/provider-service.js';
import { ProviderJobsRepo } from '../db/repos/provider-jobs-repo.js';
import { jobRow } from './contract-rows.js';
import { AppEvents } from './events.js';
import { LogBuffer } from './log-buffer.js';
import type { SettingsStore } from './settings-store.js';
import { parseMarketUrls } from '../../shared/market-urls.js';
import { StartupClock, startupOf, type PracticeStartProgress } from './startup.js';

/** A market the node can provide to while joined: the practice market is started (and stopped) by the host. */
export interface RunningMarket {
  url: string;
  close(): Promise<void>;
}

/** What the app node gives a provider it creates (ProviderServiceDeps takes these): its hooks and the user's ask setting. */
export type ProviderHooks = Required<Pick<ProviderServiceDeps, 'onJobProgress'>> & Pick<ProviderServiceDeps, 'ask'>;

/** The part of a provider the app drives (ProviderService satisfies it). */
export type AppProvider = Pick<ProviderService, 'start' | 'status' | 'onDidChange' | 'drain' | 'currentAsk'> &
  Partial<Pick<ProviderService, 'setAsk'>>;

export interface AppServiceDeps {
  ledger: Ledger;
  settings: SettingsStore;
  clock: Clock;
  info: AppInfo;
  logs?: LogBuffer;
  logger?: Logger;
  /** Starts the in-process practice market (the host's composition root gives one), telling each step of its start; null: this host has none. */
  startPractice: ((onProgress: (p: PracticeStartProgress) => void) => Promise<RunningMarket>) | null;
  /** Builds the provider for a market's URLs, tried in order (give `hooks` to the ProviderService): the provider node's `createProvider`. */
  createProvider: (urls: readonly string[], hooks: ProviderHooks) => AppProvider;
  gpu?: () => GpuCapabilitiesInfo;
  /** Price bands from the node's price board (node.ts `pricingBands`); absent: no bands yet. */
  pricing?: () => PricingBandsInfo;
  /** GPU MB/s over `bytes` bytes on the node's GPU host (asked only while it is a ready hardware GPU); null: no GPU host. */
  gpuBenchmark: ((bytes: number) => Promise<number>) | null;
  /** Subscribes to changes of the GPU host's capabilities (GpuHashService.onDidChangeCapabilities); returns the unsubscribe. */
  onGpuChange?: (listener: (caps: GpuCapabilitiesInfo) => void) => () => void;
  /** True in headless mode (the UI is served over HTTP, not in the desktop window). */
  headless?: boolean;
}

/** The ask setting (micro-CPC string; null: every offer) as the provider takes it. */
function askSetting(ask: string | null): bigint | undefined {
  return ask === null ? undefined : BigInt(ask);
}

const EMPTY_BANDS: PricingBandsInfo = { admission_mode: 'loose', lanes: [] };

/**
 * The app's view of one provider node: the ledger, joining and leaving a market, pause and
 * resume, status and events. The contract handlers take this and nothing else.
 */
export class AppService {
  readonly ledger: Ledger;
  readonly settings: SettingsStore;
  readonly clock: Clock;
  readonly events = new AppEvents();
  readonly logs: LogBuffer;
  readonly logger: Logger;
  private provider: AppProvider | undefined;
  /** The market joined: its target as given, its URLs (the instances, in order), the practice market when it is one. */
  private market: { target: MarketTarget; urls: string[]; practice?: RunningMarket } | undefined;
  private unsubscribe: (() => void) | undefined;
  private pauseReason: string | null = null;
  private lastError: string | null = null;
  private lastStatus: ProviderStatus | undefined;
  /** Set while the practice market being joined starts (the status's startup phase). */
  private startingPractice: PracticeStartProgress | null = null;
  private readonly startup: StartupClock;
  private readonly address: string;
  private readonly offGpu: () => void;

  constructor(private readonly deps: AppServiceDeps) {
    this.ledger = deps.ledger;
    this.settings = deps.settings;
    this.clock = deps.clock;
    this.logs = deps.logs ?? new LogBuffer(2000, () => deps.clock.now());
    this.logger = this.logs.logger('app-node', deps.logger);
    this.logs.onDidLog((line) => this.events.emit('log:line', line));
    this.address = deps.ledger.identity.present ? signerAddress(deps.ledger.identity, deps.ledger.blake3) : '';
    this.offGpu = deps.onGpuChange?.((caps) => this.events.emit('gpu:capabilities-changed', caps)) ?? (() => undefined);
    this.startup = new StartupClock(() => deps.clock.now());
  }

  info(): AppInfo {
    return this.deps.info;
  }

  /** CPU model and threads, platform, data folder, and whether this is headless mode. */
  nodeInfo(): NodeInfo {
    const cpus = os.cpus();
    return {
      cpu_model: cpus[0]?.model.trim() || 'unknown CPU',
      cpu_threads: Math.max(1, os.availableParallelism()),
      platform: process.platform,
      data_dir: this.ledger.dataDir.root,
      headless: this.deps.headless ?? false,
    };
  }

  /** The URL of the market joined now (its first instance: courier flushes go there), else the market_url setting's first. */
  marketUrl(): string | null {
    return this.marketUrls()[0] ?? null;
  }

  /** Every instance of the market joined now, in order, else of the market_url setting; empty: none. */
  marketUrls(): string[] {
    if (this.market) return [...this.market.urls];
    const setting = this.settings.get().market_url;
    return setting === null ? [] : parseMarketUrls(setting, 'market_url');
  }

  status(): NodeStatusInfo {
    const s = this.provider?.status() ?? this.lastStatus;
    const state = this.provider ? (s?.state ?? 'connecting') : 'idle';
    return {
      joined: this.market !== undefined,
      market: this.market?.target ?? null,
      state,
      paused: this.pauseReason !== null,
      pause_reason: this.pauseReason,
      address: s?.address ?? this.address,
      market_id: s?.marketId ?? null,
      jobs_done: s?.jobsDone ?? 0,
      jobs_rejected: s?.jobsRejected ?? 0,
      running: this.provider ? (s?.running ?? 0) : 0,
      credits_today: (s?.creditsToday ?? 0n).toString(),
      last_error: this.lastError,
      endpoint: this.provider && this.market?.practice === undefined ? (s?.endpoint ?? null) : null,
      startup: this.startup.stamp(
        startupOf({
          startingPractice: this.startingPractice,
          joined: this.market !== undefined,
          paused: this.pauseReason !== null,
          state,
        }),
      ),
    };
  }

  async join(target: MarketTarget): Promise<NodeStatusInfo> {
    if (this.market) throw new TesseraError('ALREADY_JOINED', 'the node has already joined a market: leave it first');
    if (this.startingPractice)
      throw new TesseraError('ALREADY_JOINED', 'the node is already joining the practice market: wait for it to start');
    let practice: RunningMarket | undefined;
    let urls: string[];
    if (target.kind === 'practice') {
      const startPractice = this.deps.startPractice;
      if (!startPractice)
        throw new TesseraError(
          'PRACTICE_UNAVAILABLE',
          'this host cannot start the practice market: join a market URL instead',
        );
      // The phase is set before the first await, so every status from now on says the market is starting.
      this.startingPractice = { step: null, progress: 0 };
      this.emitStatus();
      try {
        practice = await startPractice((p) => {
          this.startingPractice = p;
          this.emitStatus();
        });
      } catch (err) {
        this.startingPractice = null;
        this.lastError = errorMessage(err);
        this.emitStatus();
        throw err;
      }
      this.startingPractice = null;
      urls = [practice.url];
    } else {
      // Checked again here, whoever called: the same parser as `--market` and the settings.
      urls = parseMarketUrls(target.url, 'market URL');
    }
    this.market = { target, urls, ...(practice ? { practice } : {}) };
    this.lastError = null;
    this.logger.info('joined market', { market: target.kind === 'practice' ? 'practice' : urls.join(', ') });
    if (this.pauseReason === null) this.startProvider();
    this.emitStatus();
    return this.status();
  }

  async leave(): Promise<NodeStatusInfo> {
    if (!this.market) throw new TesseraError('NOT_JOINED', 'the node has not joined a market');
    const market = this.market;
    await this.stopProvider();
    this.market = undefined;
    this.lastStatus = undefined;
    await market.practice?.close();
    this.logger.info('left market', {});
    this.emitStatus();
    return this.status();
  }

  /** Stops taking jobs (jobs in flight finish) until `resume`. */
  async pause(reason = 'paused by you'): Promise<NodeStatusInfo> {
    this.pauseReason = reason;
    await this.stopProvider();
    this.logger.info('providing paused', { reason });
    this.emitStatus();
    return this.status();
  }

  async resume(): Promise<NodeStatusInfo> {
    this.pauseReason = null;
    if (this.market && !this.provider) this.startProvider();
    this.logger.info('providing resumed', {});
    this.emitStatus();
    return this.status();
  }

  gpu(): GpuCapabilitiesInfo {
    return this.deps.gpu?.() ?? { hardware_gpu: false, adapter: null };
  }

  /** The provider's own status (connection failure, last prices) while joined; undefined when not joined. */
  providerStatus(): ProviderStatus | undefined {
    return this.market ? (this.provider?.status() ?? this.lastStatus) : undefined;
  }

  /** The ask the provider announces now (micro-CPC); undefined while none runs. */
  currentAsk(): bigint | undefined {
    return this.provider?.currentAsk();
  }

  /** Gives the running provider the ask setting now (it announces it to the market at once). */
  applyAsk(): void {
    this.provider?.setAsk?.(askSetting(this.settings.get().ask));
  }

  pricing(): PricingInfo {
    const ask = this.provider?.currentAsk();
    return { ...(this.deps.pricing?.() ?? EMPTY_BANDS), ask: ask === undefined ? null : ask.toString() };
  }

  /** BLAKE3 throughput on this thread (CPU) and on the GPU host when there is one. */
  async benchmark(bytes = 8 << 20): Promise<BenchmarkInfo> {
    const sample = new Uint8Array(bytes);
    const t0 = performance.now();
    this.ledger.blake3.hash(sample);
    const seconds = Math.max(1e-6, (performance.now() - t0) / 1000);
    const gpuBenchmark = this.deps.gpuBenchmark;
    const gpu =
      gpuBenchmark && this.gpu().hardware_gpu
        ? await gpuBenchmark(bytes).catch((err: unknown) => {
            // A GPU that went down between the check and the run: no GPU figure, the CPU one still counts.
            this.logger.warn('GPU benchmark failed', { error: errorMessage(err) });
            return null;
          })
        : null;
    return { cpu_mbps: Math.round((bytes / 1e6 / seconds) * 10) / 10, gpu_mbps: gpu, bytes };
  }

  /** Leaves the market (finishing jobs in flight) and stops the practice market; the host closes the ledger. */
  async close(): Promise<void> {
    this.offGpu();
    if (this.market) await this.leave();
  }

  private startProvider(): void {
    const urls = this.market?.urls;
    if (urls === undefined) return;
    const ask = askSetting(this.settings.get().ask);
    const hooks: ProviderHooks = {
      onJobProgress: (p) => this.events.emit('job:progress', p),
      ...(ask !== undefined ? { ask } : {}),
    };
    const provider = this.deps.createProvider(urls, hooks);
    this.provider = provider;
    let credits = 0n;
    let answered = provider.status().jobsDone + provider.status().jobsRejected;
    this.unsubscribe = provider.onDidChange((s) => {
      this.lastStatus = s;
      const nowAnswered = s.jobsDone + s.jobsRejected;
      if (nowAnswered > answered) {
        const recent = new ProviderJobsRepo(this.ledger.db).recent(Math.min(100, nowAnswered - answered));
        for (const job of recent.reverse())
          if (job.status === 'accepted' || job.status === 'rejected') this.events.emit('job:finished', jobRow(job));
      }
      answered = nowAnswered;
      if (s.creditsToday !== credits) {
        credits = s.creditsToday;
        this.events.emit('earnings:changed', { credits_today: credits.toString() });
      }
      this.emitStatus();
    });
    provider.start();
  }

  private async stopProvider(): Promise<void> {
    const provider = this.provider;
    if (!provider) return;
    this.lastStatus = provider.status();
    this.provider = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    try {
      await provider.drain(10_000);
    } catch (err) {
      this.lastError = errorMessage(err);
      this.logger.error('provider did not stop cleanly', { error: this.lastError });
    }
  }

  private emitStatus(): void {
    this.events.emit('node:status', this.status());
  }
}
