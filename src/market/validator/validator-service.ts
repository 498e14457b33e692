import { randomBytes, randomUUID } from 'node:crypto';
import type { Blake3Hasher, Sha256 } from '../../core/hash/hasher.js';
import { concatBytes, lengthPrefixed, u64le } from '../../core/bytes.js';
import { fromHex, toHex, utf8 } from '../../core/hex.js';
import { makeReceipt, parseReceipt, receiptToJson } from '../../core/ledger/receipt.js';
import { deriveAssignmentKey, derivePairKey } from '../../core/market/assignment-proof.js';
import type { JsonValue } from '../../core/market/canonical.js';
import {
  buildSubmitResultTx,
  COMPUTE_RESULT_CODES,
  computeResultToJson,
  parseComputeResult,
  type ComputeResult,
  type SignatureCheck,
} from '../../core/market/compute-result.js';
import {
  createLeaseMachine,
  holdsLease,
  type Lease,
  type LeaseEvent,
  type LeaseMachine,
  type LeaseRevocation,
} from '../../core/market/lease-state.js';
import { computeRoot } from '../../core/market/merkle.js';
import type { Clock } from '../../core/clock.js';
import { ComfortGuard } from '../../core/pricing/comfort-guard.js';
import { createLogger, errorFields, type Logger } from '../../node/log.js';
import { verifyNodeSignature } from '../../node/signing/node-signature.js';
import { ed25519SignerFromSeed, resultSignatureCheck, type ResultSigner } from '../../node/signing/result-signing.js';
import { signReceipt } from '../../node/signing/receipt-signing.js';
import { verifyComputeResult } from '../../core/market/compute-result.js';
import { addressFromPublicKey } from '../../shared/market-address.js';
import {
  authSigningBytes,
  CLOSE_CODES,
  type CapabilitiesFrame,
  type JobFrame,
  type ResultFrame,
  type WelcomeFrame,
} from '../../shared/market-protocol.js';
import type { MarketStore, MarketTx } from '../store/market-store.js';
import type { JobDigester } from '../../node/digest/digest-pool.js';
import type { AssignmentRecord, JobInput, QueueGroup } from '../store/validator-repo.js';
import { UUID_TEXT, type GroupRow, type ResultRow } from '../store/settlement-repo.js';
import type { JobRecord } from '../store/jobs-repo.js';
import type { TaskRecord } from '../store/tasks-repo.js';
import { decideAdmissions } from './admission-pass.js';
import { expectedDigests, jobOutputBytes, readJobBytes, splitTask } from './split.js';
import { resolveValidatorConfig, type ValidatorConfig } from './validator-config.js';
import { payTasks, type PaidReceipt, type TaskPayoutDeps } from './task-payout.js';
import { ReceiptDelivery } from './receipt-delivery.js';
import { COMPLETION_SWEEP_MS, CompletionSweeper } from './completion-sweeper.js';
import { LeaderElector } from './leader-election.js';
import { SocketLiveness } from '../../node/socket-liveness.js';
import { dispatchOrder } from './dispatch-order.js';
import type { ProviderSession } from './provider-session.js';

export type { ProviderSession };

export interface ValidatorDeps {
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
  sha256: Sha256;
  /** Where uploaded slices live (`<slicesDir>/<task_id>/<n>.slice`). */
  slicesDir: string;
  config?: Partial<ValidatorConfig>;
  /** Re-executes checked jobs off this thread (attachValidator gives a DigestPool; `close` closes it); absent: in-process. */
  digester?: JobDigester;
  /** Where internal errors go, once each with their stack (default: the `validator` module logger). */
  logger?: Logger;
}

/** The answer to one result, sent back as result_ack. */
export interface ResultAck {
  jobId: string;
  epoch: number;
  accepted: boolean;
  code: string | null;
  message: string | null;
}

/** The validator is stopping: a result that arrives now is not answered, so the provider sends it again after reconnecting. */
export class ValidatorClosingError extends Error {
  constructor() {
    super('the validator is stopping');
    this.name = 'ValidatorClosingError';
  }
}

export { marketBuyer, VALIDATOR_SLICES } from './task-payout.js';

const CHECK_TAG = 'tessera-check-v1';
const PAIR_TAG = 'tessera-pair-v1';
const BEACON_TAG = 'tessera-genesis-beacon-v1';

/** How many leases one dispatch transaction takes at most. */
const LEASES_PER_TX = 32;

interface LeasedJob {
  job: JobRecord;
  input: JobInput;
  task: TaskRecord;
  assignment: AssignmentRecord;
}

/** A lease taken for a session, whose job frame goes out once its transaction has committed. */
interface LeasedJobTo {
  session: ProviderSession;
  lease: LeasedJob;
}

/** Whether one job could go to a provider with these capabilities (lane, hardware GPU, ask ≤ offer). */
function fitsJob(job: Pick<JobRecord, 'lane' | 'gpuRequired' | 'offer'>, caps: CapabilitiesFrame): boolean {
  const hardwareGpu = caps.gpu !== null && !caps.gpu.software;
  return caps.lanes.includes(job.lane) && (hardwareGpu || !job.gpuRequired) && BigInt(caps.ask) <= job.offer;
}

/** Whether any queued group could go to a provider with these capabilities (fitsJob for the group's best offer). */
function fitsAny(shape: readonly QueueGroup[], caps: CapabilitiesFrame): boolean {
  return shape.some(
    (g) => g.count > 0 && fitsJob({ lane: g.lane, gpuRequired: g.gpuRequired, offer: g.maxOffer }, caps),
  );
}

/** What a serialised store step does, most urgent first (see ValidatorService.steps). */
type StepKind = 'settle' | 'lease' | 'dispatch';
const STEP_URGENCY: Record<StepKind, number> = { settle: 0, lease: 1, dispatch: 2 };
interface Step {
  urgency: number;
  run: () => Promise<void>;
}

/** A result whose signature, market and freshness passed, waiting for the next group commit. */
interface PendingResult {
  session: ProviderSession;
  result: ComputeResult;
  /** The assignment epoch the provider made the result for. */
  epoch: number;
  resolve: (ack: ResultAck) => void;
  reject: (err: unknown) => void;
}

type Receipt = PaidReceipt;

/**
 * The validator: splits tasks into jobs, dispatches them to connected providers whose
 * capabilities fit, tracks each assignment with the lease machine (heartbeats drive it; a
 * silent provider loses the job, which is reassigned), verifies every result (signature,
 * market, freshness, nonce, lease; a sampled fraction re-executed), settles results in group
 * commits, pays completed tasks, issues Receipt v1 per paid job, and seals batches.
 * Everything it decides is in the store; only the set of open sockets is in memory.
 */
export class ValidatorService {
  readonly config: ValidatorConfig;
  private readonly machine: LeaseMachine;
  /** The guard's mode and recovery wait (a cache: it is re-evaluated from the store's queue at every pass, and a restart starts loose). */
  private readonly guard: ComfortGuard;
  private readonly sessions = new Map<string, ProviderSession>();
  private readonly checks = new WeakMap<ProviderSession, SignatureCheck>();
  private marketIdValue = '';
  private secret: Uint8Array = new Uint8Array(32);
  /** The market's receipt key (Ed25519), loaded from the store at start (created at the first start). */
  private receiptSigner: ResultSigner | undefined;
  private timers: NodeJS.Timeout[] = [];
  private pending: PendingResult[] = [];
  /** Group commits of results so far: how many, the results and receipts in them, and the time inside their transactions (ms). */
  readonly settleStats = { commits: 0, results: 0, receipts: 0, ms: 0 };
  /** Lost leases handed to a standby so far, counted once committed (each is a job that skipped the queue). */
  handoverCount = 0;
  /** Heartbeats waiting for their group commit: the latest per provider address. */
  private readonly beats = new Map<
    string,
    {
      session: ProviderSession;
      sentAt: number;
      seenAt: number;
      waiters: { resolve: () => void; reject: (err: unknown) => void }[];
    }
  >();
  private beatsQueued = false;
  /** The latest committed heartbeat of each connected provider (what makes a standby warm at a handover). */
  private readonly heard = new Map<string, { sentAt: number; seenAt: number }>();
  /** Receipt acknowledgements waiting for their group commit. */
  private receiptAcks: { provider: string; key: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private receiptAcksQueued = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * Store steps of this instance run one at a time. A waiting step of a more urgent kind goes
   * first — settling results, then heartbeats and lost leases, then dispatch and the timed sweeps —
   * and steps of one kind keep their order, so results never wait behind a queue of dispatch
   * passes (a busy market kicks one per posted task).
   */
  private readonly steps: Step[] = [];
  private stepRunning = false;
  private pumpQueued = false;
  private readonly toRefuse = new Set<string>();
  private closed = false;
  private readonly log: Logger;
  /** Test signal listeners (see onDidCommitHeartbeat). */
  private readonly heartbeatListeners = new Set<(address: string) => void>();
  /** Ping/pong over this instance's provider sockets (the socket layer tracks each one; `checkNow` is its pass). */
  readonly liveness: SocketLiveness;
  /** When each connected provider joined: its freshness until its first heartbeat is committed (see dispatchOrder). */
  private readonly joinedAt = new Map<string, number>();

  /** Completes and pays tasks left in progress with every job done (run at start and on a timer). */
  readonly completion: CompletionSweeper;
  /** Which instance sharing the store ticks leases, seals batches and sweeps (always this one on the embedded store). */
  readonly leader: LeaderElector;
  /** Sends unacknowledged receipts to the providers connected here, whichever instance stored them. */
  readonly receiptDelivery: ReceiptDelivery;

  constructor(private readonly deps: ValidatorDeps) {
    this.log = deps.logger ?? createLogger('validator');
    this.config = resolveValidatorConfig(deps.config);
    this.completion = new CompletionSweeper({
      store: deps.store,
      clock: deps.clock,
      logger: this.log,
      pay: (tx, taskIds, now) => payTasks(tx, taskIds, now, this.payoutDeps()),
      deliver: (receipts) => this.deliver(receipts),
    });
    this.leader = new LeaderElector({ store: deps.store, logger: this.log });
    this.receiptDelivery = new ReceiptDelivery({
      store: deps.store,
      sessions: () => this.sessions.values(),
      signed: (r) => this.signedReceiptJson(r),
      logger: this.log,
    });
    this.machine = createLeaseMachine(this.config.quorum);
    this.guard = new ComfortGuard(this.config.comfortGuard, deps.clock);
    this.liveness = new SocketLiveness(
      { pingMs: this.config.socketPingMs, deadMs: this.config.socketDeadMs },
      () => this.deps.clock.now(),
      (err) => this.report('liveness', err),
    );
  }

  get marketId(): string {
    return this.marketIdValue;
  }

  /** The market's Ed25519 public key (hex), announced in the welcome; it signs every receipt. */
  get marketKey(): string {
    if (!this.receiptSigner) throw new Error('the validator has not started: no market key yet');
    return this.receiptSigner.nodeId;
  }

  /** The market's clock (the socket stamps each frame's arrival with it). */
  now(): number {
    return this.deps.clock.now();
  }

  /** Loads (or creates, on first start) the market id and secret from the store and starts the loops. */
  async start(options: { marketId?: string; secretHex?: string } = {}): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      this.marketIdValue = await tx.validator.settingOrInit(
        'market_id',
        options.marketId ?? `tessera-market-${randomBytes(8).toString('hex')}`,
      );
      this.secret = fromHex(
        await tx.validator.settingOrInit('assignment_secret', options.secretHex ?? randomBytes(32).toString('hex')),
        'assignment secret',
      );
      // The receipt key: a 32-byte Ed25519 seed kept in the store, so the key survives restarts.
      this.receiptSigner = ed25519SignerFromSeed(
        fromHex(
          await tx.validator.settingOrInit('receipt_key_seed', randomBytes(32).toString('hex')),
          'receipt key seed',
        ),
      );
      // Leases held when the market stopped: their holders could not be heard while it was down,
      // so their silence counts from this start (one statement for all of them).
      const now = this.deps.clock.now();
      const held = await tx.validator.activeAssignments();
      await tx.validator.updateLeases(
        held.map((a) => ({
          jobId: a.jobId,
          lease: this.machine.resumeAfterOutage(a.lease as unknown as Lease, now).lease as unknown as JsonValue,
        })),
        now,
      );
    });
    const every = (ms: number, fn: () => Promise<unknown>) => {
      if (ms <= 0) return;
      const t = setInterval(() => void this.serial(fn).catch((err: unknown) => this.report('timer', err)), ms);
      t.unref();
      this.timers.push(t);
    };
    // Duties that run once per market, not per instance, run on the leader (leader-election.ts);
    // every instance still runs its own dispatch pass on the sweep timer.
    await this.leader.runOnce().catch((err: unknown) => this.report('leader election', err));
    every(this.config.sweepMs, async () => {
      await this.leader.runOnce().catch((err: unknown) => this.report('leader election', err));
      if (this.leader.isLeader) await this.sweepNow();
      else this.kick();
    });
    every(this.config.batchMs, async () => (this.leader.isLeader ? this.sealBatchNow() : undefined));
    every(this.config.receiptDeliveryMs, () => this.receiptDelivery.runOnce());
    // Tasks left in progress with every job done (a market stopped between settling and paying):
    // paid at start (safe on any instance) and then periodically; off with the other timed sweeps (sweepMs 0).
    if (this.config.sweepMs > 0) {
      await this.serial(() => this.completion.runOnce(), 'settle').catch((err: unknown) =>
        this.report('completion sweep', err),
      );
      every(COMPLETION_SWEEP_MS, async () => (this.leader.isLeader ? this.completion.runOnce() : undefined));
    }
    this.liveness.start();
    this.kick();
  }

  /** Stops the loops; settles results already received. */
  async close(): Promise<void> {
    this.closed = true;
    this.liveness.dispose();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.serial(() => this.flushNow(), 'settle');
    // Steps queued before the close (a sweep, a batch, a dispatch pass) finish before it returns:
    // the least urgent kind runs last, so this empty step waits for every one of them.
    await this.serial(async () => undefined, 'dispatch');
    await this.leader.close();
    await this.deps.digester?.close();
  }

  // ── joining ───────────────────────────────────────────────────────────────

  /** A fresh 32-byte challenge nonce (hex). */
  newChallenge(): string {
    return randomBytes(32).toString('hex');
  }

  /**
   * Checks an auth answer; returns the provider's address, or a refusal. A refused provider
   * (too many wrong results) may not join.
   */
  async authenticate(
    publicKey: string,
    signature: string,
    nonce: string,
  ): Promise<{ ok: true; address: string } | { ok: false; code: 'unauthenticated' | 'refused'; message: string }> {
    if (!verifyNodeSignature(publicKey, authSigningBytes(this.marketIdValue, nonce), signature)) {
      return {
        ok: false,
        code: 'unauthenticated',
        message:
          'auth signature does not verify over the challenge; sign authSigningBytes(market_id, nonce) with the node key',
      };
    }
    const address = addressFromPublicKey(fromHex(publicKey), this.deps.blake3);
    const now = this.deps.clock.now();
    const p = await this.deps.store.transaction((tx) =>
      tx.validator.ensureProvider(address, publicKey, this.config.initialBond, this.config.initialReputation, now),
    );
    if (p.refused)
      return {
        ok: false,
        code: 'refused',
        message: `provider ${address} is refused after ${p.wrongResults} wrong results`,
      };
    return { ok: true, address };
  }

  /**
   * Registers an authenticated session with its capabilities and sends its first frames, in this
   * order: the welcome (`welcome` builds it from the jobs still leased to the provider), then every
   * receipt not yet acknowledged, then prices. The welcome goes first because a client sends
   * nothing before it — a receipt_ack for a receipt that came earlier would have nowhere to go
   * (docs/market-api.md, "Joining"). Returns the jobs still leased to the provider.
   */
  async join(
    session: ProviderSession,
    welcome: (leased: { job_id: string; epoch: number }[]) => WelcomeFrame,
  ): Promise<{ job_id: string; epoch: number }[]> {
    const old = this.sessions.get(session.address);
    if (old && old.id !== session.id) old.close(CLOSE_CODES.superseded, 'the same provider connected again');
    this.sessions.set(session.address, session);
    this.joinedAt.set(session.address, this.deps.clock.now());
    const { leased, receipts } = await this.deps.store.transaction(async (tx) => ({
      leased: (await tx.validator.leasedTo(session.address)).map((a) => ({ job_id: a.jobId, epoch: a.epoch })),
      receipts: await tx.validator.receipts(session.address, true),
    }));
    for (const j of leased) session.inFlight.add(j.job_id);
    session.send(welcome(leased));
    for (const r of receipts)
      session.send({ type: 'receipt', receipt: this.signedReceiptJson(r.receipt) as never, task_id: r.taskId });
    this.receiptDelivery.noteSent(
      session,
      receipts.map((r) => r.key),
    );
    this.sendPrices(session).catch((err: unknown) => this.report('prices', err));
    this.kick();
    return leased;
  }

  leave(session: ProviderSession): void {
    if (this.sessions.get(session.address)?.id !== session.id) return;
    this.sessions.delete(session.address);
    this.heard.delete(session.address);
    this.joinedAt.delete(session.address);
  }

  get connectedProviders(): number {
    return this.sessions.size;
  }

  /**
   * A test signal (River's testSignals): `listener` hears each provider whose heartbeat was just
   * committed, so a test awaits the beat instead of sleeping past it. Returns the unsubscribe.
   */
  onDidCommitHeartbeat(listener: (address: string) => void): () => void {
    this.heartbeatListeners.add(listener);
    return () => this.heartbeatListeners.delete(listener);
  }

  // ── heartbeats and leases ─────────────────────────────────────────────────

  /**
   * A provider's heartbeat, seen at `seenAt` (its arrival; default now): every lease it holds is
   * ticked with it. Heartbeats are committed in groups, like results: the beats that arrive while
   * the validator is busy wait for one transaction that reads every lease of their providers
   * with one query and writes them back with one statement, so the store's cost of heartbeats
   * grows with the validator's passes, not with the number of providers. Resolves once the beat
   * is committed.
   */
  heartbeat(session: ProviderSession, sentAt: number, seenAt?: number): Promise<void> {
    if (this.closed) return Promise.reject(new ValidatorClosingError());
    const now = this.deps.clock.now();
    const seenAtMs = Math.min(seenAt ?? now, now);
    return new Promise<void>((resolve, reject) => {
      const prev = this.beats.get(session.address);
      const waiters = prev?.waiters ?? [];
      waiters.push({ resolve, reject });
      // Only the latest beat of a provider counts (an earlier one still waiting is superseded).
      if (!prev || prev.seenAt <= seenAtMs || prev.session.id !== session.id)
        this.beats.set(session.address, { session, sentAt, seenAt: seenAtMs, waiters });
      if (this.beatsQueued) return;
      this.beatsQueued = true;
      this.serial(() => this.flushBeats(), 'lease').catch((err: unknown) => {
        if (!(err instanceof ValidatorClosingError)) this.report('heartbeat', err);
      });
    });
  }

  /** Commits every waiting heartbeat in one transaction (see heartbeat). */
  private async flushBeats(): Promise<void> {
    this.beatsQueued = false;
    const beats = [...this.beats.values()];
    this.beats.clear();
    if (beats.length === 0) return;
    try {
      const now = this.deps.clock.now();
      const by = new Map(beats.map((b) => [b.session.address, b]));
      const handovers: LeasedJobTo[] = [];
      await this.deps.store.transaction(async (tx) => {
        const plain: { jobId: string; lease: JsonValue }[] = [];
        const eventful: { jobId: string; lease: Lease; events: readonly LeaseEvent[] }[] = [];
        for (const a of await tx.validator.activeAssignments([...by.keys()])) {
          const b = by.get(a.provider);
          if (!b) continue;
          const step = this.machine.tick(a.lease as unknown as Lease, now, [
            { providerId: a.provider, source: 'market', seenAtMs: b.seenAt, sentAtMs: b.sentAt },
          ]);
          // Only a revocation or a failure needs more than the lease's new state written.
          if (!step.events.some((e) => e.type === 'LeaseRevoked' || e.type === 'Failed'))
            plain.push({ jobId: a.jobId, lease: step.lease as unknown as JsonValue });
          else eventful.push({ jobId: a.jobId, lease: step.lease, events: step.events });
        }
        await tx.validator.updateLeases(plain, now);
        for (const e of eventful) await this.applyLeaseStep(tx, e.jobId, e.lease, e.events, now, handovers);
      });
      await this.sendHandovers(handovers, now);
    } catch (err) {
      for (const b of beats) for (const w of b.waiters) w.reject(err);
      throw err;
    }
    for (const b of beats) {
      if (this.sessions.get(b.session.address) === b.session)
        this.heard.set(b.session.address, { sentAt: b.sentAt, seenAt: b.seenAt });
      for (const w of b.waiters) w.resolve();
      for (const l of this.heartbeatListeners) l(b.session.address);
    }
  }

  /**
   * Ticks every held lease (silent holders go Suspect, then lose the job) and revokes those past
   * their deadline. A requeued job (Respawning) waits in the queue for a provider that fits —
   * until its task's deadline, which refunds — so only lost leases count as respawn attempts: a
   * job whose leases keep being lost exhausts the restart policy and its task fails (refunded).
   */
  async sweepNow(): Promise<void> {
    const now = this.deps.clock.now();
    const handovers: LeasedJobTo[] = [];
    await this.deps.store.transaction(async (tx) => {
      for (const a of await tx.validator.activeAssignments()) {
        const before = a.lease as unknown as Lease;
        let step = this.machine.tick(before, now);
        if (a.leaseUntil !== null && a.leaseUntil <= now && holdsLease(step.lease.state)) {
          const revoked = this.machine.revoke(step.lease, now, 'result deadline passed');
          step = { lease: revoked.lease, events: [...step.events, ...revoked.events] };
        }
        // A tick that only advanced the machine's clock is not written back (the clock is clamped on load).
        const unchanged =
          step.events.length === 0 &&
          JSON.stringify(step.lease.state) === JSON.stringify(before.state) &&
          JSON.stringify(step.lease.heartbeats) === JSON.stringify(before.heartbeats);
        if (!unchanged) await this.applyLeaseStep(tx, a.jobId, step.lease, step.events, now, handovers);
      }
    });
    await this.sendHandovers(handovers, now);
    if (this.config.verifyMode !== 'reexecute') await this.resumePairs();
    this.kick();
  }

  /** The provider cannot finish a job: the lease is revoked and the job reassigned. */
  async jobLost(session: ProviderSession, jobId: string, reason: string): Promise<void> {
    session.inFlight.delete(jobId);
    await this.serial(async () => {
      const now = this.deps.clock.now();
      const handovers: LeasedJobTo[] = [];
      await this.deps.store.transaction(async (tx) => {
        const a = await tx.validator.assignment(jobId);
        const job = await tx.validator.job(jobId, true);
        if (
          !a ||
          !job ||
          job.status !== 'leased' ||
          job.leaseOwner !== session.address ||
          a.provider !== session.address
        )
          return;
        const step = this.machine.revoke(
          a.lease as unknown as Lease,
          now,
          `provider reported the job lost: ${reason.slice(0, 200)}`,
        );
        await this.applyLeaseStep(tx, jobId, step.lease, step.events, now, handovers);
      });
      await this.sendHandovers(handovers, now);
    }, 'lease');
    this.kick();
  }

  /**
   * Writes a lease step and performs its events: a revocation requeues the job, or — when the
   * lease names standbys (`standbys` > 0) and publishes the revocation — hands it to a standby
   * (handOver); a failure fails the task. Job frames of handovers are added to `handovers`, for
   * the caller to send once the transaction has committed.
   */
  private async applyLeaseStep(
    tx: MarketTx,
    jobId: string,
    lease: Lease,
    events: readonly LeaseEvent[],
    now: number,
    handovers: LeasedJobTo[],
  ): Promise<void> {
    await tx.validator.updateLease(jobId, lease as unknown as JsonValue, now);
    const published = events.some((e) => e.type === 'PublishLeaseRevocation');
    for (const e of events) {
      if (e.type === 'LeaseRevoked') {
        this.sessions.get(e.providerId)?.inFlight.delete(jobId);
        if (!published) await tx.validator.requeue(jobId, now);
      } else if (e.type === 'PublishLeaseRevocation') {
        await this.handOver(tx, jobId, e.revocation, now, handovers);
      } else if (e.type === 'Failed') {
        const job = await tx.validator.job(jobId);
        if (job) await this.failTask(tx, job.taskId, `job ${jobId} could not be completed: ${e.reason}`, now);
      }
    }
  }

  /**
   * A lease that names standbys was revoked: the revocation is delivered to the first-named
   * standby, which the lease machine promotes (LeaseGranted, epoch + 1). The market then makes the
   * promotion real only if that provider is connected now and warm (its latest heartbeat is within
   * t1, so the promoted lease is Live at once), its capabilities still fit the job and it has
   * room: the job is leased to it in this transaction, with its own key and a new check
   * draw, and its job frame goes out after the commit. Otherwise the promoted record is revoked at
   * once, which publishes the revocation to the remaining standbys (the next one is tried the
   * same way) or, with none left, requeues the job under the restart policy.
   */
  private async handOver(
    tx: MarketTx,
    jobId: string,
    revocation: LeaseRevocation,
    now: number,
    handovers: LeasedJobTo[],
  ): Promise<void> {
    const next = revocation.standbyProviders[0];
    if (next === undefined) return;
    // The standby's record hears its latest heartbeat, so the machine promotes it straight to Live
    // if it is warm (heard within t1) and into Provisioning otherwise.
    const beat = this.heard.get(next);
    let record = this.machine.standby({
      workloadId: jobId,
      providerId: next,
      epoch: revocation.epoch,
      nowMs: now,
      restartPolicy: this.config.restartPolicy,
    }).lease;
    if (beat)
      record = this.machine.tick(record, now, [
        { providerId: next, source: 'market', seenAtMs: beat.seenAt, sentAtMs: beat.sentAt },
      ]).lease;
    const promoted = this.machine.observeRevocation(record, now, revocation).lease;
    const session = this.sessions.get(next);
    const job = await tx.validator.job(jobId);
    const caps = session?.capabilities;
    // Room counts the jobs already handed to it in this transaction (their frames go out after the commit).
    const taking = handovers.filter((h) => h.session === session).length;
    const fits =
      caps !== undefined &&
      job !== undefined &&
      session !== undefined &&
      !session.congested &&
      session.inFlight.size + taking < caps.max_jobs &&
      fitsJob(job, caps);
    const warm = promoted.state.kind === 'live';
    if (job && session && fits && warm && (await tx.validator.handOver(jobId, next, now, this.config.jobDeadlineMs))) {
      const input = await tx.validator.input(jobId);
      const task = await tx.tasks.get(job.taskId);
      if (!input || !task) throw new Error(`job ${jobId} has no input or task`);
      const assignment = await this.assign(tx, job, input, next, promoted, now);
      handovers.push({ session, lease: { job, input, task, assignment } });
      return;
    }
    const why = !session
      ? 'is not connected'
      : !fits
        ? 'has no room for it or no longer fits it'
        : !warm
          ? `has not heartbeated within t1 (${this.config.quorum.t1Secs} s)`
          : 'holds the other run of its pair';
    const step = this.machine.revoke(promoted, now, `standby ${next} ${why}`);
    await this.applyLeaseStep(tx, jobId, step.lease, step.events, now, handovers);
  }

  /** Sends the job frames of committed handovers (see applyLeaseStep). */
  private async sendHandovers(handovers: readonly LeasedJobTo[], now: number): Promise<void> {
    this.handoverCount += handovers.length;
    for (const { session, lease } of handovers) {
      if (this.sessions.get(session.address) !== session) continue; // gone since: its lease lapses and is handed on or requeued
      const frame = await this.jobFrame(lease, now);
      session.inFlight.add(frame.job_id);
      session.send(frame);
    }
  }

  private async failTask(tx: MarketTx, taskId: string, reason: string, now: number): Promise<void> {
    await tx.tasks.fail(taskId, reason, now);
    await tx.jobs.failOpen(taskId, reason, now);
    await tx.escrow.refund(taskId, now);
  }

  // ── splitting and dispatch ────────────────────────────────────────────────

  /** Schedules a split + dispatch pass (coalesced). */
  kick(): void {
    if (this.pumpQueued || this.closed) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.serial(() => this.pumpNow()).catch((err: unknown) => this.report('dispatch', err));
    });
  }

  /**
   * Splits pending tasks into jobs, admits industrial jobs, then leases admitted jobs to providers
   * with free capacity. One read of the queue's shape comes first: an empty queue costs no lease
   * transaction at all, a provider that nothing queued fits is skipped, and the pass stops as soon
   * as the queue is empty. Leases for several providers share one transaction (up to
   * LEASES_PER_TX); providers are served in join order, each up to its max_jobs, as before.
   */
  async pumpNow(): Promise<void> {
    if (this.closed) return;
    await this.splitPending();
    const shape = await this.admitNow();
    let left = shape.reduce((n, g) => n + g.count, 0);
    if (left === 0) return;
    // Fresh providers first; a job lost by a provider goes to another that fits before it may go back (dispatch-order.ts).
    const wanting = dispatchOrder(
      [...this.sessions.values()].filter(
        (s) => s.capabilities && !s.congested && s.inFlight.size < s.capabilities.max_jobs,
      ),
      (s) => this.heard.get(s.address)?.seenAt ?? this.joinedAt.get(s.address),
      this.deps.clock.now(),
      this.config.quorum.t1Secs * 1000,
    );
    let next = 0;
    while (left > 0 && next < wanting.length) {
      const now = this.deps.clock.now();
      const picked = await this.deps.store.transaction(async (tx) => {
        const out: { session: ProviderSession; lease: LeasedJob }[] = [];
        for (; next < wanting.length && out.length < LEASES_PER_TX && left > 0; next++) {
          const { session, retake } = wanting[next] as (typeof wanting)[number];
          const caps = session.capabilities;
          if (!caps || session.congested || this.sessions.get(session.address) !== session) continue;
          // A provider has a second turn in a pass: the leases of its first turn in this transaction take room too.
          let room = caps.max_jobs - session.inFlight.size - out.filter((o) => o.session === session).length;
          while (room > 0 && left > 0 && out.length < LEASES_PER_TX && fitsAny(shape, caps)) {
            const lease = await this.leaseIn(tx, session, caps, now, retake);
            if (!lease) break;
            out.push({ session, lease });
            room--;
            left--;
            const g = shape.find((x) => x.lane === lease.job.lane && x.gpuRequired === lease.job.gpuRequired);
            if (g) g.count--;
          }
          // A provider with room left and more that fits is served again in the next transaction.
          if (room > 0 && out.length >= LEASES_PER_TX && left > 0 && fitsAny(shape, caps)) break;
        }
        return out;
      });
      for (const { session, lease } of picked) {
        const frame = await this.jobFrame(lease, now);
        session.inFlight.add(frame.job_id);
        session.send(frame);
      }
    }
  }

  private async splitPending(): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (tx) => {
      for (const taskId of await tx.validator.tasksToSplit(50)) {
        const task = await tx.tasks.get(taskId);
        if (!task) continue;
        const slices = task.inputKind === 'slices' ? await tx.slices.list(taskId) : [];
        const { jobs, inputs } = splitTask(task, slices, this.config.sliceBytes);
        await tx.jobs.insert(jobs, now);
        await tx.validator.holdForAdmission(taskId);
        await tx.validator.insertInputs(inputs);
        if (this.config.verifyMode !== 'reexecute') {
          for (const input of inputs)
            if (input.workload !== 'synthetic' && this.isPaired(input.jobId))
              await tx.validator.insertTwin(input.jobId, randomUUID(), now);
        }
        await tx.tasks.transition(taskId, ['pending'], 'in_progress', now);
      }
    });
  }

  /**
   * One admission pass (docs/market-api.md, "Admission by lane"): the comfort guard over the queued
   * consumer jobs, the capacity the connected industrial providers announce (`max_jobs` each), and
   * the waiting industrial jobs admitted, deferred or expired in line order. Every outcome is
   * written to the job's row; an expired job fails its task (refunded).
   */
  private async admitNow(): Promise<QueueGroup[]> {
    const now = this.deps.clock.now();
    let capacity = 0;
    for (const s of this.sessions.values())
      if (s.capabilities?.lanes.includes('industrial')) capacity += s.capabilities.max_jobs;
    return this.deps.store.transaction(async (tx) => {
      const view = await tx.validator.admissionView(1000);
      if (view.waiting.length === 0) return tx.validator.queueShape();
      const { decisions } = decideAdmissions(this.guard, {
        ...view,
        capacity,
        now,
        maxDeferMs: this.config.industrialDeferMaxMs,
      });
      const failed = new Set<string>();
      const before = new Map(view.waiting.map((w) => [w.jobId, w]));
      for (const d of decisions) {
        if (failed.has(d.taskId)) continue;
        if (d.outcome === 'admitted') await tx.validator.admit(d.jobId, now);
        else if (d.outcome === 'expired') {
          failed.add(d.taskId);
          await this.failTask(tx, d.taskId, d.message, now);
        } else {
          const w = before.get(d.jobId);
          // An unchanged deferral is not written again.
          if (w?.admission !== 'deferred' || w.deferCode !== d.code)
            await tx.validator.defer(d.jobId, d.code, d.message, now);
        }
      }
      return tx.validator.queueShape();
    });
  }

  /**
   * Leases the next job that fits `session` inside `tx` and records its assignment; undefined when
   * none fits. Unless `retake`, a job `session` itself lost is not leased to it.
   */
  private async leaseIn(
    tx: MarketTx,
    session: ProviderSession,
    caps: CapabilitiesFrame,
    now: number,
    retake: boolean,
  ): Promise<LeasedJob | undefined> {
    const hardwareGpu = caps.gpu !== null && !caps.gpu.software;
    const job = await tx.validator.leaseFor({
      owner: session.address,
      notLostByOwner: !retake,
      lanes: caps.lanes,
      hardwareGpu,
      ask: BigInt(caps.ask),
      now,
      leaseMs: this.config.jobDeadlineMs,
    });
    if (!job) return undefined;
    const previous = await tx.validator.assignment(job.jobId);
    let lease: Lease;
    if (!previous) {
      const standbys = this.standbysFor(job, session.address);
      const replication =
        standbys.length > 0 ? { mode: 'warm-standby' as const, standbyProviders: standbys } : undefined;
      lease = this.machine.grant({
        workloadId: job.jobId,
        providerId: session.address,
        nowMs: now,
        restartPolicy: this.config.restartPolicy,
        ...(replication ? { replication } : {}),
      }).lease;
    } else {
      let old = previous.lease as unknown as Lease;
      if (holdsLease(old.state)) old = this.machine.revoke(old, now, 'requeued').lease;
      if (old.state.kind !== 'respawning') {
        await tx.validator.failJob(job.jobId, 'lease record is final', now);
        return undefined;
      }
      lease = this.machine.respawnSucceeded(old, now, old.state.attempt, session.address).lease;
    }
    const input = await tx.validator.input(job.jobId);
    const task = await tx.tasks.get(job.taskId);
    if (!input || !task) throw new Error(`job ${job.jobId} has no input or task`);
    return { job, input, task, assignment: await this.assign(tx, job, input, session.address, lease, now) };
  }

  /**
   * The standbys a new lease names: up to `standbys` other connected providers whose capabilities
   * fit the job, in join order starting after the holder (so standby duty rotates). Whether each
   * is still there and has room is decided at the handover, not here.
   */
  private standbysFor(job: JobRecord, holder: string): string[] {
    if (this.config.standbys === 0) return [];
    const all = [...this.sessions.values()];
    const at = all.findIndex((s) => s.address === holder);
    const order = [...all.slice(at + 1), ...all.slice(0, Math.max(at, 0))];
    return order
      .filter((s) => s.address !== holder && s.capabilities !== undefined && fitsJob(job, s.capabilities))
      .slice(0, this.config.standbys)
      .map((s) => s.address);
  }

  /** Records `provider`'s assignment of `job` under `lease`: its key, whether it is checked, the beacon for synthetic jobs. */
  private async assign(
    tx: MarketTx,
    job: JobRecord,
    input: JobInput,
    provider: string,
    lease: Lease,
    now: number,
  ): Promise<AssignmentRecord> {
    const blockHash = input.workload === 'synthetic' ? await this.beacon(tx) : null;
    // Both runs of a pair share the pair key; any other job's key is per provider. Either stays the
    // same when a job comes back to the same provider, so a re-lease reveals nothing of pairing.
    const pair =
      this.config.verifyMode !== 'reexecute' && input.workload !== 'synthetic'
        ? await tx.validator.pairOf(job.jobId)
        : undefined;
    const key = pair
      ? derivePairKey(this.secret, pair.primary, this.deps.blake3)
      : deriveAssignmentKey(this.secret, job.jobId, provider, 0, this.deps.blake3);
    const assignment: AssignmentRecord = {
      jobId: job.jobId,
      provider,
      epoch: lease.epoch,
      lease: lease as unknown as JsonValue,
      assignmentKey: toHex(key),
      checked: this.reexecutes(input.workload, job.jobId, lease.epoch),
      blockHash,
    };
    await tx.validator.putAssignment(assignment, now);
    return assignment;
  }

  /** The job frame of a lease just taken (reads the slice bytes). */
  private async jobFrame(picked: LeasedJob, now: number): Promise<JobFrame> {
    const { job, input, task, assignment } = picked;
    const bytes = await readJobBytes(input, task, this.deps.slicesDir);
    return {
      type: 'job',
      job_id: job.jobId,
      task_id: job.taskId,
      workload: input.workload,
      gpu_required: job.gpuRequired,
      lane: job.lane,
      slice:
        input.workload === 'synthetic'
          ? null
          : { encoding: 'base64', data: Buffer.from(bytes).toString('base64'), bytes: bytes.length },
      offer: job.offer.toString(),
      epoch: assignment.epoch,
      deadline: now + this.config.jobDeadlineMs,
      assignment_key: assignment.assignmentKey,
      synthetic:
        input.workload === 'synthetic'
          ? {
              block_hash: assignment.blockHash as string,
              matrix_size: input.matrixSize as number,
              iterations: input.iterations as number,
            }
          : null,
    };
  }

  /**
   * Whether the validator re-executes this assignment: BLAKE3-keyed(secret, tag ‖ job ‖ epoch) read
   * as a fraction below checkFraction. Decided at assignment, stored, never sent: the provider
   * cannot tell checked jobs from the others.
   */
  isChecked(jobId: string, epoch: number): boolean {
    return this.draw(CHECK_TAG, jobId, epoch);
  }

  /**
   * Whether a job is also run by a second, distinct provider (verifyMode second_provider or both):
   * drawn like isChecked under its own tag, once per job at the split, and never sent.
   */
  isPaired(jobId: string): boolean {
    return this.draw(PAIR_TAG, jobId, 0);
  }

  /** Whether the validator re-executes an assignment: per verifyMode; synthetic jobs cannot be paired, so they are always drawn for re-execution. */
  private reexecutes(workload: JobInput['workload'], jobId: string, epoch: number): boolean {
    if (this.config.verifyMode === 'second_provider' && workload !== 'synthetic') return false;
    return this.isChecked(jobId, epoch);
  }

  private draw(tag: string, jobId: string, epoch: number): boolean {
    if (this.config.checkFraction >= 1) return true;
    if (this.config.checkFraction <= 0) return false;
    const h = this.deps.blake3.keyed(this.secret, concatBytes([utf8(tag), lengthPrefixed(jobId), u64le(epoch)]));
    const x =
      ((h[0] as number) * 2 ** 24 + (h[1] as number) * 2 ** 16 + (h[2] as number) * 2 ** 8 + (h[3] as number)) /
      2 ** 32;
    return x < this.config.checkFraction;
  }

  /** The current batch beacon: the latest sealed compute_root, or a genesis value derived from the market id. */
  private async beacon(tx: MarketTx): Promise<string> {
    const latest = await tx.validator.latestBatch();
    return latest
      ? latest.computeRoot
      : toHex(this.deps.blake3.hash(concatBytes([utf8(BEACON_TAG), lengthPrefixed(this.marketIdValue)])));
  }

  private async sendPrices(session: ProviderSession): Promise<void> {
    const offers = await this.deps.store.transaction((tx) => tx.validator.queuedOffers());
    const lanes = (['consumer', 'industrial'] as const).map((lane) => {
      const o = offers.filter((x) => x.lane === lane).map((x) => x.offer);
      const q = (p: number) => (o.length === 0 ? 0n : (o[Math.min(o.length - 1, Math.floor(p * o.length))] as bigint));
      return { lane, queued: o.length, offer_p50: q(0.5).toString(), offer_p25: q(0.25).toString() };
    });
    session.send({ type: 'prices', at: this.deps.clock.now(), lanes });
  }

  // ── results ───────────────────────────────────────────────────────────────

  /**
   * Verifies one result: MALFORMED / WRONG_MARKET / STALE / BAD_SIGNATURE from the result and the
   * session's key, with no store access; then the result joins the next group commit, which
   * decides REPLAYED and NOT_LEASED for the whole group with one locked read, re-executes the
   * checked ones and writes the group set-based (settleGroup). Resolves once the commit holding it
   * is durable.
   *
   * Freshness (STALE) is judged against `receivedAt`, the market's clock when the frame arrived
   * (the socket reads it with `now()` on receipt), not when this runs: a result that was fresh on
   * arrival stays fresh however long it waits behind other work.
   */
  async submitResult(
    session: ProviderSession,
    frame: ResultFrame,
    receivedAt: number = this.deps.clock.now(),
  ): Promise<ResultAck> {
    if (this.closed) throw new ValidatorClosingError();
    const jobId = frame.result.job_id;
    const refuse = (code: string, message: string): ResultAck => ({
      jobId,
      epoch: frame.epoch,
      accepted: false,
      code,
      message,
    });
    const verdict = verifyComputeResult(
      frame.result,
      { marketId: this.marketIdValue, now: receivedAt },
      this.signatureCheck(session),
    );
    if (!verdict.ok) return refuse(verdict.code, verdict.message);
    const r = verdict.result;
    return new Promise<ResultAck>((resolve, reject) => {
      this.pending.push({ session, result: r, epoch: frame.epoch, resolve, reject });
      if (!this.flushTimer) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = undefined;
          this.serial(() => this.flushNow(), 'settle').catch((err: unknown) => this.report('settle', err));
        }, this.config.settleWindowMs);
      }
    });
  }

  /** The session's result signature check, made once per session (parsing its key costs about as much as a verification). */
  private signatureCheck(session: ProviderSession): SignatureCheck {
    let check = this.checks.get(session);
    if (!check) {
      check = resultSignatureCheck(session.publicKey, this.deps.blake3);
      this.checks.set(session, check);
    }
    return check;
  }

  /** The validator's own run of an assignment: the digests an honest provider returns for it. */
  private async reexecute(
    input: JobInput,
    task: Pick<TaskRecord, 'taskId' | 'payload'>,
    a: Pick<AssignmentRecord, 'assignmentKey' | 'blockHash'>,
    workerAddress: string,
  ): Promise<{ resultHash: string; proof: string }> {
    const bytes = await readJobBytes(input, task, this.deps.slicesDir);
    if (this.deps.digester) {
      const synthetic =
        input.workload === 'synthetic'
          ? {
              block_hash: a.blockHash as string,
              worker_address: workerAddress,
              matrix_size: input.matrixSize as number,
            }
          : null;
      return this.deps.digester.digest({ data: bytes, key: fromHex(a.assignmentKey), synthetic });
    }
    const output = jobOutputBytes(
      input,
      bytes,
      a.blockHash ? { blockHash: a.blockHash, workerAddress } : null,
      this.deps.sha256,
    );
    return expectedDigests(output, fromHex(a.assignmentKey), this.deps.blake3);
  }

  /**
   * Settles every gathered result in one transaction (a group commit) with a constant number of
   * statements whatever the group's size (settleGroup, pairSteps, payTasks), then acks them and
   * sends receipts. A result whose re-execution failed is answered with that error alone.
   */
  private async flushNow(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const now = this.deps.clock.now();
    let acks: (ResultAck | { error: unknown })[];
    let receipts: Receipt[];
    let disputes: string[] = [];
    try {
      const t0 = performance.now();
      ({ acks, receipts, disputes } = await this.deps.store.transaction(async (tx) => {
        const group = await this.settleGroup(tx, batch, now);
        const disputed = await this.pairSteps(tx, [...group.pairs], now);
        return { acks: group.acks, receipts: await this.payTasks(tx, [...group.touched], now), disputes: disputed };
      }));
      this.settleStats.commits++;
      this.settleStats.results += batch.length;
      this.settleStats.receipts += receipts.length;
      this.settleStats.ms += performance.now() - t0;
    } catch (err) {
      for (const p of batch) p.reject(err);
      throw err;
    }
    batch.forEach((p, i) => {
      const a = acks[i] as ResultAck | { error: unknown };
      if ('error' in a) p.reject(a.error);
      else p.resolve(a);
    });
    this.deliver(receipts);
    for (const primary of disputes)
      this.serial(() => this.resolveDispute(primary), 'settle').catch((err: unknown) => this.report('dispute', err));
    this.kick();
  }

  /** Disconnects newly refused providers, then sends receipts (after the acks, which go out in the resolved promises' continuations). */
  private deliver(receipts: readonly { provider: string; taskId: string; receipt: JsonValue }[]): void {
    const refused = [...this.toRefuse];
    this.toRefuse.clear();
    if (refused.length > 0)
      setTimeout(
        () =>
          refused.forEach((a) =>
            this.sessions.get(a)?.close(CLOSE_CODES.refused, 'refused after too many wrong results'),
          ),
        20,
      );
    setImmediate(() => {
      for (const r of receipts) {
        const session = this.sessions.get(r.provider);
        if (!session) continue;
        session.send({ type: 'receipt', receipt: r.receipt as never, task_id: r.taskId });
        this.receiptDelivery.noteSent(session, [(r.receipt as { idempotency_key: string }).idempotency_key]);
      }
    });
  }

  /**
   * Compares the two runs of each pair (by primary job id) once both are in, for many pairs with
   * one read and one write. A held run that agrees (same result_hash) with the other run — held
   * too, or already verified by re-execution — is accepted; returns the pairs whose runs disagree,
   * which the validator re-executes to decide (resolveDispute).
   */
  private async pairSteps(tx: MarketTx, primaries: readonly string[], now: number): Promise<string[]> {
    if (primaries.length === 0) return [];
    const runs = await tx.settlement.pairRuns(primaries);
    const disputes: string[] = [];
    const accept: { seq: bigint; jobId: string; verdict: 'accepted'; settledHash: string }[] = [];
    for (const primary of primaries) {
      const x = runs.find((r) => r.primary === primary && r.isPrimary);
      const y = runs.find((r) => r.primary === primary && !r.isPrimary);
      if (!x || !y || !x.done || !y.done || x.resultHash === null || y.resultHash === null) continue;
      if (!x.held && !y.held) continue;
      // Agreement is on both digests: the runs share the pair key, so honest runs have the same proof too.
      if (
        x.resultHash !== y.resultHash ||
        x.digests === null ||
        y.digests === null ||
        x.digests.resultHash !== y.digests.resultHash ||
        x.digests.proof !== y.digests.proof
      ) {
        disputes.push(primary);
        continue;
      }
      for (const run of [x, y])
        if (run.held)
          accept.push({ seq: run.held.seq, jobId: run.jobId, verdict: 'accepted', settledHash: run.held.resultHash });
    }
    await tx.settlement.settleHeldMany(accept, now);
    return disputes;
  }

  /**
   * The two runs of a pair disagree: the validator re-executes each held run against its own
   * assignment key; a run that matches is accepted, one that does not earns nothing and is
   * slashed (WRONG_RESULT) and the slice is settled on the verified digest.
   */
  private async resolveDispute(primary: string): Promise<void> {
    if (this.closed) return;
    const runs = await this.deps.store.transaction(async (tx) => {
      const pair = await tx.validator.pairOf(primary);
      const out = [];
      for (const id of pair ? [pair.primary, pair.twin] : []) {
        const held = await tx.validator.heldResult(id);
        const a = await tx.validator.assignment(id);
        const input = await tx.validator.input(id);
        const task = held ? await tx.tasks.get(held.taskId) : undefined;
        if (held && a && input && task) out.push({ id, held, a, input, task });
      }
      return out;
    });
    const checked: ((typeof runs)[number] & { expected: { resultHash: string; proof: string } })[] = [];
    for (const run of runs)
      checked.push({ ...run, expected: await this.reexecute(run.input, run.task, run.a, run.held.workerAddress) });
    const now = this.deps.clock.now();
    const receipts = await this.deps.store.transaction(async (tx) => {
      const tasks = new Set<string>();
      for (const { id, held, expected } of checked) {
        const still = await tx.validator.heldResult(id);
        if (!still || still.seq !== held.seq) continue;
        tasks.add(held.taskId);
        const proof = parseComputeResult(held.result).proof;
        if (expected.resultHash === held.resultHash && expected.proof === proof) {
          await tx.validator.settleHeld(held.seq, id, 'accepted', held.resultHash, now);
          continue;
        }
        await tx.validator.settleHeld(held.seq, id, 'wrong', expected.resultHash, now);
        const after = await tx.validator.penalize(
          held.workerAddress,
          id,
          'WRONG_RESULT',
          this.config.slash,
          this.config.reputationDrop,
          this.config.refuseAfter,
          now,
        );
        if (after.refused) this.toRefuse.add(held.workerAddress);
      }
      const paid: { provider: string; taskId: string; receipt: JsonValue }[] = [];
      for (const taskId of tasks) paid.push(...(await this.payIfComplete(tx, taskId, now)));
      return paid;
    });
    this.deliver(receipts);
  }

  /** Pairs left with a held run (a restart between a disagreement and its resolution, or a late twin): compared again. */
  private async resumePairs(): Promise<void> {
    const now = this.deps.clock.now();
    const disputes = await this.deps.store.transaction(async (tx) => {
      const out: string[] = [];
      out.push(...(await this.pairSteps(tx, await tx.validator.heldPairs(100), now)));
      return out;
    });
    for (const primary of disputes) await this.resolveDispute(primary);
  }

  /**
   * Settles a group of results set-based: one locked read of every result's job, lease and nonce;
   * the checks decided in memory in arrival order (a nonce seen before or earlier in the group is
   * REPLAYED; a job not leased to the sender, or already settled by an earlier result of the
   * group, is NOT_LEASED); the checked ones re-executed; then one statement each for the nonces,
   * the jobs and leases, the results and (when there are any) the penalties. Returns each result's
   * answer in group order and the tasks and pairs it touched.
   */
  private async settleGroup(
    tx: MarketTx,
    batch: readonly PendingResult[],
    now: number,
  ): Promise<{ acks: (ResultAck | { error: unknown })[]; touched: Set<string>; pairs: Set<string> }> {
    const acks: (ResultAck | { error: unknown } | undefined)[] = batch.map(() => undefined);
    const refuse = (i: number, code: string, message: string) => {
      const p = batch[i] as PendingResult;
      acks[i] = { jobId: p.result.job_id, epoch: p.epoch, accepted: false, code, message };
    };
    const replayed = (i: number) => {
      const r = (batch[i] as PendingResult).result;
      refuse(i, 'REPLAYED', `nonce ${r.nonce} of ${r.worker_address} was already used; every result needs a new nonce`);
    };
    const notLeased = (i: number) => {
      const r = (batch[i] as PendingResult).result;
      refuse(i, 'NOT_LEASED', `job ${r.job_id} is not leased to ${r.worker_address}`);
    };
    const lookups: { ord: number; jobId: string; worker: string; nonce: bigint }[] = [];
    batch.forEach((p, i) => {
      if (UUID_TEXT.test(p.result.job_id))
        lookups.push({ ord: i, jobId: p.result.job_id, worker: p.result.worker_address, nonce: p.result.nonce });
    });
    const ctx = await tx.settlement.groupContext(lookups);

    // In arrival order: replays, then the lease (a job settles once per group).
    const nonceKey = (r: ComputeResult) => `${r.worker_address} ${r.nonce.toString()}`;
    const seenNonces = new Set<string>();
    const taken = new Set<string>();
    const live: { i: number; row: GroupRow }[] = [];
    batch.forEach((p, i) => {
      const r = p.result;
      const row = ctx.get(i);
      if (row?.nonceSeen || seenNonces.has(nonceKey(r))) return replayed(i);
      seenNonces.add(nonceKey(r));
      if (
        !row ||
        row.taskId !== r.task_id ||
        row.status !== 'leased' ||
        row.leaseOwner !== r.worker_address ||
        row.provider !== r.worker_address ||
        row.epoch === null ||
        taken.has(row.jobId)
      )
        return notLeased(i);
      // The same provider may hold the job again under a newer assignment (its lease lapsed and the
      // job came back to it): a result keyed for the earlier one is not judged against the new key.
      if (row.epoch !== p.epoch)
        return refuse(
          i,
          COMPUTE_RESULT_CODES.STALE_ASSIGNMENT,
          `result for job ${r.job_id} was made for assignment epoch ${p.epoch}; the job is now assigned at epoch ${row.epoch} — send the result of that assignment`,
        );
      taken.add(row.jobId);
      p.session.inFlight.delete(row.jobId);
      live.push({ i, row });
    });

    // Checked assignments are re-executed (in parallel; off this thread with a digest pool).
    const expected = new Map<number, { resultHash: string; proof: string }>();
    const runs = await Promise.allSettled(
      live
        .filter(({ row }) => row.checked)
        .map(async ({ i, row }) => {
          if (!row.input || !row.assignmentKey)
            throw new Error(`checked job ${row.jobId} has no input or assignment key`);
          expected.set(
            i,
            await this.reexecute(
              row.input,
              { taskId: row.taskId, payload: row.payload as JsonValue },
              { assignmentKey: row.assignmentKey, blockHash: row.blockHash },
              (batch[i] as PendingResult).result.worker_address,
            ),
          );
        }),
    );
    const failedRuns = new Set<number>();
    live
      .filter(({ row }) => row.checked)
      .forEach(({ i }, k) => {
        const run = runs[k] as PromiseSettledResult<void>;
        if (run.status === 'rejected') {
          acks[i] = { error: run.reason };
          failedRuns.add(i);
        }
      });
    const ready = live.filter(({ i }) => !failedRuns.has(i));

    // Nonces are claimed in the store (another market instance may have claimed one since the read).
    const claimed = await tx.settlement.claimNonces(
      ready.map(({ i }) => ({
        worker: (batch[i] as PendingResult).result.worker_address,
        nonce: (batch[i] as PendingResult).result.nonce,
      })),
      now,
    );
    const settled = ready.filter(({ i }) => {
      if (claimed.has(nonceKey((batch[i] as PendingResult).result))) return true;
      replayed(i);
      return false;
    });

    const touched = new Set<string>();
    const pairs = new Set<string>();
    const jobs: { jobId: string; resultHash: string }[] = [];
    const results: ResultRow[] = [];
    const wrong: { address: string; jobId: string }[] = [];
    for (const { i, row } of settled) {
      const r = (batch[i] as PendingResult).result;
      const e = expected.get(i) ?? null;
      const json = computeResultToJson(r) as unknown as JsonValue;
      const base = {
        jobId: r.job_id,
        taskId: row.taskId,
        workerAddress: r.worker_address,
        epoch: row.epoch as number,
        resultHash: r.result_hash,
        result: json,
      };
      touched.add(row.taskId);
      if (e !== null && (e.resultHash !== r.result_hash || e.proof !== r.proof)) {
        jobs.push({ jobId: r.job_id, resultHash: e.resultHash });
        results.push({ ...base, verdict: 'wrong', settledHash: e.resultHash, checked: true });
        wrong.push({ address: r.worker_address, jobId: r.job_id });
        refuse(
          i,
          'WRONG_RESULT',
          `result for job ${r.job_id} does not match the verified digests; it earns nothing and the bond was slashed`,
        );
        continue;
      }
      jobs.push({ jobId: r.job_id, resultHash: r.result_hash });
      // One run of a pair, not re-executed: committed as held, acknowledged like any other result, judged against the other run.
      const held = e === null && row.pairPrimary !== null;
      if (held) pairs.add(row.pairPrimary as string);
      results.push({
        ...base,
        verdict: held ? 'held' : 'accepted',
        settledHash: r.result_hash,
        checked: held ? false : row.checked,
      });
      acks[i] = {
        jobId: r.job_id,
        epoch: (batch[i] as PendingResult).epoch,
        accepted: true,
        code: null,
        message: null,
      };
    }
    await tx.settlement.finishJobs(jobs, now);
    await tx.settlement.insertResults(results, now);
    for (const a of await tx.settlement.penalizeMany(
      wrong,
      'WRONG_RESULT',
      this.config.slash,
      this.config.reputationDrop,
      this.config.refuseAfter,
      now,
    ))
      this.toRefuse.add(a);
    return { acks: acks as (ResultAck | { error: unknown })[], touched, pairs };
  }

  /** Pays a task whose every job is done (payTasks for one task). */
  private async payIfComplete(tx: MarketTx, taskId: string, now: number): Promise<Receipt[]> {
    return this.payTasks(tx, [taskId], now);
  }

  /** Pays every task of `taskIds` whose every job is done (task-payout.ts). */
  private async payTasks(tx: MarketTx, taskIds: readonly string[], now: number): Promise<Receipt[]> {
    return (await payTasks(tx, taskIds, now, this.payoutDeps())).receipts;
  }

  /** The market's identity and receipt key, as paying a task needs them. */
  private payoutDeps(): TaskPayoutDeps {
    if (!this.receiptSigner) throw new Error('the validator has not started: no market key to sign receipts with');
    return { blake3: this.deps.blake3, marketId: this.marketIdValue, signer: this.receiptSigner };
  }

  /** A receipt signed with the market's key (docs/receipt-encoding.md, "Receipt signature"). */
  private signed(receipt: ReturnType<typeof makeReceipt>): ReturnType<typeof makeReceipt> {
    if (!this.receiptSigner) throw new Error('the validator has not started: no market key to sign receipts with');
    return signReceipt(receipt, this.marketIdValue, this.receiptSigner);
  }

  /** A stored receipt as sent: one stored before receipts were signed is signed now (same bytes, same signature). */
  private signedReceiptJson(stored: JsonValue): JsonValue {
    const o = stored as { signature?: unknown };
    if (typeof o.signature === 'string') return stored;
    return receiptToJson(this.signed(parseReceipt(stored, this.deps.blake3))) as unknown as JsonValue;
  }

  /**
   * The provider confirms it recorded a receipt; it is not sent again. Acknowledgements are
   * committed in groups, like heartbeats: the ones that arrive while another step runs share one
   * transaction and one UPDATE. Resolves once the ack is committed.
   */
  receiptAck(session: ProviderSession, key: string): Promise<void> {
    if (this.closed) return Promise.reject(new ValidatorClosingError());
    return new Promise<void>((resolve, reject) => {
      this.receiptDelivery.acked(session, key);
      this.receiptAcks.push({ provider: session.address, key, resolve, reject });
      if (this.receiptAcksQueued) return;
      this.receiptAcksQueued = true;
      this.serial(() => this.flushReceiptAcks(), 'lease').catch((err: unknown) => this.report('receipt_ack', err));
    });
  }

  /** Commits every waiting receipt acknowledgement in one transaction (see receiptAck). */
  private async flushReceiptAcks(): Promise<void> {
    this.receiptAcksQueued = false;
    const acks = this.receiptAcks;
    this.receiptAcks = [];
    if (acks.length === 0) return;
    try {
      const now = this.deps.clock.now();
      await this.deps.store.transaction((tx) => tx.validator.markDeliveredMany(acks, now));
    } catch (err) {
      for (const a of acks) a.reject(err);
      throw err;
    }
    for (const a of acks) a.resolve();
  }

  // ── batches ───────────────────────────────────────────────────────────────

  /** Seals the accepted results not yet in a batch: compute_root over their canonical bytes, with their SUBMIT_RESULT records. */
  async sealBatchNow(): Promise<number | undefined> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const rows = await tx.validator.unbatched(1000);
      if (rows.length === 0) return undefined;
      const results = rows.map((row) => parseComputeResult(row.result));
      const n = ((await tx.validator.latestBatch())?.n ?? 0) + 1;
      const transactions = results.map((r) => buildSubmitResultTx(r)) as unknown as JsonValue;
      await tx.validator.sealBatch(
        {
          n,
          computeRoot: computeRoot(results, this.deps.blake3),
          resultCount: results.length,
          transactions,
          sealedAt: now,
        },
        rows.map((r) => r.seq),
      );
      return n;
    });
  }

  /**
   * A test signal: resolves once every step queued so far (dispatch passes kicked before this call
   * included, sweeps, commits) has run, so a test can assert that nothing more happens without
   * sleeping.
   */
  async whenIdle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // a kick() queues its pass on the next turn
    await this.serial(async () => undefined, 'dispatch');
  }

  /** Runs `fn` after every earlier serialised step (store steps never interleave within one instance). */
  private serial<T>(fn: () => Promise<T>, kind: StepKind = 'dispatch'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.steps.push({
        urgency: STEP_URGENCY[kind],
        run: () =>
          Promise.resolve()
            .then(fn)
            .then(resolve, reject)
            .finally(() => {
              this.stepRunning = false;
              this.nextStep();
            }),
      });
      this.nextStep();
    });
  }

  /** Starts the most urgent waiting step (the earliest of its kind) when none is running. */
  private nextStep(): void {
    if (this.stepRunning || this.steps.length === 0) return;
    let best = 0;
    for (let i = 1; i < this.steps.length; i++)
      if ((this.steps[i] as Step).urgency < (this.steps[best] as Step).urgency) best = i;
    const [step] = this.steps.splice(best, 1);
    this.stepRunning = true;
    void (step as Step).run();
  }

  private report(what: string, err: unknown): void {
    this.log.error(`validator ${what} failed`, { what, ...errorFields(err) });
  }
}
