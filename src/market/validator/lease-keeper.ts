import type { JsonValue } from '../../core/market/canonical.js';
import { holdsLease, type Lease, type LeaseEvent, type LeaseRevocation } from '../../core/market/lease-state.js';
import type { MarketTx } from '../store/market-store.js';
import { fitsJob, type Dispatcher, type LeasedJobTo } from './dispatcher.js';
import { GroupCommit } from '../group-commit.js';
import type { ProviderSession } from './provider-session.js';
import { failTask } from './task-failure.js';
import { ValidatorClosingError, type ValidatorContext } from './validator-context.js';

/** A heartbeat waiting for its group commit (only the latest of each provider counts). */
interface Beat {
  session: ProviderSession;
  sentAt: number;
  seenAt: number;
}

export interface LeaseKeeperDeps {
  /** Records a handed-over assignment, builds its job frame, and wakes dispatch. */
  dispatch: Pick<Dispatcher, 'assign' | 'inputIn' | 'jobFrame' | 'kick'>;
  /** Compares again the pairs left with a held run (the result settler's resumePairs). */
  resumePairs(): Promise<void>;
}

/**
 * The lease keeper (River's rescuer): drives every held lease with the lease machine. Heartbeats
 * tick the leases of the providers that sent them (group commits, any instance: each commits the
 * beats of its own sockets). The sweep (`runOnce`, sweepNow) ticks every held lease — silent
 * holders go Suspect, then lose the job — and revokes those past their deadline; it runs on the
 * leader only, since it reads every lease of the market. A revoked lease is handed to a warm
 * standby or requeued; a lease that exhausted its restarts fails its task (refunded).
 */
export class LeaseKeeper {
  /** Lost leases handed to a standby so far, counted once committed (each is a job that skipped the queue). */
  handoverCount = 0;
  /** Heartbeats waiting for their group commit: the latest per provider address. */
  private readonly beats: GroupCommit<Beat>;
  /** Test signal listeners (see onDidCommitHeartbeat). */
  private readonly heartbeatListeners = new Set<(address: string) => void>();

  constructor(
    private readonly ctx: ValidatorContext,
    private readonly deps: LeaseKeeperDeps,
  ) {
    this.beats = new GroupCommit<Beat>({
      commit: (beats) => this.flushBeats(beats),
      schedule: (flush) => ctx.steps.serial(flush, 'lease'),
      onError: (err) => {
        if (!(err instanceof ValidatorClosingError)) ctx.report('heartbeat', err);
      },
      // Only the latest beat of a provider counts (an earlier one still waiting is superseded).
      latest: {
        key: (b) => b.session.address,
        replaces: (prev, next) => prev.seenAt <= next.seenAt || prev.session.id !== next.session.id,
      },
    });
  }

  /**
   * Leases held when the market stopped: their holders could not be heard while it was down, so
   * their silence counts from this start (one statement for all of them) — except where the holder
   * is connected to another live instance (`elsewhere`, from presence.ts), which hears it. Runs
   * inside the start transaction.
   */
  async resumeAfterOutage(tx: MarketTx, elsewhere: ReadonlySet<string>): Promise<void> {
    const now = this.ctx.clock.now();
    const held = (await tx.validator.activeAssignments()).filter((a) => !elsewhere.has(a.provider));
    await tx.validator.updateLeases(
      held.map((a) => ({
        jobId: a.jobId,
        lease: this.ctx.machine.resumeAfterOutage(a.lease as unknown as Lease, now).lease as unknown as JsonValue,
      })),
      now,
    );
  }

  /**
   * A test signal (River's testSignals): `listener` hears each provider whose heartbeat was just
   * committed, so a test awaits the beat instead of sleeping past it. Returns the unsubscribe.
   */
  onDidCommitHeartbeat(listener: (address: string) => void): () => void {
    this.heartbeatListeners.add(listener);
    return () => this.heartbeatListeners.delete(listener);
  }

  /**
   * A provider's heartbeat, seen at `seenAt` (its arrival; default now): every lease it holds is
   * ticked with it. Heartbeats are committed in groups, like results: the beats that arrive while
   * the validator is busy wait for one transaction that reads every lease of their providers
   * with one query and writes them back with one statement, so the store's cost of heartbeats
   * grows with the validator's passes, not with the number of providers. Resolves once the beat
   * is committed.
   */
  heartbeat(session: ProviderSession, sentAt: number, seenAt?: number): Promise<void> {
    if (this.ctx.isClosed()) return Promise.reject(new ValidatorClosingError());
    const now = this.ctx.clock.now();
    const seenAtMs = Math.min(seenAt ?? now, now);
    return this.beats.add({ session, sentAt, seenAt: seenAtMs });
  }

  /** Commits a group of heartbeats in one transaction (see heartbeat); the group commit answers their callers. */
  private async flushBeats(beats: readonly Beat[]): Promise<void> {
    const now = this.ctx.clock.now();
    const by = new Map(beats.map((b) => [b.session.address, b]));
    const handovers: LeasedJobTo[] = [];
    await this.ctx.store.transaction(async (tx) => {
      const plain: { jobId: string; lease: JsonValue }[] = [];
      const eventful: { jobId: string; lease: Lease; events: readonly LeaseEvent[] }[] = [];
      for (const a of await tx.validator.activeAssignments([...by.keys()])) {
        const b = by.get(a.provider);
        if (!b) continue;
        const step = this.ctx.machine.tick(a.lease as unknown as Lease, now, [
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
    const sessions = this.ctx.sessions;
    for (const b of beats) {
      if (sessions.get(b.session.address) === b.session)
        sessions.heard.set(b.session.address, { sentAt: b.sentAt, seenAt: b.seenAt });
      for (const l of this.heartbeatListeners) l(b.session.address);
    }
  }

  /** One sweep (sweepNow). */
  runOnce(): Promise<void> {
    return this.sweepNow();
  }

  /**
   * Ticks every held lease (silent holders go Suspect, then lose the job) and revokes those past
   * their deadline. A requeued job (Respawning) waits in the queue for a provider that fits —
   * until its task's deadline, which refunds — so only lost leases count as respawn attempts: a
   * job whose leases keep being lost exhausts the restart policy and its task fails (refunded).
   */
  async sweepNow(): Promise<void> {
    const machine = this.ctx.machine;
    const now = this.ctx.clock.now();
    const handovers: LeasedJobTo[] = [];
    await this.ctx.store.transaction(async (tx) => {
      for (const a of await tx.validator.activeAssignments()) {
        const before = a.lease as unknown as Lease;
        let step = machine.tick(before, now);
        if (a.leaseUntil !== null && a.leaseUntil <= now && holdsLease(step.lease.state)) {
          const revoked = machine.revoke(step.lease, now, 'result deadline passed');
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
    if (this.ctx.config.verifyMode !== 'reexecute') await this.deps.resumePairs();
    this.deps.dispatch.kick();
  }

  /** The provider cannot finish a job: the lease is revoked and the job reassigned. */
  async jobLost(session: ProviderSession, jobId: string, reason: string): Promise<void> {
    session.inFlight.delete(jobId);
    await this.ctx.steps.serial(async () => {
      const now = this.ctx.clock.now();
      const handovers: LeasedJobTo[] = [];
      await this.ctx.store.transaction(async (tx) => {
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
        const step = this.ctx.machine.revoke(
          a.lease as unknown as Lease,
          now,
          `provider reported the job lost: ${reason.slice(0, 200)}`,
        );
        await this.applyLeaseStep(tx, jobId, step.lease, step.events, now, handovers);
      });
      await this.sendHandovers(handovers, now);
    }, 'lease');
    this.deps.dispatch.kick();
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
        this.ctx.sessions.get(e.providerId)?.inFlight.delete(jobId);
        if (!published && (await tx.validator.requeue(jobId, now))) await tx.notify('jobs_ready');
      } else if (e.type === 'PublishLeaseRevocation') {
        await this.handOver(tx, jobId, e.revocation, now, handovers);
      } else if (e.type === 'Failed') {
        const job = await tx.validator.job(jobId);
        if (job) await failTask(tx, job.taskId, `job ${jobId} could not be completed: ${e.reason}`, now);
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
    const { machine, config, sessions } = this.ctx;
    const next = revocation.standbyProviders[0];
    if (next === undefined) return;
    // The standby's record hears its latest heartbeat, so the machine promotes it straight to Live
    // if it is warm (heard within t1) and into Provisioning otherwise.
    const beat = sessions.heard.get(next);
    let record = machine.standby({
      workloadId: jobId,
      providerId: next,
      epoch: revocation.epoch,
      nowMs: now,
      restartPolicy: config.restartPolicy,
    }).lease;
    if (beat)
      record = machine.tick(record, now, [
        { providerId: next, source: 'market', seenAtMs: beat.seenAt, sentAtMs: beat.sentAt },
      ]).lease;
    const promoted = machine.observeRevocation(record, now, revocation).lease;
    const session = sessions.get(next);
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
    if (job && session && fits && warm && (await tx.validator.handOver(jobId, next, now, config.jobDeadlineMs))) {
      const input = await tx.validator.input(jobId);
      const task = await tx.tasks.get(job.taskId);
      if (!input || !task) throw new Error(`job ${jobId} has no input or task`);
      const bytes = await this.deps.dispatch.inputIn(tx, input, task, now);
      if (!bytes) return;
      const assignment = await this.deps.dispatch.assign(tx, job, input, next, promoted, now, task.verification);
      handovers.push({ session, lease: { job, input, task, assignment, bytes } });
      return;
    }
    const why = !session
      ? 'is not connected'
      : !fits
        ? 'has no room for it or no longer fits it'
        : !warm
          ? `has not heartbeated within t1 (${config.quorum.t1Secs} s)`
          : 'holds the other run of its pair';
    const step = machine.revoke(promoted, now, `standby ${next} ${why}`);
    await this.applyLeaseStep(tx, jobId, step.lease, step.events, now, handovers);
  }

  /** Sends the job frames of committed handovers (see applyLeaseStep). */
  private async sendHandovers(handovers: readonly LeasedJobTo[], now: number): Promise<void> {
    this.handoverCount += handovers.length;
    for (const { session, lease } of handovers) {
      if (this.ctx.sessions.get(session.address) !== session) continue; // gone since: its lease lapses and is handed on or requeued
      session.inFlight.add(lease.job.jobId);
      session.send(this.deps.dispatch.jobFrame(lease, now));
    }
  }
}
