import { randomUUID } from 'node:crypto';
import { concatBytes, lengthPrefixed, u64le } from '../../core/bytes.js';
import { toHex, utf8 } from '../../core/hex.js';
import { deriveAssignmentKey, derivePairKey } from '../../core/market/assignment-proof.js';
import type { JsonValue } from '../../core/market/canonical.js';
import { holdsLease, type Lease } from '../../core/market/lease-state.js';
import { PAYOUT_BPS } from '../../core/market/payout.js';
import { checkProbability } from '../../core/market/probation.js';
import { ComfortGuard } from '../../core/pricing/comfort-guard.js';
import type { CapabilitiesFrame, JobFrame } from '../../shared/market-protocol.js';
import type { MarketTx } from '../store/market-store.js';
import type { ProbationRecord } from '../store/bond-repo.js';
import {
  assignmentsStatement,
  type AssignmentRecord,
  type JobInput,
  type LeaseCandidate,
  type LeaseContext,
  type QueueGroup,
} from '../store/validator-repo.js';
import type { JobRecord } from '../store/jobs-repo.js';
import type { TaskRecord, TaskVerification } from '../store/tasks-repo.js';
import { decideAdmissions } from './admission-pass.js';
import { dispatchOrder } from './dispatch-order.js';
import type { ProviderSession } from './provider-session.js';
import { JobInputMissingError, readJobBytes, splitTask } from './split.js';
import { failTask } from './task-failure.js';
import { probationPolicy } from './validator-config.js';
import type { ValidatorContext } from './validator-context.js';

const CHECK_TAG = 'tessera-check-v1';
const PAIR_TAG = 'tessera-pair-v1';
const BEACON_TAG = 'tessera-genesis-beacon-v1';

/** How many leases one dispatch transaction takes at most. */
const LEASES_PER_TX = 32;
/** How many pending tasks one dispatch pass splits at most. */
const SPLIT_PER_PASS = 50;

/** The lock statement of a pass's first leases, to be sent with an earlier read (Dispatcher.earlyCandidates). */
interface EarlyLock {
  limit: number;
  read: () => Promise<LeaseCandidate[]>;
}

/** The jobs that lock statement locked, and the limit it was sent with. */
interface EarlyCandidates {
  limit: number;
  candidates: LeaseCandidate[];
}

/** The lock statement's filter for providers with these capabilities: any lane of theirs, a hardware GPU if one has it, the lowest ask. */
function candidatesRequest(
  caps: readonly CapabilitiesFrame[],
  limit: number,
): Parameters<MarketTx['validator']['leaseCandidates']>[0] {
  return {
    lanes: [...new Set(caps.flatMap((c) => c.lanes))],
    hardwareGpu: caps.some(hardwareGpuOf),
    minAsk: caps.reduce((m, c) => (BigInt(c.ask) < m ? BigInt(c.ask) : m), BigInt(caps[0]!.ask)),
    limit,
  };
}

/** What a dispatch pass has left to do, carried from one lease transaction to the next. */
interface LeasePass {
  /** The queue's shape, counted down as jobs are leased. */
  shape: QueueGroup[];
  /** Jobs queued and admitted, counted down. */
  left: number;
  /** The providers with room, in dispatch order (dispatch-order.ts). */
  wanting: ReturnType<typeof dispatchOrder<ProviderSession>>;
  /** The next of them to serve. */
  next: number;
}

/** A lease just taken: the job, its input and task, and the assignment recorded for it. */
export interface LeasedJob {
  job: JobRecord;
  input: JobInput;
  task: TaskRecord;
  assignment: AssignmentRecord;
  /** The job's input, read in the transaction that took the lease (so a committed lease always has a frame to send). */
  bytes: Uint8Array;
}

/** A lease taken for a session, whose job frame goes out once its transaction has committed. */
export interface LeasedJobTo {
  session: ProviderSession;
  lease: LeasedJob;
}

/** Whether one job could go to a provider with these capabilities (lane, hardware GPU, ask ≤ offer). */
export function fitsJob(job: Pick<JobRecord, 'lane' | 'gpuRequired' | 'offer'>, caps: CapabilitiesFrame): boolean {
  const hardwareGpu = caps.gpu !== null && !caps.gpu.software;
  return caps.lanes.includes(job.lane) && (hardwareGpu || !job.gpuRequired) && BigInt(caps.ask) <= job.offer;
}

/** Whether any queued group could go to a provider with these capabilities (fitsJob for the group's best offer). */
function fitsAny(shape: readonly QueueGroup[], caps: CapabilitiesFrame): boolean {
  return shape.some(
    (g) => g.count > 0 && fitsJob({ lane: g.lane, gpuRequired: g.gpuRequired, offer: g.maxOffer }, caps),
  );
}

function hardwareGpuOf(caps: CapabilitiesFrame): boolean {
  return caps.gpu !== null && !caps.gpu.software;
}

/**
 * One provider's turn in a lease transaction. A provider has two turns in a pass (dispatch-order.ts),
 * which share its room: what one of them takes, the other cannot.
 */
export interface LeaseTurn {
  session: ProviderSession;
  caps: CapabilitiesFrame;
  /** Whether it may take back a job it lost itself (dispatch-order.ts). */
  retake: boolean;
  /** The jobs its provider may take in this transaction, across both its turns. */
  room: number;
  /** The jobs this turn took. */
  taken: number;
}

/** What `turn`'s provider took in this transaction, across its turns. */
function takenBy(turns: readonly LeaseTurn[], turn: LeaseTurn): number {
  return turns.reduce((n, t) => (t.session === turn.session ? n + t.taken : n), 0);
}

/**
 * Matches locked jobs (in dispatch order) to providers' turns (in dispatch order): each turn takes
 * the earliest jobs not yet taken that fit its provider, up to the provider's room — the lane, the
 * GPU and the ask, never a job it lost itself (unless the turn may `retake`), and never a job whose
 * pair's other run it holds, held, or takes in this same match. Counts each turn's `taken`.
 */
export function matchCandidates(
  turns: readonly LeaseTurn[],
  candidates: readonly LeaseCandidate[],
): { jobId: string; turn: LeaseTurn }[] {
  const out: { jobId: string; turn: LeaseTurn }[] = [];
  const taken = new Set<string>();
  const pairsOf = new Map<ProviderSession, Set<string>>();
  for (const turn of turns) {
    const owner = turn.session.address;
    const pairs = pairsOf.get(turn.session) ?? new Set<string>();
    pairsOf.set(turn.session, pairs);
    let left = turn.room - takenBy(turns, turn);
    for (const c of candidates) {
      if (left <= 0) break;
      if (taken.has(c.jobId) || !fitsJob(c, turn.caps)) continue;
      if ((!turn.retake && c.lostBy === owner) || c.pairHolders.includes(owner) || pairs.has(c.pairKey)) continue;
      taken.add(c.jobId);
      pairs.add(c.pairKey);
      turn.taken++;
      left--;
      out.push({ jobId: c.jobId, turn });
    }
  }
  return out;
}

/**
 * The dispatcher (River's producer): splits pending tasks into jobs, runs the admission pass, and
 * leases admitted jobs to the providers connected to this instance, sending each job frame once
 * its lease has committed. It also records assignments (keys, check and pair draws, the beacon)
 * for the lease keeper's handovers, and sends prices. Safe on every instance at once: jobs are
 * leased with row locks in the store, so two instances never lease one job; each serves its own
 * sockets. `runOnce` (pumpNow) is what `kick`, the sweep timer and the tests call.
 */
export class Dispatcher {
  /** The guard's mode and recovery wait (a cache: it is re-evaluated from the store's queue at every pass, and a restart starts loose). */
  private readonly guard: ComfortGuard;
  private pumpQueued = false;
  /** Whether the last pass ended with a provider here with room (true while a pass runs: see wantsRemoteWork). */
  private starved = true;

  /**
   * `pass` is what a kick runs (default: pumpNow). The ValidatorService facade passes its own
   * pumpNow, so a pass it runs, a timer's and a kick's all go through the one public method.
   * `capacityElsewhere` is the industrial capacity present on other live instances (presence.ts).
   */
  constructor(
    private readonly ctx: ValidatorContext,
    private readonly hooks: {
      pass?: () => Promise<void>;
      capacityElsewhere?: (tx: MarketTx, now: number) => Promise<number>;
    } = {},
  ) {
    this.guard = new ComfortGuard(ctx.config.comfortGuard, ctx.clock);
  }

  /**
   * Schedules a split + dispatch pass, coalesced: kicks until the scheduled pass starts (it waits
   * its turn in the step queue behind settlements and sweeps) are all answered by it, since it
   * reads the store when it starts; a kick while a pass runs schedules one more.
   */
  kick(): void {
    if (this.pumpQueued || this.ctx.isClosed()) return;
    this.pumpQueued = true;
    setImmediate(() => {
      const pass = this.hooks.pass ?? (() => this.pumpNow());
      this.ctx.steps
        .serial(() => {
          this.pumpQueued = false;
          return pass();
        })
        .catch((err: unknown) => {
          this.pumpQueued = false;
          this.ctx.report('dispatch', err);
        });
    });
  }

  /**
   * Whether a connected provider here could take a job now (capabilities announced, not
   * congested, below its max_jobs). Another instance's `jobs_ready` wakes this one only then: an
   * instance whose providers are full has nothing to lease, and the split and admission of what
   * was posted elsewhere are the posting instance's pass (with the sweep timer behind it).
   */
  hasRoom(): boolean {
    for (const s of this.ctx.sessions.values())
      if (s.capabilities && !s.congested && s.inFlight.size < s.capabilities.max_jobs) return true;
    return false;
  }

  /**
   * Whether another instance's new jobs should wake a pass here: a provider here has room, and the
   * last pass left it so (or a pass is running now). A pass that filled every provider here needs
   * no wake: room here is freed only by what wakes this instance itself (a settled result, a lost
   * or returned job, a join), which runs a pass that reads the whole queue.
   */
  wantsRemoteWork(): boolean {
    return this.starved && this.hasRoom();
  }

  /** One dispatch pass (pumpNow). */
  runOnce(): Promise<void> {
    return this.pumpNow();
  }

  /**
   * Splits pending tasks into jobs, admits industrial jobs, then leases admitted jobs to providers
   * with free capacity. One read of the queue's shape comes first: an empty queue costs no lease
   * at all, a provider that nothing queued fits is skipped, and the pass stops as soon as the queue
   * is empty. Leases for several providers share one transaction (up to LEASES_PER_TX; the first
   * of them is the pass's read and split transaction); providers are served in join order, each
   * up to its max_jobs, as before. Job frames go out once their leases have committed.
   */
  async pumpNow(): Promise<void> {
    if (this.ctx.isClosed()) return;
    // New jobs elsewhere during the pass may come after its read: they wake another pass.
    this.starved = true;
    try {
      await this.pass();
    } finally {
      this.starved = this.hasRoom();
    }
  }

  private async pass(): Promise<void> {
    const sessions = this.ctx.sessions;
    const pass: LeasePass = { shape: [], left: 0, wanting: [], next: 0 };
    // Fresh providers first; a job lost by a provider goes to another that fits before it may go back (dispatch-order.ts).
    pass.wanting = dispatchOrder(
      [...sessions.values()].filter((s) => s.capabilities && !s.congested && s.inFlight.size < s.capabilities.max_jobs),
      (s) => sessions.heard.get(s.address)?.seenAt ?? sessions.joinedAt.get(s.address),
      this.ctx.clock.now(),
      this.ctx.config.quorum.t1Secs * 1000,
    );
    // The split, the admission pass and the first leases share one transaction: a pass with
    // nothing to do is one round trip of reads, and a pass that leases needs no second commit.
    let picked = await this.ctx.store.transaction(async (tx) => {
      // The tasks to split (their rows, locked) and the rest of the pass's read leave in one write.
      const [toSplit, view] = await tx.together(
        () => tx.tasks.lockToSplit(SPLIT_PER_PASS),
        () => tx.validator.passView(),
      );
      const split = toSplit.length > 0;
      let early: EarlyCandidates | undefined;
      if (!split && !view.waiting) pass.shape = view.shape;
      else {
        // Nothing waits for admission and the split adds no industrial job: admission has nothing
        // to decide, and the queue's shape is read in the split's own round trip, with the jobs
        // the first lease statement would lock (the providers' room is known before the split).
        const queued = view.shape.reduce((n, g) => n + g.count, 0);
        const { shape, candidates } = await this.splitPending(tx, toSplit, !view.waiting, (made) =>
          this.earlyCandidates(tx, pass.wanting, queued + made),
        );
        early = candidates;
        pass.shape = shape ?? (await this.admitIn(tx));
      }
      pass.left = pass.shape.reduce((n, g) => n + g.count, 0);
      if (pass.left === 0) return [];
      const leased = await this.leaseBatch(tx, pass, early);
      // Other instances hear of the jobs split here only when some are still queued once this
      // transaction's leases are in: jobs this instance's providers took at once would wake every
      // other instance for a pass with nothing to lease.
      if (split && pass.left > 0) await tx.notify('jobs_ready');
      return leased;
    });
    for (;;) {
      const now = this.ctx.clock.now();
      for (const { session, lease } of picked) {
        session.inFlight.add(lease.job.jobId);
        session.send(this.jobFrame(lease, now));
      }
      if (pass.left <= 0 || pass.next >= pass.wanting.length) return;
      picked = await this.ctx.store.transaction((tx) => this.leaseBatch(tx, pass));
    }
  }

  /**
   * Leases up to LEASES_PER_TX jobs in `tx` to the pass's providers in turn, each up to its room,
   * and writes their assignments in one statement; advances `pass`. The providers' turns are
   * decided together: one statement locks the first jobs in dispatch order that any of them could
   * take, they are matched here to the providers in order (each takes the earliest that fits it),
   * and one statement leases the matches. A provider left with room when those jobs ran out (there
   * may be more that fit it further back) is served by a lease statement of its own.
   */
  private async leaseBatch(
    tx: MarketTx,
    pass: LeasePass,
    /** The jobs locked for this pass's providers in an earlier round trip of `tx` (earlyCandidates), instead of a lock statement here. */
    early?: EarlyCandidates,
  ): Promise<{ session: ProviderSession; lease: LeasedJob }[]> {
    const sessions = this.ctx.sessions;
    const now = this.ctx.clock.now();
    const { shape, wanting } = pass;
    const turns: LeaseTurn[] = [];
    const roomOf = new Map<ProviderSession, number>();
    let asked = 0;
    let carried: LeaseTurn | undefined;
    for (; pass.next < wanting.length; pass.next++) {
      const { session, retake } = wanting[pass.next] as (typeof wanting)[number];
      const caps = session.capabilities;
      if (!caps || session.congested || sessions.get(session.address) !== session || !fitsAny(shape, caps)) continue;
      let room = roomOf.get(session);
      if (room === undefined) {
        // A provider's first turn in this transaction: its room counts towards how many jobs to lock.
        if (asked >= LEASES_PER_TX || asked >= pass.left) break;
        const free = caps.max_jobs - session.inFlight.size;
        room = Math.min(free, LEASES_PER_TX - asked, pass.left - asked);
        if (room <= 0) continue;
        roomOf.set(session, room);
        asked += room;
        // A provider with more room than this transaction has left is served again in the next one
        // (if it fills what it had here; otherwise the pass moves on).
        if (room < free && asked >= LEASES_PER_TX) {
          carried = { session, caps, retake, room, taken: 0 };
          turns.push(carried);
          break;
        }
      }
      turns.push({ session, caps, retake, room, taken: 0 });
    }
    if (turns.length === 0) return [];
    const out: { session: ProviderSession; lease: LeasedJob }[] = [];
    const pending: AssignmentRecord[] = [];
    const took = (session: ProviderSession, lease: LeasedJob) => {
      out.push({ session, lease });
      pass.left--;
      const g = shape.find((x) => x.lane === lease.job.lane && x.gpuRequired === lease.job.gpuRequired);
      if (g) g.count--;
    };
    // One job to place is one lease statement; more are two (lock, then lease the matches), or
    // one when the jobs were locked with the pass's earlier read.
    const batch = asked > 1;
    const lock = early ?? {
      limit: asked,
      candidates: batch
        ? await tx.validator.leaseCandidates(
            candidatesRequest(
              turns.map((t) => t.caps),
              asked,
            ),
          )
        : [],
    };
    const candidates = batch ? lock.candidates : [];
    const matches = matchCandidates(turns, candidates);
    const contexts =
      matches.length === 0
        ? []
        : await tx.validator.leaseMany(
            matches.map((m) => ({ jobId: m.jobId, owner: m.turn.session.address })),
            now,
            this.ctx.config.jobDeadlineMs,
          );
    const turnOf = new Map(matches.map((m) => [m.jobId, m.turn]));
    let lost = false;
    for (const context of contexts) {
      const turn = turnOf.get(context.job.jobId) as LeaseTurn;
      const lease = await this.take(tx, turn.session, context, now, pending);
      if (lease) took(turn.session, lease);
      else {
        turn.taken--;
        lost = true;
      }
    }
    // Providers with room left, when the locked jobs may not have been all that fit them (the
    // statement returned as many as it was asked for, or a lease fell through): one lease at a time.
    if (!batch || candidates.length >= lock.limit || lost || contexts.length < matches.length)
      for (const turn of turns) {
        const { session, caps, retake } = turn;
        while (takenBy(turns, turn) < turn.room && pass.left > 0 && fitsAny(shape, caps)) {
          const lease = await this.leaseIn(tx, session, caps, now, retake, pending);
          if (!lease) break;
          took(session, lease);
          turn.taken++;
        }
      }
    if (carried && takenBy(turns, carried) < carried.room) pass.next++;
    // Every lease's assignment in one statement, sent with the leases' COMMIT.
    tx.atCommit(assignmentsStatement(pending, now));
    return out;
  }

  /**
   * Splits these pending tasks (read and locked by the pass's first read) in `tx`, with one statement per
   * kind of row for all of them (their jobs, inputs, admission holds and status), not one per task,
   * sent in one round trip. With `readShape`, when no job it makes is in the industrial lane (held
   * for admission), the queue's shape is read in that same round trip, after the writes; otherwise
   * `shape` is undefined and the caller runs admission.
   */
  private async splitPending(
    tx: MarketTx,
    tasks: readonly TaskRecord[],
    readShape: boolean,
    /** The lock statement of the pass's first leases (earlyCandidates) for the number of jobs this split makes, sent after the shape's read when that is read here. */
    lock?: (made: number) => EarlyLock | undefined,
  ): Promise<{ shape: QueueGroup[] | undefined; candidates?: EarlyCandidates }> {
    const now = this.ctx.clock.now();
    if (tasks.length === 0) return { shape: readShape ? await tx.validator.queueShape() : undefined };
    const allJobs: Parameters<MarketTx['jobs']['insert']>[0][number][] = [];
    const allInputs: JobInput[] = [];
    const allPaired = new Set<string>();
    for (const task of tasks) {
      const slices = task.inputKind === 'slices' ? await tx.slices.list(task.taskId) : [];
      const { jobs, inputs } = splitTask(task, slices, this.ctx.config.sliceBytes);
      allJobs.push(...jobs);
      allInputs.push(...inputs);
      // A task that asked for two providers has every job paired, whatever the market's mode.
      if (task.verification === 'two_providers') for (const input of inputs) allPaired.add(input.jobId);
    }
    const split = tasks.map((t) => t.taskId);
    const industrial = allJobs.some((j) => j.lane === 'industrial');
    const twins =
      this.ctx.config.verifyMode !== 'reexecute' || allPaired.size > 0
        ? allInputs.filter(
            (input) =>
              input.workload !== 'synthetic' &&
              (allPaired.has(input.jobId) ||
                (this.ctx.config.verifyMode !== 'reexecute' && this.isPaired(input.jobId))),
          )
        : [];
    // The jobs, their admission holds and their inputs leave in one write (run in this order).
    const rows = [
      () => tx.jobs.insert(allJobs, now),
      async () => (industrial ? tx.validator.holdForAdmission(split) : undefined),
      () => tx.validator.insertInputs(allInputs),
    ];
    const shape = readShape && !industrial;
    // Admission runs before any lease when the shape is not read here: the jobs are locked after it.
    const early = shape ? lock?.(allJobs.length) : undefined;
    const rest = [
      () => tx.tasks.transitionMany(split, ['pending'], 'in_progress', now),
      async () => (shape ? tx.validator.queueShape() : undefined),
      async () => early?.read(),
    ];
    let out: unknown[];
    if (twins.length === 0) out = await tx.together<unknown[]>(...rows, ...rest);
    else {
      // A job's second run refers to the job: the rows first, then the twins, then the rest.
      await tx.together(...rows);
      for (const input of twins) await tx.validator.insertTwin(input.jobId, randomUUID(), now);
      out = await tx.together<unknown[]>(...rest);
    }
    const [queue, locked] = out.slice(-2) as [QueueGroup[] | undefined, LeaseCandidate[] | undefined];
    return { shape: queue, ...(early && locked ? { candidates: { limit: early.limit, candidates: locked } } : {}) };
  }

  /**
   * The lock statement of a pass's first lease transaction, made from the providers with room
   * before the queue's shape is read: the first jobs in dispatch order that any of them could
   * take, as many as their room and the `queued` jobs allow (up to LEASES_PER_TX). Undefined when
   * that is one job or none (one job is leased with one statement of its own). The jobs it locks
   * that no provider's turn takes stay queued, and their locks end with the transaction.
   */
  private earlyCandidates(tx: MarketTx, wanting: LeasePass['wanting'], queued: number): EarlyLock | undefined {
    const providers = [...new Set(wanting.map((w) => w.session))];
    const room = providers.reduce((n, s) => n + Math.max(0, (s.capabilities?.max_jobs ?? 0) - s.inFlight.size), 0);
    const limit = Math.min(room, queued, LEASES_PER_TX);
    if (limit < 2) return undefined;
    const caps = providers.flatMap((s) => (s.capabilities ? [s.capabilities] : []));
    return { limit, read: () => tx.validator.leaseCandidates(candidatesRequest(caps, limit)) };
  }

  /**
   * One admission pass (docs/market-api.md, "Admission by lane"): the comfort guard over the queued
   * consumer jobs, the capacity the industrial providers connected to any live instance announce
   * (`max_jobs` each: this instance's from its sessions, the others' from the store), and
   * the waiting industrial jobs admitted, deferred or expired in line order. Every outcome is
   * written to the job's row; an expired job fails its task (refunded).
   */
  private async admitIn(tx: MarketTx): Promise<QueueGroup[]> {
    const now = this.ctx.clock.now();
    let capacity = 0;
    for (const s of this.ctx.sessions.values())
      if (s.capabilities?.lanes.includes('industrial')) capacity += s.capabilities.max_jobs;
    const view = await tx.validator.admissionView(1000);
    if (view.waiting.length === 0) return tx.validator.queueShape();
    const { decisions } = decideAdmissions(this.guard, {
      ...view,
      capacity: capacity + ((await this.hooks.capacityElsewhere?.(tx, now)) ?? 0),
      now,
      maxDeferMs: this.ctx.config.industrialDeferMaxMs,
    });
    const failed = new Set<string>();
    const before = new Map(view.waiting.map((w) => [w.jobId, w]));
    for (const d of decisions) {
      if (failed.has(d.taskId)) continue;
      if (d.outcome === 'admitted') {
        await tx.validator.admit(d.jobId, now);
        await tx.notify('jobs_ready');
      } else if (d.outcome === 'expired') {
        failed.add(d.taskId);
        await failTask(tx, d.taskId, d.message, now);
      } else {
        const w = before.get(d.jobId);
        // An unchanged deferral is not written again.
        if (w?.admission !== 'deferred' || w.deferCode !== d.code)
          await tx.validator.defer(d.jobId, d.code, d.message, now);
      }
    }
    return tx.validator.queueShape();
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
    /** The transaction's assignments not yet written: the caller writes them in one statement before it commits. */
    pending: AssignmentRecord[],
  ): Promise<LeasedJob | undefined> {
    // The job with its task, input, previous assignment, pair and the provider's probation: one statement.
    const context = await tx.validator.leaseNext({
      owner: session.address,
      notLostByOwner: !retake,
      lanes: caps.lanes,
      hardwareGpu: hardwareGpuOf(caps),
      ask: BigInt(caps.ask),
      now,
      leaseMs: this.ctx.config.jobDeadlineMs,
    });
    if (!context) return undefined;
    return (
      (await this.take(tx, session, context, now, pending)) ??
      // Its task failed, or its lease record is final: the next job.
      this.leaseIn(tx, session, caps, now, retake, pending)
    );
  }

  /**
   * Completes a lease just taken in `tx` (the job is leased to `session` in the store): the lease's
   * state machine, the job's input and its assignment (queued in `pending`). Undefined when the job
   * cannot run — its lease record is final (the job fails) or its input is not in the store (the
   * task fails) — so the provider's room is free for another job.
   */
  private async take(
    tx: MarketTx,
    session: ProviderSession,
    context: LeaseContext,
    now: number,
    pending: AssignmentRecord[],
  ): Promise<LeasedJob | undefined> {
    const machine = this.ctx.machine;
    const { job, previous } = context;
    let lease: Lease;
    if (!previous) {
      const standbys = this.standbysFor(job, session.address);
      const replication =
        standbys.length > 0 ? { mode: 'warm-standby' as const, standbyProviders: standbys } : undefined;
      lease = machine.grant({
        workloadId: job.jobId,
        providerId: session.address,
        nowMs: now,
        restartPolicy: this.ctx.config.restartPolicy,
        ...(replication ? { replication } : {}),
      }).lease;
    } else {
      let old = previous.lease as unknown as Lease;
      if (holdsLease(old.state)) old = machine.revoke(old, now, 'requeued').lease;
      if (old.state.kind !== 'respawning') {
        await tx.validator.failJob(job.jobId, 'lease record is final', now);
        return undefined;
      }
      lease = machine.respawnSucceeded(old, now, old.state.attempt, session.address).lease;
    }
    const { input, task } = context;
    if (!input || !task) throw new Error(`job ${job.jobId} has no input or task`);
    const bytes = await this.inputIn(tx, input, task, now);
    if (!bytes) return undefined;
    const assignment = await this.assignmentFor(tx, job, input, session.address, lease, task.verification, {
      probation: context.probation,
      pair: context.pair,
    });
    pending.push(assignment);
    return { job, input, task, bytes, assignment };
  }

  /**
   * A job's input, read in `tx` (the lease's transaction). When its bytes are not in the store the
   * job can never run: its task is failed and refunded in `tx`, and undefined is returned.
   */
  async inputIn(tx: MarketTx, input: JobInput, task: TaskRecord, now: number): Promise<Uint8Array | undefined> {
    try {
      return await readJobBytes(input, task, tx.slices);
    } catch (err) {
      if (!(err instanceof JobInputMissingError)) throw err;
      this.ctx.log.warn('a job input is not in the store; its task fails', { taskId: task.taskId, error: err.message });
      await failTask(tx, task.taskId, err.message, now);
      return undefined;
    }
  }

  /**
   * The standbys a new lease names: up to `standbys` other connected providers whose capabilities
   * fit the job, in join order starting after the holder (so standby duty rotates). Whether each
   * is still there and has room is decided at the handover, not here.
   */
  private standbysFor(job: JobRecord, holder: string): string[] {
    if (this.ctx.config.standbys === 0) return [];
    const all = [...this.ctx.sessions.values()];
    const at = all.findIndex((s) => s.address === holder);
    const order = [...all.slice(at + 1), ...all.slice(0, Math.max(at, 0))];
    return order
      .filter((s) => s.address !== holder && s.capabilities !== undefined && fitsJob(job, s.capabilities))
      .slice(0, this.ctx.config.standbys)
      .map((s) => s.address);
  }

  /** Records `provider`'s assignment of `job` under `lease`: its key, whether it is checked, the beacon for synthetic jobs. */
  async assign(
    tx: MarketTx,
    job: JobRecord,
    input: JobInput,
    provider: string,
    lease: Lease,
    now: number,
    /** The task's verification guarantee: "all" re-executes every job, "two_providers" pairs it (synthetic: re-executed). */
    guarantee: TaskVerification = 'sampled',
  ): Promise<AssignmentRecord> {
    const assignment = await this.assignmentFor(tx, job, input, provider, lease, guarantee);
    await tx.validator.putAssignment(assignment, now);
    return assignment;
  }

  /**
   * `provider`'s assignment of `job` under `lease`, not yet written. `known` is what the lease's
   * statement already read (ValidatorRepo.leaseNext): the provider's probation and the job's pair;
   * without it both are read here.
   */
  private async assignmentFor(
    tx: MarketTx,
    job: JobRecord,
    input: JobInput,
    provider: string,
    lease: Lease,
    guarantee: TaskVerification,
    known?: { probation: ProbationRecord; pair: { primary: string; twin: string } | undefined },
  ): Promise<AssignmentRecord> {
    const secret = this.ctx.identity.secret;
    const blockHash = input.workload === 'synthetic' ? await this.beacon(tx) : null;
    // Both runs of a pair share the pair key; any other job's key is per provider. Either stays the
    // same when a job comes back to the same provider, so a re-lease reveals nothing of pairing.
    const pair =
      (this.ctx.config.verifyMode !== 'reexecute' || guarantee === 'two_providers') && input.workload !== 'synthetic'
        ? known
          ? known.pair
          : await tx.validator.pairOf(job.jobId)
        : undefined;
    const key = pair
      ? derivePairKey(secret, pair.primary, this.ctx.blake3)
      : deriveAssignmentKey(secret, job.jobId, provider, 0, this.ctx.blake3);
    return {
      jobId: job.jobId,
      provider,
      epoch: lease.epoch,
      lease: lease as unknown as JsonValue,
      assignmentKey: toHex(key),
      checked:
        this.reexecutes(
          input.workload,
          job.jobId,
          lease.epoch,
          await this.checkFractionFor(tx, provider, job, known?.probation),
        ) ||
        guarantee === 'all' ||
        (guarantee === 'two_providers' && input.workload === 'synthetic'),
      blockHash,
    };
  }

  /** The job frame of a lease just taken (its input was read with the lease). */
  jobFrame(picked: LeasedJob, now: number): JobFrame {
    const { job, input, assignment, bytes } = picked;
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
      deadline: now + this.ctx.config.jobDeadlineMs,
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

  /**
   * The checked fraction of `provider` for `job` (probation.ts): from its clean streak of passed
   * checks and its funded bond against what the job pays it; `checkFraction` is the floor.
   */
  private async checkFractionFor(
    tx: MarketTx,
    provider: string,
    job: JobRecord,
    known?: ProbationRecord,
  ): Promise<number> {
    if (this.ctx.config.checkFraction <= 0) return 0;
    const history = known ?? (await tx.bonds.probation(provider));
    return checkProbability(history, probationPolicy(this.ctx.config), (job.offer * PAYOUT_BPS.workers) / 10_000n);
  }

  /** Whether the validator re-executes an assignment: per verifyMode; synthetic jobs cannot be paired, so they are always drawn for re-execution. */
  private reexecutes(workload: JobInput['workload'], jobId: string, epoch: number, fraction: number): boolean {
    if (this.ctx.config.verifyMode === 'second_provider' && workload !== 'synthetic') return false;
    return this.draw(CHECK_TAG, jobId, epoch, fraction);
  }

  private draw(tag: string, jobId: string, epoch: number, fraction = this.ctx.config.checkFraction): boolean {
    if (fraction >= 1) return true;
    if (fraction <= 0) return false;
    const h = this.ctx.blake3.keyed(
      this.ctx.identity.secret,
      concatBytes([utf8(tag), lengthPrefixed(jobId), u64le(epoch)]),
    );
    const x =
      ((h[0] as number) * 2 ** 24 + (h[1] as number) * 2 ** 16 + (h[2] as number) * 2 ** 8 + (h[3] as number)) /
      2 ** 32;
    return x < fraction;
  }

  /** The current batch beacon: the latest sealed compute_root, or a genesis value derived from the market id. */
  private async beacon(tx: MarketTx): Promise<string> {
    const latest = await tx.validator.latestBatch();
    return latest
      ? latest.computeRoot
      : toHex(this.ctx.blake3.hash(concatBytes([utf8(BEACON_TAG), lengthPrefixed(this.ctx.identity.marketId)])));
  }

  /** Sends `session` the queue's prices per lane (count, p50 and p25 of the queued offers). */
  async sendPrices(session: ProviderSession): Promise<void> {
    const offers = await this.ctx.store.transaction((tx) => tx.validator.queuedOffers());
    const lanes = (['consumer', 'industrial'] as const).map((lane) => {
      const o = offers.filter((x) => x.lane === lane).map((x) => x.offer);
      const q = (p: number) => (o.length === 0 ? 0n : (o[Math.min(o.length - 1, Math.floor(p * o.length))] as bigint));
      return { lane, queued: o.length, offer_p50: q(0.5).toString(), offer_p25: q(0.25).toString() };
    });
    session.send({ type: 'prices', at: this.ctx.clock.now(), lanes });
  }
}
