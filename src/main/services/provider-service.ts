import { randomBytes } from 'node:crypto';
import type { Blake3Hasher, Sha256 } from '../../core/hash/hasher.js';
import { fromHex } from '../../core/hex.js';
import { parseReceipt } from '../../core/ledger/receipt.js';
import { createSliceDigester } from '../../core/market/assignment-proof.js';
import {
  computeResultToJson,
  DEFAULT_MAX_RESULT_AGE_MS,
  parseComputeResult,
} from '../../core/market/compute-result.js';
import type { Clock } from '../../core/clock.js';
import type { GpuCapabilities } from '../../core/workloads/gpu-adapter.js';
import { syntheticResult, syntheticSeed } from '../../core/workloads/synthetic.js';
import type {
  CapabilitiesFrame,
  JobFrame,
  MarketFrame,
  ReceiptFrame,
  WelcomeProbation,
} from '../../shared/market-protocol.js';
import type { Database } from '../db/database.js';
import { ProviderJobsRepo, type EarningsDay } from '../db/repos/provider-jobs-repo.js';
import { MarketKeyRepo } from '../db/repos/market-key-repo.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { signComputeResult, signerAddress, type ResultSigner } from '../../node/signing/result-signing.js';
import type { JobDigester } from '../../node/digest/digest-pool.js';
import { DisposableStore } from '../../node/lifecycle.js';
import {
  MarketClient,
  type BackoffOptions,
  type HostResolver,
  type MarketClientState,
  type MarketFailure,
  type MarketLivenessOptions,
  type MarketRefusal,
} from './market-client.js';
import { noFaults, type Faults } from './faults.js';
import type { PriceBoardService } from './price-board-service.js';
import type { SettlementService } from './settlement-service.js';
import { errorMessage } from '../../core/errors.js';

/** Receipts kept while waiting for a session's welcome (the market sends its undelivered ones at the join). */
const MAX_EARLY_RECEIPTS = 10_000;

/** What a provider status line and the UI show. */
export interface ProviderStatus {
  state: MarketClientState;
  address: string;
  marketId: string | null;
  /** True when connected to the embedded practice market. */
  practice: boolean;
  jobsDone: number;
  jobsRejected: number;
  running: number;
  /** micro-CPC paid today (UTC) by the market for verified jobs. */
  creditsToday: bigint;
  draining: boolean;
  lastPrices: Extract<MarketFrame, { type: 'prices' }> | null;
  /** The probation and bond the market reported at its last welcome (null: none reported). */
  probation?: WelcomeProbation | null;
  /** Why the last connection attempt ended, while not connected since (null once the market welcomed the node). */
  failure?: MarketFailure | null;
  /** The market endpoint in use or being tried ("http://m.example:8080 (10.0.0.2)"); null before the first attempt. */
  endpoint?: string | null;
}

/** Runs one job's work: both digests of its output bytes in one pass. */
export interface JobExecution {
  resultHash: string;
  proof: string;
  bytes: number;
  backend: 'cpu' | 'gpu';
}

/**
 * The node's GPU host as the provider uses it for GpuHash jobs (GpuHashService satisfies it,
 * the node's GPU host): both digests of a job's bytes in one GPU pass.
 */
export interface GpuJobDigester {
  /** True only for a hardware adapter (never llvmpipe or SwiftShader). */
  readonly hardware: boolean;
  /** True while a device can take work. */
  readonly ready: boolean;
  capabilities(): GpuCapabilities;
  onDidChangeCapabilities?(listener: (caps: GpuCapabilities) => void): () => void;
  /** Plain BLAKE3 (resultHash) and keyed BLAKE3 under `key` (proof) of `data`, hex; rejects when the GPU cannot give a trusted answer. */
  digestBytes(data: Uint8Array, key: Uint8Array): Promise<{ resultHash: string; proof: string }>;
}

export interface ProviderServiceDeps {
  /** The market's URLs, tried in this order (a string may hold several, separated by commas). */
  market: string | readonly string[];
  db: Database;
  settlement: SettlementService;
  signer: ResultSigner;
  blake3: Blake3Hasher;
  sha256: Sha256;
  clock: Clock;
  threads: number;
  /** Lowest offer taken per job, micro-CPC, set by the user (`--ask`, the app's ask setting); absent: 0, every offer is taken. */
  ask?: bigint;
  /** The node's price board: every offer the market announces (job offers, price frames) is recorded in it. */
  priceBoard?: Pick<PriceBoardService, 'record'>;
  lanes?: readonly ('consumer' | 'industrial')[];
  maxJobs?: number;
  /** Measured BLAKE3 MB/s announced to the market. */
  mbps?: number;
  gpu?: CapabilitiesFrame['gpu'];
  backoff?: BackoffOptions;
  /** Uniform in [0, 1): reconnect and failover jitter (seeded in tests). */
  random?: () => number;
  /** Resolves market host names at each connect attempt (default: every address from the system's resolver). */
  resolve?: HostResolver;
  /** When the node drops a market connection that answers nothing (default DEFAULT_MARKET_LIVENESS). */
  liveness?: Partial<MarketLivenessOptions>;
  logger?: Logger;
  /** Computes the digests off this thread (the provider node gives its DigestPool); absent: in-process. */
  digester?: JobDigester;
  /** Told when a job starts (done 0) and when its result is ready (done = total); total is the job's input bytes (at least 1). */
  onJobProgress?: (p: { job_id: string; done: number; total: number }) => void;
  /**
   * The node's GPU host: GpuHash jobs run on it (backend 'gpu') and its adapter is announced
   * (a software one with `software: true`, which the market never sends gpu_required work).
   */
  gpuDigester?: GpuJobDigester;
  /** Tests and benchmarks only: let a software adapter (llvmpipe) run GpuHash jobs, labelled 'gpu'. */
  allowSoftwareAdapter?: boolean;
  /**
   * Test-only capabilities override: announce the GPU adapter to the market as hardware even
   * when it is a software one, so an end-to-end test without a GPU gets gpu_required jobs.
   * Never set outside tests.
   */
  testOnlyAnnounceGpuAsHardware?: boolean;
  /** Test hook: runs instead of the real work (a cheater in the end-to-end tests). */
  execute?: (job: JobFrame, bytes: Uint8Array, address: string) => JobExecution | Promise<JobExecution>;
  /** Fault injection between the statements of recording a receipt (tests). */
  faults?: Faults;
  /** Test hook: sees every result before it is sent and may replace the frame. */
  tamper?: (result: ReturnType<typeof computeResultToJson>, job: JobFrame) => ReturnType<typeof computeResultToJson>;
}

/**
 * The provider node's earning loop: joins a market (MarketClient), runs each job — both digests
 * (plain BLAKE3 and keyed under the assignment key) over the job's output in one pass — signs a
 * ComputeResult, keeps a history row per job, records each receipt in the ledger through the
 * SettlementService (whose mode applies), and heartbeats. A result that could not be sent is
 * sent after the reconnect, or reported lost once too old; `drain` finishes in-flight jobs.
 */
export class ProviderService {
  readonly address: string;
  private readonly client: MarketClient;
  private readonly jobs: ProviderJobsRepo;
  private readonly logger: Logger;
  private readonly running = new Map<string, { job: JobFrame; done: Promise<void> }>();
  /** Results not sent yet (the socket was down), by job id, with the assignment epoch they were made for. */
  private readonly unsent = new Map<string, { epoch: number; text: string }>();
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatMs = 5000;
  private draining = false;
  private listeners = new Set<(s: ProviderStatus) => void>();
  private lastPrices: ProviderStatus['lastPrices'] = null;
  private probation: WelcomeProbation | null = null;
  private announcedGpu = 'null';
  /** The user's ask (micro-CPC); undefined: none, every offer is taken. Only `setAsk` changes it. */
  private userAsk: bigint | undefined;
  /** Receipts that arrived before this session's welcome: checked once the market's key is pinned. */
  private early: ReceiptFrame[] = [];
  private readonly marketKeys: MarketKeyRepo;
  /** The socket, the GPU listener and the heartbeat: released by `close`. */
  private readonly store: DisposableStore;

  constructor(private readonly deps: ProviderServiceDeps) {
    this.address = signerAddress(deps.signer, deps.blake3);
    this.jobs = new ProviderJobsRepo(deps.db);
    this.marketKeys = new MarketKeyRepo(deps.db);
    this.logger = deps.logger ?? silentLogger;
    this.store = new DisposableStore('provider', this.logger);
    this.userAsk = deps.ask;
    this.client = this.store.add(
      new MarketClient({
        url: deps.market,
        signer: deps.signer,
        capabilities: () => this.capabilities(),
        onFrame: (f) => this.onFrame(f),
        checkWelcome: (w, market) => this.pinMarketKey(w.market_key, market),
        onState: (s, detail) => {
          if (s === 'connecting') this.early = [];
          this.logger.info('market connection', { state: s, ...(detail ? { detail } : {}) });
          if (s !== 'connected') this.stopHeartbeat();
          this.emit();
        },
        ...(deps.backoff ? { backoff: deps.backoff } : {}),
        ...(deps.random ? { random: deps.random } : {}),
        ...(deps.resolve ? { resolve: deps.resolve } : {}),
        ...(deps.liveness ? { liveness: deps.liveness } : {}),
        clock: deps.clock,
        logger: this.logger,
      }),
      'market socket',
    );
    // The GPU comes up (or goes down) after the node joined: announce the change.
    const offGpu = deps.gpuDigester?.onDidChangeCapabilities?.(() => this.reannounceGpu());
    if (offGpu) this.store.add(offGpu, 'GPU listener');
    this.store.add(() => this.stopHeartbeat(), 'heartbeat');
  }

  start(): void {
    this.client.start();
  }

  /** Status now; `onDidChange` reports every change. */
  status(): ProviderStatus {
    const today = new Date(this.deps.clock.now()).toISOString().slice(0, 10);
    const day = this.jobs.earningsByDay(Date.parse(`${today}T00:00:00Z`))[0];
    const counts = this.jobs.answeredCounts();
    return {
      state: this.client.state,
      address: this.address,
      marketId: this.client.marketId ?? null,
      practice: this.client.practice,
      jobsDone: counts.accepted,
      jobsRejected: counts.rejected,
      running: this.running.size,
      creditsToday: day?.paid ?? 0n,
      draining: this.draining,
      lastPrices: this.lastPrices,
      probation: this.probation,
      failure: this.client.lastFailure,
      endpoint: this.client.endpointLabel,
    };
  }

  onDidChange(listener: (s: ProviderStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  earnings(sinceMs: number): EarningsDay[] {
    return this.jobs.earningsByDay(sinceMs);
  }

  recentJobs(limit = 50) {
    return this.jobs.recent(limit);
  }

  /** The connection to the market: its endpoints, and the events a test or a host waits on (onDidConnect, onDidChangeState). */
  get market(): Pick<MarketClient, 'endpoint' | 'listEndpoints' | 'learnedUrls' | 'onDidConnect' | 'onDidChangeState'> {
    return this.client;
  }

  /** Drops the socket as a network failure would (tests); the node reconnects. */
  dropConnection(): void {
    this.client.dropConnection();
  }

  /** Stops taking jobs, finishes (and reports) the ones in flight within `timeoutMs`, reports the rest lost, and closes. */
  async drain(timeoutMs = 30_000): Promise<void> {
    this.draining = true;
    this.emit();
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const { job } of this.running.values())
      this.reportLost(job.job_id, 'DRAINED', 'the provider stopped before the job finished');
    await new Promise((r) => setTimeout(r, 50));
    await this.close();
  }

  /** Closes the socket and stops the heartbeat and the GPU listener; safe to call twice. */
  close(): Promise<void> {
    return this.store.dispose();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private capabilities(): CapabilitiesFrame {
    const gpu = this.gpuAnnouncement();
    this.announcedGpu = JSON.stringify(gpu);
    return {
      type: 'capabilities',
      cpu_threads: this.deps.threads,
      gpu,
      mbps: this.deps.mbps ?? 0,
      lanes: [...(this.deps.lanes ?? ['consumer', 'industrial'])],
      ask: this.currentAsk().toString(),
      max_jobs: this.deps.maxJobs ?? Math.max(1, this.deps.threads),
    };
  }

  /**
   * The GPU as announced: the GPU host's adapter while it is ready, with `software` true unless
   * it is a hardware GPU (or the test-only override says to call it one); none while not ready.
   */
  private gpuAnnouncement(): CapabilitiesFrame['gpu'] {
    const g = this.deps.gpuDigester;
    if (!g) return this.deps.gpu ?? null;
    const adapter = g.capabilities().adapter;
    if (!g.ready || !adapter) return null;
    const name = adapter.device || adapter.description || adapter.architecture || 'WebGPU adapter';
    return {
      name: name.slice(0, 200),
      vendor: adapter.vendor.slice(0, 200),
      software: !(g.hardware || this.deps.testOnlyAnnounceGpuAsHardware === true),
    };
  }

  /** Sends the capabilities again when the GPU announcement changed (the market re-reads them). */
  private reannounceGpu(): void {
    if (JSON.stringify(this.gpuAnnouncement()) === this.announcedGpu) return;
    if (this.client.state === 'connected') this.client.send(this.capabilities());
  }

  /** True when GpuHash jobs may run on the GPU host now. */
  private gpuUsable(): boolean {
    const g = this.deps.gpuDigester;
    return g !== undefined && g.ready && (g.hardware || this.deps.allowSoftwareAdapter === true);
  }

  /**
   * The ask announced now: the user's (`--ask`, the app's ask setting), else 0 — every offer
   * is taken. The ask never rises by itself: it used to be the price board's suggested bid,
   * re-read at every reconnect, but the board only sees offers at or above the ask then in
   * force, so each reconnect raised the median it was read from. The node ended up refusing
   * every offer below the median, and tasks without a deadline waited forever with their
   * escrow held. A node with a free slot earns more from a low offer than from none; the price
   * board's suggested bid stays on show (Join, `pricing:bands`) for a user who wants a floor.
   */
  currentAsk(): bigint {
    return this.userAsk ?? 0n;
  }

  /** Changes the user's ask (undefined: take every offer) and announces it at once when connected (the market re-reads capabilities). */
  setAsk(ask: bigint | undefined): void {
    if (ask === this.userAsk) return;
    this.userAsk = ask;
    this.logger.info('ask changed', { ask: (ask ?? 0n).toString() });
    if (this.client.state === 'connected') this.client.send(this.capabilities());
  }

  private onFrame(f: Exclude<MarketFrame, { type: 'challenge' }>): void {
    try {
      switch (f.type) {
        case 'welcome':
          this.heartbeatMs = f.heartbeat_ms;
          this.probation = f.probation ?? null;
          this.startHeartbeat();
          this.reannounceGpu();
          this.resume(f.leased_jobs);
          for (const r of this.early.splice(0)) this.onReceipt(r);
          return;
        case 'job':
          this.onJob(f);
          return;
        case 'result_ack':
          if (this.unsent.get(f.job_id)?.epoch === f.epoch) this.unsent.delete(f.job_id);
          this.jobs.answered(this.marketId(), f.job_id, f.epoch, f.accepted, f.code, this.deps.clock.now());
          if (!f.accepted) this.logger.warn('result refused', { job_id: f.job_id, code: f.code, message: f.message });
          this.emit();
          return;
        case 'receipt':
          this.onReceipt(f);
          return;
        case 'prices':
          this.lastPrices = f;
          for (const l of f.lanes) if (l.queued > 0) this.deps.priceBoard?.record(l.lane, BigInt(l.offer_p50));
          this.emit();
          return;
        case 'error':
          this.logger.warn('market error', { code: f.code, message: f.message });
          return;
      }
    } catch (err) {
      this.logger.error('could not handle a market frame', { type: f.type, error: errorMessage(err) });
    }
  }

  private marketId(): string {
    return this.client.marketId ?? '';
  }

  private startHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const beat = () =>
      this.client.send({ type: 'heartbeat', sent_at: this.deps.clock.now(), in_flight: [...this.running.keys()] });
    beat();
    this.heartbeat = setInterval(beat, this.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * After a (re)connect: a result made for an assignment the market still leases to us (same job,
   * same epoch) is sent if still fresh, else that job is reported lost; a result made for an
   * earlier assignment is not sent (the market would refuse it, STALE_ASSIGNMENT); a job the market still
   * leases to us that we know nothing of is reported lost.
   */
  private resume(leased: readonly { job_id: string; epoch: number }[]): void {
    const now = this.deps.clock.now();
    const leasedEpoch = new Map(leased.map((l) => [l.job_id, l.epoch]));
    const open = this.jobs.open(this.marketId());
    for (const row of open) {
      if (this.running.get(row.jobId)?.job.epoch === row.epoch) continue;
      const current = leasedEpoch.get(row.jobId) === row.epoch;
      const unsent = this.unsent.get(row.jobId);
      const text = unsent?.epoch === row.epoch ? unsent.text : row.result;
      if (current && row.status === 'submitted' && text !== null) {
        const r = parseComputeResult(JSON.parse(text));
        if (now - r.created_at < DEFAULT_MAX_RESULT_AGE_MS - 5000) {
          this.client.send({ type: 'result', result: computeResultToJson(r), epoch: row.epoch });
          continue;
        }
      }
      if (current)
        this.reportLost(
          row.jobId,
          'LOST_AT_DISCONNECT',
          row.status === 'running'
            ? 'the node stopped before the job finished'
            : 'the result is too old to send after the reconnect',
          row.epoch,
        );
      else if (row.status === 'running' || leasedEpoch.has(row.jobId))
        this.jobs.lost(this.marketId(), row.jobId, 'LEASE_GONE', now, row.epoch);
    }
    for (const l of leased) {
      if (!this.running.has(l.job_id) && !open.some((r) => r.jobId === l.job_id && r.epoch === l.epoch))
        this.reportLost(l.job_id, 'UNKNOWN_JOB', 'this node has no record of the job (restarted)');
    }
  }

  private reportLost(jobId: string, code: string, reason: string, epoch?: number): void {
    this.jobs.lost(this.marketId(), jobId, code, this.deps.clock.now(), epoch);
    this.unsent.delete(jobId);
    this.client.send({ type: 'job_lost', job_id: jobId, reason });
    this.emit();
  }

  private onJob(job: JobFrame): void {
    if (this.draining) {
      this.client.send({ type: 'job_lost', job_id: job.job_id, reason: 'the provider is stopping' });
      return;
    }
    this.deps.priceBoard?.record(job.lane, BigInt(job.offer));
    const started = this.deps.clock.now();
    const bytes = job.slice ? new Uint8Array(Buffer.from(job.slice.data, 'base64')) : new Uint8Array(0);
    try {
      this.jobs.start({
        marketId: this.marketId(),
        taskId: job.task_id,
        jobId: job.job_id,
        epoch: job.epoch,
        workload: job.workload,
        bytes: bytes.length,
        startedAt: started,
        offer: BigInt(job.offer),
      });
    } catch (err) {
      // Not run without a record (its result could not be kept): reported lost now, so the
      // market reassigns it at once instead of holding the slot until the job's deadline.
      const message = errorMessage(err);
      this.logger.error('could not record a job; reporting it lost', { job_id: job.job_id, error: message });
      this.client.send({
        type: 'job_lost',
        job_id: job.job_id,
        reason: `the provider could not record the job: ${message}`.slice(0, 400),
      });
      this.emit();
      return;
    }
    // Read before the run: the digest worker may take the buffer (length 0 afterwards).
    const total = Math.max(1, bytes.length);
    this.deps.onJobProgress?.({ job_id: job.job_id, done: 0, total });
    const done = this.runJob(job, bytes, started)
      .then(() => this.deps.onJobProgress?.({ job_id: job.job_id, done: total, total }))
      .catch((err: unknown) => this.reportLost(job.job_id, 'RUN_FAILED', errorMessage(err).slice(0, 400)))
      .finally(() => {
        // A newer assignment of the same job may have taken the slot since.
        if (this.running.get(job.job_id)?.job === job) this.running.delete(job.job_id);
        this.emit();
      });
    this.running.set(job.job_id, { job, done });
    this.emit();
  }

  private async runJob(job: JobFrame, bytes: Uint8Array, started: number): Promise<void> {
    const t0 = performance.now();
    const exec = this.deps.execute ? await this.deps.execute(job, bytes, this.address) : await this.execute(job, bytes);
    const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    const nonce = randomBytes(8).readBigUInt64LE(0);
    const signed = signComputeResult(
      {
        market_id: this.marketId(),
        task_id: job.task_id,
        job_id: job.job_id,
        worker_address: this.address,
        result_hash: exec.resultHash,
        proof: exec.proof,
        nonce,
        created_at: this.deps.clock.now(),
      },
      { signer: this.deps.signer, blake3: this.deps.blake3 },
    );
    let json = computeResultToJson(signed);
    if (this.deps.tamper) json = this.deps.tamper(json, job);
    const text = JSON.stringify(json);
    this.jobs.finished(this.marketId(), job.job_id, job.epoch, {
      resultHash: exec.resultHash,
      proof: exec.proof,
      backend: exec.backend,
      durationMs,
      result: text,
      bytes: exec.bytes,
      at: this.deps.clock.now(),
    });
    void started;
    if (!this.client.send({ type: 'result', result: json, epoch: job.epoch, duration_ms: durationMs }))
      this.unsent.set(job.job_id, { epoch: job.epoch, text });
  }

  /** The real work: the job's output bytes (its slice, or the Synthetic result matrix) hashed plain and keyed in one pass. */
  private async execute(job: JobFrame, bytes: Uint8Array): Promise<JobExecution> {
    if (job.workload === 'synthetic' && !job.synthetic)
      throw new Error(`synthetic job ${job.job_id} has no parameters`);
    if (job.workload === 'gpuhash' || job.gpu_required) {
      const gpu = this.deps.gpuDigester;
      if (gpu && this.gpuUsable() && job.workload !== 'synthetic') {
        try {
          const d = await gpu.digestBytes(bytes, fromHex(job.assignment_key, 'assignment_key'));
          return { ...d, bytes: bytes.length, backend: 'gpu' };
        } catch (err) {
          // Reported lost (the market reassigns it) rather than run on the CPU under a GPU order.
          if (job.gpu_required)
            throw new Error(`the GPU failed on gpu_required job ${job.job_id}: ${errorMessage(err)}`);
          this.logger.warn('GPU digest failed; hashing the job on the CPU', {
            job_id: job.job_id,
            error: errorMessage(err),
          });
        }
      } else if (job.gpu_required) {
        throw new Error(
          `job ${job.job_id} requires a hardware GPU and this node has none ready (a software adapter does not count); it was not run on the CPU`,
        );
      }
    }
    if (this.deps.digester) {
      const synthetic = job.synthetic
        ? { block_hash: job.synthetic.block_hash, worker_address: this.address, matrix_size: job.synthetic.matrix_size }
        : null;
      const d = await this.deps.digester.digest({
        data: bytes,
        key: fromHex(job.assignment_key, 'assignment_key'),
        synthetic,
      });
      return { ...d, backend: 'cpu' };
    }
    let output = bytes;
    if (job.workload === 'synthetic') {
      const p = job.synthetic;
      if (!p) throw new Error(`synthetic job ${job.job_id} has no parameters`);
      output = syntheticResult(
        syntheticSeed(
          { block_hash: p.block_hash, worker_address: this.address, matrix_size: p.matrix_size },
          this.deps.sha256,
        ),
        p.matrix_size,
      );
    }
    const d = createSliceDigester(fromHex(job.assignment_key, 'assignment_key'), this.deps.blake3);
    const CHUNK = 1 << 16;
    for (let off = 0; off < output.length; off += CHUNK) d.update(output.subarray(off, off + CHUNK));
    const { resultHash, proof } = d.digest();
    return { resultHash, proof, bytes: output.length, backend: 'cpu' };
  }

  /**
   * At the welcome: pins the market's receipt key on the first join (and whether it is the
   * practice market); a different key later refuses the market (MARKET_KEY_CHANGED).
   */
  private pinMarketKey(key: string, market: { marketId: string; practice: boolean }): MarketRefusal | undefined {
    const pin = this.marketKeys.pin(market.marketId, key, market.practice, this.deps.clock.now());
    if (pin.status === 'pinned') this.logger.info('market key pinned', { market_id: market.marketId, key });
    if (pin.status !== 'changed') return undefined;
    return {
      code: 'MARKET_KEY_CHANGED',
      message: `market ${market.marketId} now signs with key ${key.slice(0, 16)}…, not the key ${pin.key.publicKey.slice(0, 16)}… this node pinned on ${new Date(pin.key.pinnedAt).toISOString().slice(0, 10)}; not joining it — if the market's key was replaced on purpose, run \`tessera market-key forget ${market.marketId}\` and start the node again`,
    };
  }

  /**
   * A receipt from the market: checked against the market's pinned key, then recorded — the
   * receipt, its ledger movement and the earnings row in ONE transaction, so a crash leaves all
   * of them or none — and only then acknowledged. A refused receipt (unsigned, badly signed,
   * unknown market) is not recorded and not acknowledged; SettlementService.verify logs and
   * counts it. One that arrives before the welcome waits for the key to be pinned.
   */
  private onReceipt(f: ReceiptFrame): void {
    if (this.client.state !== 'connected') {
      if (this.early.length < MAX_EARLY_RECEIPTS) this.early.push(f);
      return;
    }
    const receipt = parseReceipt(f.receipt, this.deps.blake3);
    if (receipt.provider !== this.address) {
      this.logger.warn('receipt for another provider ignored', { provider: receipt.provider });
      return;
    }
    const settlement = this.deps.settlement;
    if (!settlement.verify(receipt, this.marketId()).ok) return;
    const faults = this.deps.faults ?? noFaults;
    this.deps.db.transaction(() => {
      const outcome = settlement.apply(receipt);
      faults('receipt.settled');
      this.jobs.recordEarning({
        receiptKey: receipt.idempotency_key,
        marketId: this.marketId(),
        jobId: receipt.job_id,
        taskId: f.task_id,
        amount: receipt.quote_price,
        // A receipt already stored (sent again after a lost ack) is recorded as what the ledger did with it.
        settlement:
          outcome.outcome === 'duplicate'
            ? (settlement.storedSettlement(receipt.idempotency_key) ?? outcome.outcome)
            : outcome.outcome,
        at: this.deps.clock.now(),
      });
      faults('receipt.earning-recorded');
    });
    this.client.send({ type: 'receipt_ack', idempotency_key: receipt.idempotency_key });
    this.emit();
  }

  private emit(): void {
    if (this.listeners.size === 0) return;
    const s = this.status();
    for (const l of this.listeners) l(s);
  }
}
