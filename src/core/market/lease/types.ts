/**
 * Data of the durable-workload lease state machine (issue 9, section 2). Everything here is
 * plain, JSON-serializable data so the market can keep a lease in its store, load it, step it
 * and write it back; the machine itself (machine.ts) never does I/O and never reads a clock.
 *
 * Instants are milliseconds since the Unix epoch (what the `Clock` port returns), named `…Ms`;
 * configured durations are whole or fractional seconds, named `…Secs`.
 */

/** How a workload survives the loss of its provider, chosen when the lease is granted. */
export type ReplicationMode =
  /** One provider; on loss the job is reassigned from scratch (per the RestartPolicy). */
  | { readonly mode: 'none' }
  /** One provider; on loss the job is reassigned and resumes from its latest checkpoint. */
  | { readonly mode: 'checkpointed' }
  /** Ordered standby providers; on loss the lease is revoked and handed to the first. */
  | { readonly mode: 'warm-standby'; readonly standbyProviders: readonly string[] };

/** What to do when a workload's provider is lost (none/checkpointed replication only). */
export type RestartPolicy =
  | { readonly policy: 'never' }
  /** At most `maxAttempts` respawn (reassignment) attempts over the lease's whole life. */
  | { readonly policy: 'on-failure'; readonly maxAttempts: number };

/** Lifecycle of one lease as the market tracks it. */
export type WorkloadState =
  /** Granted; waiting for the holder's first quorum of heartbeats. */
  | { readonly kind: 'provisioning'; readonly sinceMs: number }
  /** Holder heartbeating; `lastQuorumAliveMs` is the latest instant a quorum was heard. */
  | { readonly kind: 'live'; readonly sinceMs: number; readonly lastQuorumAliveMs: number }
  /** Quorum silent for t1; the holder still holds the lease until silence reaches t2. */
  | { readonly kind: 'suspect'; readonly sinceMs: number; readonly lastQuorumAliveMs: number }
  /** Lease revoked from the holder and handed to a warm standby; final for this record. */
  | { readonly kind: 'evicted'; readonly atMs: number; readonly reason: string }
  /** Holder lost; a reassignment is requested every respawnRetrySecs until one succeeds. */
  | {
      readonly kind: 'respawning';
      readonly sinceMs: number;
      /** 1-based number of the attempt in flight (equals the lease's `respawnAttempts`). */
      readonly attempt: number;
      /** When the attempt in flight counts as lost and the next one is requested. */
      readonly nextAttemptAtMs: number;
      /** Why the attempt in flight failed, once reported (null until then). */
      readonly lastError: string | null;
    }
  /** A warm standby for someone else's lease: waits for that lease's revocation. */
  | { readonly kind: 'standby'; readonly sinceMs: number }
  /** Terminal: the lease is dead and will not come back. */
  | { readonly kind: 'failed'; readonly atMs: number; readonly reason: string };

/** The kinds of WorkloadState. */
export type WorkloadStateKind = WorkloadState['kind'];

/**
 * One heartbeat the market received from a provider. `source` is the observer that saw it (the
 * M-of-N quorum counts distinct sources: market instances or connections); `seenAtMs` is the
 * market's clock when it arrived, `sentAtMs` the provider's claimed send time.
 */
export interface HeartbeatObservation {
  readonly providerId: string;
  readonly source: string;
  readonly seenAtMs: number;
  readonly sentAtMs: number;
}

/**
 * Timing and quorum knobs. A holder goes Suspect after t1 of quorum silence and loses the
 * lease after t2 of silence (both measured from the last quorum-alive instant, so t1 < t2).
 */
export interface QuorumConfig {
  /** Distinct heartbeat sources that must have heard the holder (M). */
  readonly m: number;
  /** Size of the source set (N); at most N sources are remembered per lease. */
  readonly n: number;
  /** Live → Suspect after this much continuous quorum silence. */
  readonly t1Secs: number;
  /** Suspect → lease lost after this much continuous quorum silence; also the provisioning limit. */
  readonly t2Secs: number;
  /** A heartbeat sent longer ago than this (relative to now) does not count: replay defence. */
  readonly staleSecs: number;
  /** A heartbeat claiming a send time further than this in the future does not count. */
  readonly maxSkewSecs: number;
  /** While Respawning, a reassignment is re-requested this often until it succeeds. */
  readonly respawnRetrySecs: number;
}

/** What the holder of a revoked lease publishes so that exactly one standby can promote. */
export interface LeaseRevocation {
  readonly workloadId: string;
  /** The provider that lost the lease. */
  readonly revokedProvider: string;
  /** Fencing epoch of the revoked lease; the promoted standby holds epoch + 1. */
  readonly epoch: number;
  /** Remaining standbys in order; only the first may promote. */
  readonly standbyProviders: readonly string[];
  readonly revokedAtMs: number;
  readonly reason: string;
}

/** One lease as stored: who holds it, under which epoch, in which state. */
export interface Lease {
  readonly workloadId: string;
  /** The provider whose heartbeats this record follows (holder, standby or latest reassignee). */
  readonly providerId: string;
  /** Fencing token: grows by one with each new holder; results under an older epoch are stale. */
  readonly epoch: number;
  readonly replication: ReplicationMode;
  readonly restartPolicy: RestartPolicy;
  readonly state: WorkloadState;
  /** Respawn attempts requested over the lease's life (bounded by the RestartPolicy). */
  readonly respawnAttempts: number;
  /**
   * Source → latest instant a counted heartbeat from `providerId` proves it alive there:
   * min(seenAtMs, sentAtMs + maxSkewSecs), so replays carry their old time (at most N entries).
   */
  readonly heartbeats: Readonly<Record<string, number>>;
  /** Latest instant the machine has processed; inputs with an earlier `nowMs` are clamped to it. */
  readonly clockMs: number;
}

/** Side effects the market must perform; the machine returns them in order and does nothing itself. */
export type LeaseEvent =
  | { readonly type: 'BecameLive'; readonly workloadId: string; readonly providerId: string; readonly epoch: number }
  | {
      readonly type: 'WentSuspect';
      readonly workloadId: string;
      readonly providerId: string;
      readonly silentForMs: number;
    }
  /** The holder's local state has left Live/Suspect/Provisioning: it no longer holds the lease. */
  | {
      readonly type: 'LeaseRevoked';
      readonly workloadId: string;
      readonly providerId: string;
      readonly epoch: number;
      readonly reason: string;
    }
  /** Publish this revocation to the standbys (emitted only after LeaseRevoked, in the same step). */
  | { readonly type: 'PublishLeaseRevocation'; readonly revocation: LeaseRevocation }
  /** Reassign the job (attempt is 1-based; `fromCheckpoint` for checkpointed replication). */
  | {
      readonly type: 'RespawnRequested';
      readonly workloadId: string;
      readonly attempt: number;
      readonly fromCheckpoint: boolean;
    }
  /** A reassignment succeeded or a standby promoted: `providerId` now holds the lease under `epoch`. */
  | {
      readonly type: 'LeaseGranted';
      readonly workloadId: string;
      readonly providerId: string;
      readonly epoch: number;
      readonly promoted: boolean;
    }
  | { readonly type: 'Failed'; readonly workloadId: string; readonly reason: string };

/** The result of every machine input: the next lease record and the events to perform. */
export interface LeaseStep {
  readonly lease: Lease;
  readonly events: readonly LeaseEvent[];
}

/** Reasons a lease is lost, as they appear in LeaseRevoked, LeaseRevocation and Failed. */
export const LEASE_LOST_REASONS = {
  heartbeatLost: 'heartbeat-quorum-lost-past-t2',
  provisioningTimeout: 'no-heartbeat-quorum-within-t2-of-grant',
} as const;
