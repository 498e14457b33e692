import { LeaseConfigError, validateQuorumConfig, validateReplicationMode, validateRestartPolicy } from './config.js';
import {
  LEASE_LOST_REASONS,
  type HeartbeatObservation,
  type Lease,
  type LeaseEvent,
  type LeaseRevocation,
  type LeaseStep,
  type QuorumConfig,
  type ReplicationMode,
  type RestartPolicy,
  type WorkloadState,
} from './types.js';

/** Input to `grant`: a new lease for `providerId`, starting in Provisioning. */
export interface GrantInput {
  readonly workloadId: string;
  readonly providerId: string;
  readonly nowMs: number;
  readonly replication?: ReplicationMode;
  readonly restartPolicy?: RestartPolicy;
  /** Fencing epoch of the new lease (default 1). */
  readonly epoch?: number;
}

/** Input to `standby`: `providerId` stands by for the lease of `workloadId` held under `epoch`. */
export interface StandbyInput {
  readonly workloadId: string;
  readonly providerId: string;
  readonly epoch: number;
  readonly nowMs: number;
  /** Replication once promoted and no standbys remain after it: none (default) or checkpointed. */
  readonly replication?: ReplicationMode;
  readonly restartPolicy?: RestartPolicy;
}

/** The lease state machine for one QuorumConfig: pure functions from (lease, input) to a LeaseStep. */
export interface LeaseMachine {
  readonly config: QuorumConfig;
  /** Grants a new lease (Provisioning until the holder's first heartbeat quorum). */
  grant(input: GrantInput): LeaseStep;
  /** Registers a warm standby record, which promotes only on the matching revocation. */
  standby(input: StandbyInput): LeaseStep;
  /** Counts fresh heartbeats of the record's provider and applies the time-driven transitions. */
  tick(lease: Lease, nowMs: number, observations?: readonly HeartbeatObservation[]): LeaseStep;
  /** Withdraws the lease from its holder now (the market's decision, e.g. a refused provider). */
  revoke(lease: Lease, nowMs: number, reason: string): LeaseStep;
  /** Delivers a published revocation to a standby record; the first-named standby promotes. */
  observeRevocation(lease: Lease, nowMs: number, revocation: LeaseRevocation): LeaseStep;
  /**
   * The market could hear no one until `nowMs` (it was stopped, or its store was unreachable): a
   * holder's silence counts from then, so it gets t1 before Suspect and t2 before losing the
   * lease to heartbeat again. Only the silence clock moves — no state is entered, no event is
   * emitted, and a record that does not hold a lease is unchanged.
   */
  resumeAfterOutage(lease: Lease, nowMs: number): LeaseStep;
  /** Reports that respawn attempt `attempt` failed; the last allowed attempt failing ends in Failed. */
  respawnFailed(lease: Lease, nowMs: number, attempt: number, reason: string): LeaseStep;
  /** Reports that respawn attempt `attempt` placed the job on `providerId` (a new epoch, Provisioning). */
  respawnSucceeded(lease: Lease, nowMs: number, attempt: number, providerId: string): LeaseStep;
}

/** True while the record's provider holds the lease (may write results): Provisioning, Live or Suspect. */
export function holdsLease(state: WorkloadState): boolean {
  return state.kind === 'provisioning' || state.kind === 'live' || state.kind === 'suspect';
}

/** True for a state no input leaves: Failed, and Evicted (handed to a standby). */
export function isFinal(state: WorkloadState): boolean {
  return state.kind === 'failed' || state.kind === 'evicted';
}

/** The latest instant at which `m` distinct sources had heard the record's provider, or null. */
export function quorumAliveAtMs(heartbeats: Readonly<Record<string, number>>, m: number): number | null {
  const times = Object.values(heartbeats).sort((a, b) => b - a);
  return times[m - 1] ?? null;
}

/** Builds the lease machine for `config` (validated once here; throws LeaseConfigError). */
export function createLeaseMachine(config: QuorumConfig): LeaseMachine {
  const cfg = validateQuorumConfig(config);
  const t1Ms = cfg.t1Secs * 1000;
  const t2Ms = cfg.t2Secs * 1000;
  const staleMs = cfg.staleSecs * 1000;
  const skewMs = cfg.maxSkewSecs * 1000;
  const retryMs = cfg.respawnRetrySecs * 1000;

  const step = (lease: Lease, events: LeaseEvent[] = []): LeaseStep => ({ lease, events });

  const counts = (o: HeartbeatObservation, nowMs: number): boolean =>
    Number.isFinite(o.sentAtMs) &&
    Number.isFinite(o.seenAtMs) &&
    typeof o.source === 'string' &&
    o.source !== '' &&
    o.sentAtMs >= nowMs - staleMs &&
    o.sentAtMs <= nowMs + skewMs;

  function ingest(
    lease: Lease,
    nowMs: number,
    observations: readonly HeartbeatObservation[],
  ): Readonly<Record<string, number>> {
    if (!holdsLease(lease.state) && lease.state.kind !== 'standby') return lease.heartbeats;
    const latest = new Map(Object.entries(lease.heartbeats));
    let changed = false;
    for (const o of observations) {
      if (o.providerId !== lease.providerId || !counts(o, nowMs)) continue;
      // The beat proves life at its send time (plus the allowed skew), not at its arrival, so
      // a replayed old beat cannot refresh a silent holder; never later than now.
      const seen = Math.min(o.seenAtMs, o.sentAtMs + skewMs, nowMs);
      const prev = latest.get(o.source);
      if (prev === undefined || seen > prev) {
        latest.set(o.source, seen);
        changed = true;
      }
    }
    if (!changed) return lease.heartbeats;
    // Keep the N most recently heard sources (ties by name, so the result is deterministic).
    const kept = [...latest.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, cfg.n);
    return Object.freeze(Object.fromEntries(kept));
  }

  const alive = (q: number | null, nowMs: number): q is number => q !== null && nowMs - q < t1Ms;

  function fail(lease: Lease, nowMs: number, reason: string, events: LeaseEvent[]): LeaseStep {
    events.push({ type: 'Failed', workloadId: lease.workloadId, reason });
    return step({ ...lease, state: { kind: 'failed', atMs: nowMs, reason }, heartbeats: {} }, events);
  }

  // Requests the next attempt, or fails with `lastError` (why the attempt in flight ended) when none is left.
  function requestRespawn(lease: Lease, nowMs: number, lastError: string | null, events: LeaseEvent[]): LeaseStep {
    const max = lease.restartPolicy.policy === 'on-failure' ? lease.restartPolicy.maxAttempts : 0;
    if (lease.respawnAttempts >= max) {
      const why =
        lease.restartPolicy.policy === 'never'
          ? 'lease lost and the restart policy is "never"'
          : `respawn exhausted after ${lease.respawnAttempts} attempt(s)${lastError === null ? '' : `: ${lastError}`}`;
      return fail(lease, nowMs, why, events);
    }
    const attempt = lease.respawnAttempts + 1;
    events.push({
      type: 'RespawnRequested',
      workloadId: lease.workloadId,
      attempt,
      fromCheckpoint: lease.replication.mode === 'checkpointed',
    });
    return step(
      {
        ...lease,
        respawnAttempts: attempt,
        heartbeats: {},
        state: {
          kind: 'respawning',
          sinceMs: lease.state.kind === 'respawning' ? lease.state.sinceMs : nowMs,
          attempt,
          nextAttemptAtMs: nowMs + retryMs,
          lastError: null,
        },
      },
      events,
    );
  }

  // The holder loses the lease: its state leaves Provisioning/Live/Suspect BEFORE any revocation
  // is published, so a standby can never observe a revocation while this record still holds.
  function evict(lease: Lease, nowMs: number, reason: string, events: LeaseEvent[]): LeaseStep {
    events.push({
      type: 'LeaseRevoked',
      workloadId: lease.workloadId,
      providerId: lease.providerId,
      epoch: lease.epoch,
      reason,
    });
    if (lease.replication.mode === 'warm-standby') {
      const revocation: LeaseRevocation = {
        workloadId: lease.workloadId,
        revokedProvider: lease.providerId,
        epoch: lease.epoch,
        standbyProviders: lease.replication.standbyProviders,
        revokedAtMs: nowMs,
        reason,
      };
      const evicted: Lease = { ...lease, heartbeats: {}, state: { kind: 'evicted', atMs: nowMs, reason } };
      events.push({ type: 'PublishLeaseRevocation', revocation });
      return step(evicted, events);
    }
    return requestRespawn(lease, nowMs, null, events);
  }

  function advance(lease: Lease, nowMs: number, events: LeaseEvent[]): LeaseStep {
    const s = lease.state;
    const q = quorumAliveAtMs(lease.heartbeats, cfg.m);
    switch (s.kind) {
      case 'provisioning':
        if (alive(q, nowMs)) {
          events.push({
            type: 'BecameLive',
            workloadId: lease.workloadId,
            providerId: lease.providerId,
            epoch: lease.epoch,
          });
          return step({ ...lease, state: { kind: 'live', sinceMs: nowMs, lastQuorumAliveMs: q } }, events);
        }
        if (nowMs - s.sinceMs >= t2Ms) return evict(lease, nowMs, LEASE_LOST_REASONS.provisioningTimeout, events);
        return step(lease, events);
      case 'live': {
        const last = Math.max(s.lastQuorumAliveMs, q ?? -Infinity);
        const silent = nowMs - last;
        if (silent < t1Ms)
          return step(
            last === s.lastQuorumAliveMs ? lease : { ...lease, state: { ...s, lastQuorumAliveMs: last } },
            events,
          );
        events.push({
          type: 'WentSuspect',
          workloadId: lease.workloadId,
          providerId: lease.providerId,
          silentForMs: silent,
        });
        const suspect: Lease = { ...lease, state: { kind: 'suspect', sinceMs: nowMs, lastQuorumAliveMs: last } };
        return silent >= t2Ms ? evict(suspect, nowMs, LEASE_LOST_REASONS.heartbeatLost, events) : step(suspect, events);
      }
      case 'suspect':
        if (alive(q, nowMs)) {
          events.push({
            type: 'BecameLive',
            workloadId: lease.workloadId,
            providerId: lease.providerId,
            epoch: lease.epoch,
          });
          return step({ ...lease, state: { kind: 'live', sinceMs: nowMs, lastQuorumAliveMs: q } }, events);
        }
        if (nowMs - s.lastQuorumAliveMs >= t2Ms) return evict(lease, nowMs, LEASE_LOST_REASONS.heartbeatLost, events);
        return step(lease, events);
      case 'respawning':
        // The attempt in flight had its window: count it as lost and request the next one.
        if (nowMs >= s.nextAttemptAtMs)
          return requestRespawn(
            lease,
            nowMs,
            s.lastError ?? `attempt ${s.attempt} got no answer within ${cfg.respawnRetrySecs}s`,
            events,
          );
        return step(lease, events);
      case 'standby':
      case 'evicted':
      case 'failed':
        return step(lease, events);
    }
  }

  const clamp = (lease: Lease, nowMs: number): number => {
    if (!Number.isFinite(nowMs))
      throw new RangeError(`lease ${lease.workloadId}: nowMs ${String(nowMs)} is not a finite instant`);
    return Math.max(nowMs, lease.clockMs);
  };
  const checkId = (field: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '') throw new LeaseConfigError(field, 'must be a non-empty string');
    return v;
  };
  const checkEpoch = (v: number): number => {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new LeaseConfigError('epoch', `${String(v)} must be a whole number ≥ 0`);
    return v;
  };
  const checkNow = (v: number): number => {
    if (!Number.isFinite(v)) throw new RangeError(`nowMs ${String(v)} is not a finite instant`);
    return v;
  };

  return {
    config: cfg,

    grant(input) {
      const workloadId = checkId('workloadId', input.workloadId);
      const providerId = checkId('providerId', input.providerId);
      const nowMs = checkNow(input.nowMs);
      return step({
        workloadId,
        providerId,
        epoch: checkEpoch(input.epoch ?? 1),
        replication: validateReplicationMode(input.replication ?? { mode: 'none' }, providerId),
        restartPolicy: validateRestartPolicy(input.restartPolicy ?? { policy: 'on-failure', maxAttempts: 3 }),
        state: { kind: 'provisioning', sinceMs: nowMs },
        respawnAttempts: 0,
        heartbeats: {},
        clockMs: nowMs,
      });
    },

    standby(input) {
      const workloadId = checkId('workloadId', input.workloadId);
      const providerId = checkId('providerId', input.providerId);
      const nowMs = checkNow(input.nowMs);
      const replication = validateReplicationMode(input.replication ?? { mode: 'none' }, providerId);
      if (replication.mode === 'warm-standby') {
        throw new LeaseConfigError(
          'replication.mode',
          'a standby takes its own standbys from the revocation; give "none" or "checkpointed"',
        );
      }
      return step({
        workloadId,
        providerId,
        epoch: checkEpoch(input.epoch),
        replication,
        restartPolicy: validateRestartPolicy(input.restartPolicy ?? { policy: 'on-failure', maxAttempts: 3 }),
        state: { kind: 'standby', sinceMs: nowMs },
        respawnAttempts: 0,
        heartbeats: {},
        clockMs: nowMs,
      });
    },

    tick(lease, nowMs, observations = []) {
      const now = clamp(lease, nowMs);
      const heartbeats = ingest(lease, now, observations);
      const base =
        heartbeats === lease.heartbeats && now === lease.clockMs ? lease : { ...lease, heartbeats, clockMs: now };
      return advance(base, now, []);
    },

    revoke(lease, nowMs, reason) {
      const now = clamp(lease, nowMs);
      if (!holdsLease(lease.state)) return step(lease.clockMs === now ? lease : { ...lease, clockMs: now });
      return evict({ ...lease, clockMs: now }, now, `revoked: ${reason}`, []);
    },

    observeRevocation(lease, nowMs, revocation) {
      const now = clamp(lease, nowMs);
      const timed: Lease = lease.clockMs === now ? lease : { ...lease, clockMs: now };
      const forMe =
        lease.state.kind === 'standby' &&
        revocation.workloadId === lease.workloadId &&
        revocation.revokedProvider !== lease.providerId &&
        revocation.standbyProviders[0] === lease.providerId &&
        Number.isSafeInteger(revocation.epoch) &&
        revocation.epoch >= lease.epoch;
      if (!forMe) return step(timed);
      const rest = [...new Set(revocation.standbyProviders.slice(1))].filter(
        (id) => id !== lease.providerId && id !== '',
      );
      const promoted: Lease = {
        ...timed,
        epoch: revocation.epoch + 1,
        replication:
          rest.length > 0 ? { mode: 'warm-standby', standbyProviders: Object.freeze([...rest]) } : lease.replication,
        state: { kind: 'provisioning', sinceMs: now },
      };
      const events: LeaseEvent[] = [
        {
          type: 'LeaseGranted',
          workloadId: lease.workloadId,
          providerId: lease.providerId,
          epoch: promoted.epoch,
          promoted: true,
        },
      ];
      // A warm standby that is already heartbeating goes Live at once; otherwise on its first quorum.
      return advance(promoted, now, events);
    },

    respawnFailed(lease, nowMs, attempt, reason) {
      const now = clamp(lease, nowMs);
      const s = lease.state;
      const timed: Lease = lease.clockMs === now ? lease : { ...lease, clockMs: now };
      if (s.kind !== 'respawning' || attempt !== s.attempt) return step(timed);
      const max = lease.restartPolicy.policy === 'on-failure' ? lease.restartPolicy.maxAttempts : 0;
      if (lease.respawnAttempts >= max)
        return fail(timed, now, `respawn exhausted after ${lease.respawnAttempts} attempt(s): ${reason}`, []);
      // Hold in Respawning; the next attempt is requested on the cadence (nextAttemptAtMs).
      return step({ ...timed, state: { ...s, lastError: reason } });
    },

    resumeAfterOutage(lease, nowMs) {
      const now = clamp(lease, nowMs);
      const s = lease.state;
      const timed: Lease = lease.clockMs === now ? lease : { ...lease, clockMs: now };
      switch (s.kind) {
        case 'provisioning':
          return step({ ...timed, state: { ...s, sinceMs: Math.max(s.sinceMs, now) } });
        case 'live':
        case 'suspect':
          return step({ ...timed, state: { ...s, lastQuorumAliveMs: Math.max(s.lastQuorumAliveMs, now) } });
        default:
          return step(timed);
      }
    },

    respawnSucceeded(lease, nowMs, attempt, providerId) {
      const now = clamp(lease, nowMs);
      const s = lease.state;
      const timed: Lease = lease.clockMs === now ? lease : { ...lease, clockMs: now };
      if (s.kind !== 'respawning' || attempt !== s.attempt) return step(timed);
      const holder = checkId('providerId', providerId);
      const granted: Lease = {
        ...timed,
        providerId: holder,
        epoch: lease.epoch + 1,
        heartbeats: {},
        state: { kind: 'provisioning', sinceMs: now },
      };
      return step(granted, [
        {
          type: 'LeaseGranted',
          workloadId: lease.workloadId,
          providerId: holder,
          epoch: granted.epoch,
          promoted: false,
        },
      ]);
    },
  };
}
