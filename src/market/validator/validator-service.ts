import type { Blake3Hasher, Sha256 } from '../../core/hash/hasher.js';
import type { Clock } from '../../core/clock.js';
import { createLeaseMachine } from '../../core/market/lease-state.js';
import { DisposableStore } from '../../node/lifecycle.js';
import { createLogger, errorFields, type Logger } from '../../node/log.js';
import { SocketLiveness } from '../../node/socket-liveness.js';
import type { ResultFrame, WelcomeFrame, WelcomeProbation } from '../../shared/market-protocol.js';
import type { MarketStore } from '../store/market-store.js';
import type { JobDigester } from '../../node/digest/digest-pool.js';
import { BatchSealer } from './batch-sealer.js';
import { COMPLETION_SWEEP_MS, CompletionSweeper } from './completion-sweeper.js';
import { Dispatcher } from './dispatcher.js';
import { LeaderElector } from './leader-election.js';
import { LeaseKeeper } from './lease-keeper.js';
import { coalesced, MarketNotifier } from './notifier.js';
import { Presence } from './presence.js';
import { MarketIdentity } from './market-identity.js';
import type { ProviderSession } from './provider-session.js';
import { ReceiptAcks } from './receipt-acks.js';
import { ReceiptDelivery } from './receipt-delivery.js';
import { ReachBack, type ReachBackPass } from './reach-back.js';
import { ResultSettler } from './result-settler.js';
import { ProviderSessions } from './sessions.js';
import { StepQueue } from './step-queue.js';
import { payTasks } from './task-payout.js';
import type { ResultAck, ValidatorContext } from './validator-context.js';
import { probationPolicy, resolveValidatorConfig, type ValidatorConfig } from './validator-config.js';

export type { ProviderSession };
export { ValidatorClosingError, type ResultAck } from './validator-context.js';
export { marketBuyer, VALIDATOR_SLICES } from './task-payout.js';

export interface ValidatorDeps {
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
  sha256: Sha256;
  config?: Partial<ValidatorConfig>;
  /** Re-executes checked jobs off this thread (attachValidator gives a DigestPool; `close` closes it); absent: in-process. */
  digester?: JobDigester;
  /** Where internal errors go, once each with their stack (default: the `validator` module logger). */
  logger?: Logger;
}

/**
 * The validator: splits tasks into jobs, dispatches them to connected providers whose
 * capabilities fit, tracks each assignment with the lease machine (heartbeats drive it; a
 * silent provider loses the job, which is reassigned), verifies every result (signature,
 * market, freshness, nonce, lease; a sampled fraction re-executed), settles results in group
 * commits, pays completed tasks, issues Receipt v1 per paid job, and seals batches.
 * Everything it decides is in the store; only the set of open sockets is in memory.
 *
 * This class is the facade the socket layer and the tests call: it builds one duty per file from
 * one context and delegates to them — presence (sessions.ts), the dispatcher (dispatcher.ts), the
 * lease keeper (lease-keeper.ts), the result settler (result-settler.ts), receipt delivery and
 * acks (receipt-delivery.ts, receipt-acks.ts), the completion sweep (completion-sweeper.ts) and
 * the batch sealer (batch-sealer.ts). It owns their timers, released in one place by `close`.
 */
export class ValidatorService {
  readonly config: ValidatorConfig;
  /** Ping/pong over this instance's provider sockets (the socket layer tracks each one; `checkNow` is its pass). */
  readonly liveness: SocketLiveness;
  /** Completes and pays tasks left in progress with every job done (run at start and on a timer). */
  readonly completion: CompletionSweeper;
  /** Which instance sharing the store ticks leases, seals batches and sweeps (always this one on the embedded store). */
  readonly leader: LeaderElector;
  /** Sends unacknowledged receipts to the providers connected here, whichever instance stored them. */
  readonly receiptDelivery: ReceiptDelivery;
  /** This instance's row and its providers' presence in the store (which instance holds each provider; which instances are live). */
  readonly presence: Presence;
  /** What other instances sharing the store commit, heard at once (notifier.ts); the timers stay as the safety net. */
  readonly notifier: MarketNotifier;

  private readonly identity: MarketIdentity;
  private readonly sessions: ProviderSessions;
  /** Store steps of this instance run one at a time, the most urgent kind first (step-queue.ts). */
  private readonly steps = new StepQueue();
  private readonly dispatcher: Dispatcher;
  private readonly leases: LeaseKeeper;
  private readonly settler: ResultSettler;
  private readonly acks: ReceiptAcks;
  private readonly sealer: BatchSealer;
  private readonly reachBack: ReachBack;
  private reachBackQueued = false;
  /** Everything `close` releases, in reverse order of registration. */
  private readonly resources: DisposableStore;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly deps: ValidatorDeps) {
    this.log = deps.logger ?? createLogger('validator');
    this.config = resolveValidatorConfig(deps.config);
    this.identity = new MarketIdentity(deps.blake3);
    this.sessions = new ProviderSessions({
      store: deps.store,
      clock: deps.clock,
      blake3: deps.blake3,
      config: this.config,
      identity: this.identity,
      noteSent: (session, keys) => this.receiptDelivery.noteSent(session, keys),
      afterJoin: (session) => {
        this.dispatcher.sendPrices(session).catch((err: unknown) => this.report('prices', err));
        this.dispatcher.kick();
      },
      claim: (session) => this.presence.joined(session),
      release: (session) => this.presence.left(session),
    });
    this.presence = new Presence({
      store: deps.store,
      clock: deps.clock,
      logger: this.log,
      sessions: () => this.sessions.values(),
      heartbeatMs: this.config.presenceMs,
      timeoutMs: this.config.instanceTimeoutMs,
    });
    this.notifier = new MarketNotifier({ store: deps.store, logger: this.log });
    const ctx: ValidatorContext = {
      store: deps.store,
      clock: deps.clock,
      blake3: deps.blake3,
      sha256: deps.sha256,
      digester: deps.digester,
      config: this.config,
      machine: createLeaseMachine(this.config.quorum),
      identity: this.identity,
      sessions: this.sessions,
      steps: this.steps,
      log: this.log,
      isClosed: () => this.closed,
      report: (what, err) => this.report(what, err),
    };
    this.completion = new CompletionSweeper({
      store: deps.store,
      clock: deps.clock,
      logger: this.log,
      pay: (tx, taskIds, now) => payTasks(tx, taskIds, now, this.identity.payoutDeps(probationPolicy(this.config))),
      deliver: (receipts) => this.settler.deliver(receipts),
    });
    this.leader = new LeaderElector({ store: deps.store, logger: this.log });
    this.receiptDelivery = new ReceiptDelivery({
      store: deps.store,
      sessions: () => this.sessions.values(),
      signed: (r) => this.identity.signedReceiptJson(r),
      logger: this.log,
    });
    this.dispatcher = new Dispatcher(ctx, {
      pass: () => this.pumpNow(),
      capacityElsewhere: (tx, now) => this.presence.industrialCapacityElsewhere(tx, now),
    });
    this.settler = new ResultSettler(ctx, {
      kick: () => this.dispatcher.kick(),
      noteSent: (session, keys) => this.receiptDelivery.noteSent(session, keys),
      reachBack: () => this.kickReachBack(),
    });
    this.reachBack = new ReachBack(ctx, {
      kick: () => this.dispatcher.kick(),
      deliver: (receipts) => this.settler.deliver(receipts),
    });
    this.leases = new LeaseKeeper(ctx, {
      dispatch: this.dispatcher,
      resumePairs: () => this.settler.resumePairs(),
    });
    this.acks = new ReceiptAcks(ctx, this.receiptDelivery);
    this.sealer = new BatchSealer(ctx);
    this.liveness = new SocketLiveness(
      { pingMs: this.config.socketPingMs, deadMs: this.config.socketDeadMs },
      () => this.deps.clock.now(),
      (err) => this.report('liveness', err),
    );
    // Released by close in reverse order: the timers (added by start) and the liveness pass stop,
    // results already received are settled, every queued step finishes (the least urgent kind runs
    // last, so an empty step of it waits for all), then the leader session and the digest pool close.
    this.resources = new DisposableStore('validator', this.log);
    if (deps.digester) this.resources.add(deps.digester, 'digest pool');
    this.resources.add(this.leader, 'leader election');
    this.resources.add(() => this.presence.close(), 'presence');
    this.resources.add(() => this.steps.drain(), 'queued steps');
    this.resources.add(this.settler, 'results waiting to settle');
    this.resources.add(this.liveness, 'socket liveness');
    this.resources.add(() => this.notifier.close(), 'notifications');
  }

  get marketId(): string {
    return this.identity.marketId;
  }

  /** The market's Ed25519 public key (hex), announced in the welcome; it signs every receipt. */
  get marketKey(): string {
    return this.identity.marketKey;
  }

  /** Group commits of results so far: how many, the results and receipts in them, and the time inside their transactions (ms). */
  get settleStats(): { commits: number; results: number; receipts: number; ms: number } {
    return this.settler.settleStats;
  }

  /** Lost leases handed to a standby so far, counted once committed (each is a job that skipped the queue). */
  get handoverCount(): number {
    return this.leases.handoverCount;
  }

  /** The market's clock (the socket stamps each frame's arrival with it). */
  now(): number {
    return this.deps.clock.now();
  }

  /** Loads (or creates, on first start) the market id and secret from the store and starts the loops. */
  async start(options: { marketId?: string; secretHex?: string } = {}): Promise<void> {
    await this.presence.start();
    await this.deps.store.transaction(async (tx) => {
      await this.identity.load(tx, options);
      await this.leases.resumeAfterOutage(tx, await this.presence.presentElsewhere(tx, this.deps.clock.now()));
    });
    const every = (ms: number, fn: () => Promise<unknown>) => {
      if (ms <= 0) return;
      const t = setInterval(() => void this.steps.serial(fn).catch((err: unknown) => this.report('timer', err)), ms);
      t.unref();
      this.resources.add(() => clearInterval(t), 'timer');
    };
    // Duties that run once per market, not per instance, run on the leader (leader-election.ts);
    // every instance still runs its own dispatch pass on the sweep timer. Other instances' commits
    // wake this one at once (the notifier, below); the timers are the safety net behind it.
    await this.leader.runOnce().catch((err: unknown) => this.report('leader election', err));
    every(this.config.sweepMs, async () => {
      await this.leader.runOnce().catch((err: unknown) => this.report('leader election', err));
      if (this.leader.isLeader) await this.sweepNow();
      else this.kick();
    });
    every(this.config.batchMs, async () => (this.leader.isLeader ? this.sealBatchNow() : undefined));
    every(this.config.receiptDeliveryMs, () => this.receiptDelivery.runOnce());
    // Reach-back work left by a stopped market (watches, queued re-verifications, reopened tasks) resumes here.
    every(this.config.sweepMs, async () => (this.leader.isLeader ? this.reachBack.runOnce() : undefined));
    // Tasks left in progress with every job done (a market stopped between settling and paying):
    // paid at start (safe on any instance) and then periodically; off with the other timed sweeps (sweepMs 0).
    if (this.config.sweepMs > 0) {
      await this.steps
        .serial(() => this.completion.runOnce(), 'settle')
        .catch((err: unknown) => this.report('completion sweep', err));
      every(COMPLETION_SWEEP_MS, async () => (this.leader.isLeader ? this.completion.runOnce() : undefined));
    }
    // Another instance's commits wake this one at once; its own were acted on where they were committed.
    const deliverReceipts = coalesced(
      () => this.steps.serial(() => this.receiptDelivery.runOnce()),
      (err) => this.report('receipt delivery', err),
    );
    // Another instance's jobs wake a pass here only when a provider here has room that the last
    // pass could not fill (Dispatcher.wantsRemoteWork).
    this.notifier.on('jobs_ready', (e) => (e.local || !this.dispatcher.wantsRemoteWork() ? undefined : this.kick()));
    // A settled result may finish a reopened task (or redo a queued re-verification's job): a pass, when one has work.
    this.notifier.on('result_settled', () => (this.reachBack.hasOpenWork ? this.kickReachBack() : undefined));
    this.notifier.on('receipt_stored', (e) => (e.local ? undefined : deliverReceipts()));
    this.notifier.on('presence', (e) =>
      e.local ? undefined : void this.presence.checkAll().catch((err: unknown) => this.report('presence', err)),
    );
    await this.notifier.start();
    this.liveness.start();
    this.kick();
  }

  /** Stops the loops; settles results already received. */
  close(): Promise<void> {
    this.closed = true;
    return this.resources.dispose();
  }

  // ── joining (sessions.ts) ────────────────────────────────────────────────

  /** A fresh 32-byte challenge nonce (hex). */
  newChallenge(): string {
    return this.sessions.newChallenge();
  }

  /**
   * Checks an auth answer; returns the provider's address, or a refusal. A refused provider
   * (too many wrong results) may not join.
   */
  authenticate(
    publicKey: string,
    signature: string,
    nonce: string,
  ): Promise<{ ok: true; address: string } | { ok: false; code: 'unauthenticated' | 'refused'; message: string }> {
    return this.sessions.authenticate(publicKey, signature, nonce);
  }

  /**
   * Registers an authenticated session and sends its first frames: the welcome, then every receipt
   * not yet acknowledged, then prices (ProviderSessions.join). Returns the jobs still leased to it.
   */
  join(
    session: ProviderSession,
    welcome: (leased: { job_id: string; epoch: number }[], probation: WelcomeProbation | undefined) => WelcomeFrame,
  ): Promise<{ job_id: string; epoch: number }[]> {
    return this.sessions.join(session, welcome);
  }

  leave(session: ProviderSession): void {
    this.sessions.leave(session);
  }

  get connectedProviders(): number {
    return this.sessions.size;
  }

  // ── heartbeats and leases (lease-keeper.ts) ──────────────────────────────

  /** A test signal: `listener` hears each provider whose heartbeat was just committed. Returns the unsubscribe. */
  onDidCommitHeartbeat(listener: (address: string) => void): () => void {
    return this.leases.onDidCommitHeartbeat(listener);
  }

  /** A provider's heartbeat, seen at `seenAt` (default now); resolves once its group commit is durable. */
  heartbeat(session: ProviderSession, sentAt: number, seenAt?: number): Promise<void> {
    return this.leases.heartbeat(session, sentAt, seenAt);
  }

  /** One lease sweep: ticks every held lease, revokes those past their deadline (LeaseKeeper.runOnce). */
  sweepNow(): Promise<void> {
    return this.leases.runOnce();
  }

  /** The provider cannot finish a job: the lease is revoked and the job reassigned. */
  jobLost(session: ProviderSession, jobId: string, reason: string): Promise<void> {
    return this.leases.jobLost(session, jobId, reason);
  }

  // ── splitting and dispatch (dispatcher.ts) ───────────────────────────────

  /** Schedules a split + dispatch pass (coalesced). */
  kick(): void {
    this.dispatcher.kick();
  }

  /** One split + admission + dispatch pass (Dispatcher.runOnce). */
  pumpNow(): Promise<void> {
    return this.dispatcher.runOnce();
  }

  /** Whether the validator re-executes this assignment (drawn at assignment, never sent). */
  isChecked(jobId: string, epoch: number): boolean {
    return this.dispatcher.isChecked(jobId, epoch);
  }

  /** Whether a job is also run by a second, distinct provider (drawn at the split, never sent). */
  isPaired(jobId: string): boolean {
    return this.dispatcher.isPaired(jobId);
  }

  // ── results (result-settler.ts) and receipts (receipt-acks.ts) ───────────

  /**
   * Verifies one result and settles it in the next group commit; resolves with its ack once that
   * commit is durable. Freshness is judged against `receivedAt`, the frame's arrival.
   */
  submitResult(session: ProviderSession, frame: ResultFrame, receivedAt?: number): Promise<ResultAck> {
    return this.settler.submitResult(session, frame, receivedAt);
  }

  /** The provider confirms it recorded a receipt; it is not sent again. Resolves once the ack is committed. */
  receiptAck(session: ProviderSession, key: string): Promise<void> {
    return this.acks.receiptAck(session, key);
  }

  // ── reach-back (reach-back.ts) ────────────────────────────────────────────

  /** One reach-back pass: queues, re-verifies and corrects a failed provider's earlier unchecked results, completes corrected tasks. */
  reachBackNow(): Promise<ReachBackPass> {
    return this.steps.serial(() => this.reachBack.runOnce(), 'settle');
  }

  /** Schedules a reach-back pass (coalesced). */
  private kickReachBack(): void {
    if (this.reachBackQueued || this.closed) return;
    this.reachBackQueued = true;
    setImmediate(() => {
      this.reachBackQueued = false;
      this.steps.serial(() => this.reachBack.runOnce()).catch((err: unknown) => this.report('reach-back', err));
    });
  }

  // ── batches (batch-sealer.ts) ─────────────────────────────────────────────

  /** Seals the accepted results not yet in a batch; resolves to the batch number, or undefined when none waits. */
  sealBatchNow(): Promise<number | undefined> {
    return this.sealer.runOnce();
  }

  /**
   * A test signal: resolves once every step queued so far (dispatch passes kicked before this call
   * included, sweeps, commits) has run, so a test can assert that nothing more happens without
   * sleeping.
   */
  async whenIdle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // a kick() queues its pass on the next turn
    await this.steps.drain();
  }

  private report(what: string, err: unknown): void {
    this.log.error(`validator ${what} failed`, { what, ...errorFields(err) });
  }
}
