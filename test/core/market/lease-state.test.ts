import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/core/errors.js';
import {
  DEFAULT_QUORUM_CONFIG,
  LEASE_LOST_REASONS,
  createLeaseMachine,
  holdsLease,
  validateQuorumConfig,
  validateReplicationMode,
  validateRestartPolicy,
  type HeartbeatObservation,
  type Lease,
  type LeaseEvent,
  type LeaseMachine,
  type LeaseRevocation,
  type QuorumConfig,
  type ReplicationMode,
} from '../../../src/core/market/lease-state.js';

const S = 1000; // ms per second
const CFG: QuorumConfig = { m: 1, n: 1, t1Secs: 30, t2Secs: 90, staleSecs: 60, maxSkewSecs: 5, respawnRetrySecs: 15 };

function hb(providerId: string, atMs: number, source = 'm1', sentAtMs = atMs): HeartbeatObservation {
  return { providerId, source, seenAtMs: atMs, sentAtMs };
}

/** Drives one lease record and collects every event it emitted. */
class Driver {
  readonly events: LeaseEvent[] = [];
  constructor(
    readonly machine: LeaseMachine,
    public lease: Lease,
  ) {}
  private take(step: { lease: Lease; events: readonly LeaseEvent[] }): readonly LeaseEvent[] {
    this.lease = step.lease;
    this.events.push(...step.events);
    return step.events;
  }
  tick(nowMs: number, obs: HeartbeatObservation[] = []): readonly LeaseEvent[] {
    return this.take(this.machine.tick(this.lease, nowMs, obs));
  }
  beat(nowMs: number, source = 'm1'): readonly LeaseEvent[] {
    return this.tick(nowMs, [hb(this.lease.providerId, nowMs, source)]);
  }
  revoke(nowMs: number, reason: string): readonly LeaseEvent[] {
    return this.take(this.machine.revoke(this.lease, nowMs, reason));
  }
  observe(nowMs: number, r: LeaseRevocation): readonly LeaseEvent[] {
    return this.take(this.machine.observeRevocation(this.lease, nowMs, r));
  }
  failed(nowMs: number, attempt: number, reason: string): readonly LeaseEvent[] {
    return this.take(this.machine.respawnFailed(this.lease, nowMs, attempt, reason));
  }
  succeeded(nowMs: number, attempt: number, provider: string): readonly LeaseEvent[] {
    return this.take(this.machine.respawnSucceeded(this.lease, nowMs, attempt, provider));
  }
}

function live(machine: LeaseMachine, replication: ReplicationMode = { mode: 'none' }, maxAttempts = 3): Driver {
  const d = new Driver(
    machine,
    machine.grant({
      workloadId: 'job-1',
      providerId: 'prov-a',
      nowMs: 0,
      replication,
      restartPolicy: { policy: 'on-failure', maxAttempts },
    }).lease,
  );
  d.beat(0);
  expect(d.lease.state.kind).toBe('live');
  return d;
}

const types = (events: readonly LeaseEvent[]): string[] => events.map((e) => e.type);

describe('QuorumConfig validation', () => {
  it('accepts the default and a sound M-of-N config', () => {
    expect(validateQuorumConfig(DEFAULT_QUORUM_CONFIG)).toEqual(DEFAULT_QUORUM_CONFIG);
    expect(validateQuorumConfig({ ...CFG, m: 2, n: 3 }).m).toBe(2);
  });

  it.each<[Partial<QuorumConfig>, string]>([
    [{ m: 3, n: 2 }, 'quorum.m: 3 exceeds n = 2'],
    [{ m: 0 }, 'quorum.m: 0 must be a whole number'],
    [{ n: 1.5 }, 'quorum.n: 1.5 must be a whole number'],
    [{ t1Secs: 90, t2Secs: 90 }, 'quorum.t1Secs: 90 must be less than t2Secs = 90'],
    [{ t1Secs: 100, t2Secs: 90 }, 'quorum.t1Secs: 100 must be less than t2Secs'],
    [{ t1Secs: 0 }, 'quorum.t1Secs: 0 must be a positive number'],
    [{ staleSecs: -1 }, 'quorum.staleSecs: -1 must be a positive number'],
    [{ respawnRetrySecs: Number.NaN }, 'quorum.respawnRetrySecs: NaN must be a positive number'],
    [{ maxSkewSecs: -0.5 }, 'quorum.maxSkewSecs: -0.5 must be zero or a positive number'],
  ])('rejects %j with a one-line error naming the field', (patch, message) => {
    const bad = { ...CFG, ...patch };
    expect(() => validateQuorumConfig(bad)).toThrow(message);
    expect(() => createLeaseMachine(bad)).toThrow(TesseraError);
    try {
      createLeaseMachine(bad);
    } catch (err) {
      expect((err as TesseraError).code).toBe('INVALID_LEASE_CONFIG');
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('rejects unusable replication modes and restart policies', () => {
    expect(() => validateReplicationMode({ mode: 'warm-standby', standbyProviders: [] }, 'a')).toThrow(
      'replication.standbyProviders: warm-standby needs at least one standby',
    );
    expect(() => validateReplicationMode({ mode: 'warm-standby', standbyProviders: ['b', 'b'] }, 'a')).toThrow(
      'lists a provider twice',
    );
    expect(() => validateReplicationMode({ mode: 'warm-standby', standbyProviders: ['a'] }, 'a')).toThrow(
      'includes the holder "a"',
    );
    expect(() => validateRestartPolicy({ policy: 'on-failure', maxAttempts: -1 })).toThrow(
      'restartPolicy.maxAttempts: -1 must be a whole number',
    );
    expect(() => validateRestartPolicy({ policy: 'on-failure', maxAttempts: 2.5 })).toThrow(TesseraError);
  });
});

describe('Live → Suspect needs t1 of continuous silence', () => {
  it('stays Live under steady heartbeats however long it runs, with ticks between beats', () => {
    const m = createLeaseMachine(CFG);
    const d = live(m);
    // Beats every 20 s, ticks every 5 s (most ticks carry no heartbeat), for ten minutes.
    for (let t = 5; t <= 600; t += 5) {
      if (t % 20 === 0) d.beat(t * S);
      else d.tick(t * S);
      expect(d.lease.state.kind, `at ${t}s`).toBe('live');
    }
    expect(types(d.events)).toEqual(['BecameLive']);
    expect(d.lease.state).toMatchObject({ kind: 'live', sinceMs: 0, lastQuorumAliveMs: 600 * S });
  });

  it('goes Suspect exactly t1 after the last heartbeat, not t1 after entering Live', () => {
    const d = live(createLeaseMachine(CFG));
    d.beat(20 * S);
    d.beat(40 * S);
    expect(d.tick(69_999)).toEqual([]);
    expect(d.lease.state.kind).toBe('live');
    expect(d.tick(70 * S)).toEqual([
      { type: 'WentSuspect', workloadId: 'job-1', providerId: 'prov-a', silentForMs: 30 * S },
    ]);
    expect(d.lease.state).toEqual({ kind: 'suspect', sinceMs: 70 * S, lastQuorumAliveMs: 40 * S });
  });

  it('recovers from Suspect on a heartbeat and counts silence again from that heartbeat', () => {
    const d = live(createLeaseMachine(CFG));
    d.tick(30 * S);
    expect(d.lease.state.kind).toBe('suspect');
    expect(types(d.beat(50 * S))).toEqual(['BecameLive']);
    d.tick(79 * S);
    expect(d.lease.state.kind).toBe('live');
    d.tick(80 * S);
    expect(d.lease.state.kind).toBe('suspect');
  });
});

describe('every replication mode goes Suspect and loses the lease after t2', () => {
  it.each<[ReplicationMode, string[]]>([
    [{ mode: 'none' }, ['LeaseRevoked', 'RespawnRequested']],
    [{ mode: 'checkpointed' }, ['LeaseRevoked', 'RespawnRequested']],
    [{ mode: 'warm-standby', standbyProviders: ['prov-b'] }, ['LeaseRevoked', 'PublishLeaseRevocation']],
  ])('%j', (replication, onLoss) => {
    const d = live(createLeaseMachine(CFG), replication);
    expect(types(d.tick(30 * S))).toEqual(['WentSuspect']);
    expect(d.lease.state.kind).toBe('suspect');
    expect(d.tick(89 * S)).toEqual([]);
    const lost = d.tick(90 * S);
    expect(types(lost)).toEqual(onLoss);
    expect(lost[0]).toEqual({
      type: 'LeaseRevoked',
      workloadId: 'job-1',
      providerId: 'prov-a',
      epoch: 1,
      reason: LEASE_LOST_REASONS.heartbeatLost,
    });
    expect(holdsLease(d.lease.state)).toBe(false);
    if (replication.mode === 'warm-standby') {
      expect(d.lease.state).toEqual({ kind: 'evicted', atMs: 90 * S, reason: LEASE_LOST_REASONS.heartbeatLost });
      expect(lost[1]).toEqual({
        type: 'PublishLeaseRevocation',
        revocation: {
          workloadId: 'job-1',
          revokedProvider: 'prov-a',
          epoch: 1,
          standbyProviders: ['prov-b'],
          revokedAtMs: 90 * S,
          reason: LEASE_LOST_REASONS.heartbeatLost,
        },
      });
    } else {
      expect(lost[1]).toEqual({
        type: 'RespawnRequested',
        workloadId: 'job-1',
        attempt: 1,
        fromCheckpoint: replication.mode === 'checkpointed',
      });
      expect(d.lease.state.kind).toBe('respawning');
    }
  });

  it('a single late tick past t2 passes through Suspect, in order', () => {
    const d = live(createLeaseMachine(CFG), { mode: 'warm-standby', standbyProviders: ['prov-b'] });
    expect(types(d.tick(500 * S))).toEqual(['WentSuspect', 'LeaseRevoked', 'PublishLeaseRevocation']);
  });

  it('a holder that never heartbeats loses the lease t2 after the grant', () => {
    const m = createLeaseMachine(CFG);
    const d = new Driver(m, m.grant({ workloadId: 'job-1', providerId: 'prov-a', nowMs: 0 }).lease);
    d.tick(89 * S);
    expect(d.lease.state.kind).toBe('provisioning');
    const lost = d.tick(90 * S);
    expect(lost[0]).toMatchObject({ type: 'LeaseRevoked', reason: LEASE_LOST_REASONS.provisioningTimeout });
    expect(d.lease.state.kind).toBe('respawning');
  });
});

describe('respawn attempts are counted and exhaust into Failed', () => {
  it('with maxAttempts 2: fail, retry on the cadence, fail again → Failed', () => {
    const d = live(createLeaseMachine(CFG), { mode: 'none' }, 2);
    d.tick(90 * S);
    expect(d.lease.state).toMatchObject({ kind: 'respawning', attempt: 1, nextAttemptAtMs: 105 * S });
    expect(d.failed(91 * S, 1, 'no provider fits')).toEqual([]);
    expect(d.lease.state).toMatchObject({ kind: 'respawning', attempt: 1, lastError: 'no provider fits' });
    expect(d.tick(104 * S)).toEqual([]);
    expect(d.tick(105 * S)).toEqual([
      { type: 'RespawnRequested', workloadId: 'job-1', attempt: 2, fromCheckpoint: false },
    ]);
    expect(d.lease.state).toEqual({
      kind: 'respawning',
      sinceMs: 90 * S,
      attempt: 2,
      nextAttemptAtMs: 120 * S,
      lastError: null,
    });
    // A late report about attempt 1 does not count against attempt 2.
    expect(d.failed(106 * S, 1, 'late')).toEqual([]);
    expect(d.lease.state.kind).toBe('respawning');
    expect(d.failed(107 * S, 2, 'no provider fits')).toEqual([
      { type: 'Failed', workloadId: 'job-1', reason: 'respawn exhausted after 2 attempt(s): no provider fits' },
    ]);
    expect(d.lease.state).toEqual({
      kind: 'failed',
      atMs: 107 * S,
      reason: 'respawn exhausted after 2 attempt(s): no provider fits',
    });
    expect(d.lease.respawnAttempts).toBe(2);
  });

  it('with restart policy never, or maxAttempts 0, losing the lease is Failed at once', () => {
    const m = createLeaseMachine(CFG);
    const never = new Driver(
      m,
      m.grant({ workloadId: 'w', providerId: 'p', nowMs: 0, restartPolicy: { policy: 'never' } }).lease,
    );
    never.beat(0);
    expect(types(never.tick(90 * S))).toEqual(['WentSuspect', 'LeaseRevoked', 'Failed']);
    expect(never.lease.state.kind).toBe('failed');
    const zero = live(m, { mode: 'none' }, 0);
    expect(types(zero.tick(90 * S))).toEqual(['WentSuspect', 'LeaseRevoked', 'Failed']);
  });

  it('Failed is terminal: heartbeats, ticks, reports and revocations change nothing', () => {
    const d = live(createLeaseMachine(CFG), { mode: 'none' }, 0);
    d.tick(90 * S);
    const failed = d.lease.state;
    d.beat(91 * S);
    d.tick(1000 * S);
    d.succeeded(1001 * S, 1, 'prov-b');
    d.revoke(1002 * S, 'x');
    expect(d.lease.state).toBe(failed);
    expect(types(d.events).filter((t) => t === 'Failed')).toHaveLength(1);
  });
});

describe('Respawning re-requests on a cadence', () => {
  it('asks again every respawnRetrySecs while no attempt answers, then fails', () => {
    const d = live(createLeaseMachine(CFG), { mode: 'checkpointed' }, 3);
    d.tick(90 * S); // attempt 1 at 90 s
    const requested: number[] = [];
    for (let t = 91; t <= 200; t++) {
      for (const e of d.tick(t * S)) if (e.type === 'RespawnRequested') requested.push(t);
    }
    expect(requested).toEqual([105, 120]);
    expect(
      d.events.filter((e) => e.type === 'RespawnRequested').map((e) => (e.type === 'RespawnRequested' ? e.attempt : 0)),
    ).toEqual([1, 2, 3]);
    expect(d.lease.state).toEqual({
      kind: 'failed',
      atMs: 135 * S,
      reason: 'respawn exhausted after 3 attempt(s): attempt 3 got no answer within 15s',
    });
  });

  it('a successful attempt grants the lease to the new provider under a new epoch; it goes Live on its heartbeat', () => {
    const d = live(createLeaseMachine(CFG));
    d.tick(90 * S);
    expect(d.succeeded(95 * S, 1, 'prov-c')).toEqual([
      { type: 'LeaseGranted', workloadId: 'job-1', providerId: 'prov-c', epoch: 2, promoted: false },
    ]);
    expect(d.lease.state).toEqual({ kind: 'provisioning', sinceMs: 95 * S });
    // The lost provider's heartbeats no longer count.
    d.tick(96 * S, [hb('prov-a', 96 * S)]);
    expect(d.lease.state.kind).toBe('provisioning');
    expect(types(d.beat(97 * S))).toEqual(['BecameLive']);
  });
});

describe('warm standby: promotion on the revocation, and the promoted standby goes Live', () => {
  function pair(): { primary: Driver; standby: Driver; revocation: LeaseRevocation } {
    const m = createLeaseMachine(CFG);
    const primary = live(m, { mode: 'warm-standby', standbyProviders: ['prov-b', 'prov-c'] });
    const standby = new Driver(m, m.standby({ workloadId: 'job-1', providerId: 'prov-b', epoch: 1, nowMs: 0 }).lease);
    let revocation: LeaseRevocation | undefined;
    for (let t = 10; t <= 90; t += 10) {
      standby.beat(t * S);
      for (const e of primary.tick(t * S)) if (e.type === 'PublishLeaseRevocation') revocation = e.revocation;
      expect(standby.lease.state.kind).toBe('standby');
    }
    if (!revocation) throw new Error('primary published no revocation');
    return { primary, standby, revocation };
  }

  it('a heartbeating standby goes Live on observing the revocation, with epoch + 1 and the remaining standbys', () => {
    const { primary, standby, revocation } = pair();
    expect(primary.lease.state.kind).toBe('evicted');
    expect(standby.observe(91 * S, revocation)).toEqual([
      { type: 'LeaseGranted', workloadId: 'job-1', providerId: 'prov-b', epoch: 2, promoted: true },
      { type: 'BecameLive', workloadId: 'job-1', providerId: 'prov-b', epoch: 2 },
    ]);
    expect(standby.lease.state).toEqual({ kind: 'live', sinceMs: 91 * S, lastQuorumAliveMs: 90 * S });
    expect(standby.lease.replication).toEqual({ mode: 'warm-standby', standbyProviders: ['prov-c'] });
    // The evicted primary stays out even if its provider comes back.
    primary.beat(92 * S);
    expect(primary.lease.state.kind).toBe('evicted');
  });

  it('a silent standby is promoted into Provisioning and goes Live on its first heartbeat', () => {
    const m = createLeaseMachine(CFG);
    const standby = new Driver(m, m.standby({ workloadId: 'job-1', providerId: 'prov-b', epoch: 1, nowMs: 0 }).lease);
    const revocation: LeaseRevocation = {
      workloadId: 'job-1',
      revokedProvider: 'prov-a',
      epoch: 1,
      standbyProviders: ['prov-b'],
      revokedAtMs: 100 * S,
      reason: 'x',
    };
    expect(types(standby.observe(100 * S, revocation))).toEqual(['LeaseGranted']);
    expect(standby.lease.state).toEqual({ kind: 'provisioning', sinceMs: 100 * S });
    expect(types(standby.beat(101 * S))).toEqual(['BecameLive']);
    expect(standby.lease.state.kind).toBe('live');
  });

  it('ignores revocations for another workload, naming another standby first, or for an older epoch', () => {
    const m = createLeaseMachine(CFG);
    const standby = new Driver(m, m.standby({ workloadId: 'job-1', providerId: 'prov-b', epoch: 3, nowMs: 0 }).lease);
    standby.beat(1 * S);
    const base: LeaseRevocation = {
      workloadId: 'job-1',
      revokedProvider: 'prov-a',
      epoch: 3,
      standbyProviders: ['prov-b'],
      revokedAtMs: 2 * S,
      reason: 'x',
    };
    for (const r of [
      { ...base, workloadId: 'job-2' },
      { ...base, standbyProviders: ['prov-c', 'prov-b'] },
      { ...base, epoch: 2 },
      { ...base, revokedProvider: 'prov-b' },
    ]) {
      expect(standby.observe(2 * S, r)).toEqual([]);
      expect(standby.lease.state.kind).toBe('standby');
    }
    expect(types(standby.observe(3 * S, base))).toEqual(['LeaseGranted', 'BecameLive']);
    expect(standby.lease.epoch).toBe(4);
  });
});

describe('which heartbeats count', () => {
  it('a stale heartbeat (sent more than staleSecs ago) does not count; one at the limit does', () => {
    const m = createLeaseMachine({ ...CFG, staleSecs: 10 });
    const grant = m.grant({ workloadId: 'w', providerId: 'p', nowMs: 100 * S }).lease;
    expect(m.tick(grant, 100 * S, [hb('p', 100 * S, 'm1', 89_999)]).lease.state.kind).toBe('provisioning');
    expect(m.tick(grant, 100 * S, [hb('p', 100 * S, 'm1', 90 * S)]).lease.state).toEqual({
      kind: 'live',
      sinceMs: 100 * S,
      lastQuorumAliveMs: 95 * S,
    });
  });

  it('a replayed old heartbeat proves life only at its send time (+ skew), so a silent holder still goes Suspect', () => {
    const d = live(createLeaseMachine(CFG));
    for (let t = 10; t <= 34; t += 6) d.tick(t * S, [hb('prov-a', t * S, 'm1', 0)]); // replays of the 0 s beat
    expect(d.lease.state).toMatchObject({ kind: 'live', lastQuorumAliveMs: 5 * S });
    d.tick(35 * S, [hb('prov-a', 35 * S, 'm1', 0)]);
    expect(d.lease.state).toMatchObject({ kind: 'suspect', lastQuorumAliveMs: 5 * S });
  });

  it('a heartbeat from the future beyond maxSkewSecs does not count; within the skew it does', () => {
    const m = createLeaseMachine(CFG);
    const grant = m.grant({ workloadId: 'w', providerId: 'p', nowMs: 0 }).lease;
    expect(m.tick(grant, 0, [hb('p', 0, 'm1', 5001)]).lease.state.kind).toBe('provisioning');
    expect(m.tick(grant, 0, [hb('p', 0, 'm1', 5000)]).lease.state.kind).toBe('live');
  });

  it('heartbeats of another provider do not count', () => {
    const m = createLeaseMachine(CFG);
    const grant = m.grant({ workloadId: 'w', providerId: 'p', nowMs: 0 }).lease;
    expect(m.tick(grant, 0, [hb('q', 0)]).lease.state.kind).toBe('provisioning');
  });

  it('M of N: needs m distinct sources, and silence counts from the m-th most recent source', () => {
    const m = createLeaseMachine({ ...CFG, m: 2, n: 3 });
    const d = new Driver(m, m.grant({ workloadId: 'w', providerId: 'p', nowMs: 0 }).lease);
    d.tick(0, [hb('p', 0, 'm1'), hb('p', 0, 'm1')]);
    expect(d.lease.state.kind).toBe('provisioning');
    d.beat(1 * S, 'm2');
    expect(d.lease.state).toEqual({ kind: 'live', sinceMs: 1 * S, lastQuorumAliveMs: 0 });
    // Only m1 keeps beating: the quorum was last alive when m2 last beat (1 s).
    for (let t = 10; t <= 30; t += 10) d.beat(t * S, 'm1');
    expect(d.lease.state.kind).toBe('live');
    d.tick(31 * S);
    expect(d.lease.state).toMatchObject({ kind: 'suspect', lastQuorumAliveMs: 1 * S });
    d.beat(32 * S, 'm3');
    expect(d.lease.state.kind).toBe('live');
    expect(Object.keys(d.lease.heartbeats).sort()).toEqual(['m1', 'm2', 'm3']);
  });
});

describe('time and storage', () => {
  it('clamps an input with an earlier nowMs to the last processed instant', () => {
    const d = live(createLeaseMachine(CFG));
    d.beat(50 * S);
    d.tick(10 * S);
    expect(d.lease.clockMs).toBe(50 * S);
    expect(() => d.tick(Number.NaN)).toThrow(RangeError);
  });

  it('a lease survives a JSON round trip through the store and behaves the same', () => {
    const m = createLeaseMachine(CFG);
    const d = live(m, { mode: 'warm-standby', standbyProviders: ['prov-b'] });
    d.beat(20 * S);
    const stored = JSON.parse(JSON.stringify(d.lease)) as Lease;
    expect(stored).toEqual(d.lease);
    expect(m.tick(stored, 200 * S)).toEqual(m.tick(d.lease, 200 * S));
  });

  it('revoke withdraws a held lease at once and is a no-op otherwise', () => {
    const d = live(createLeaseMachine(CFG));
    expect(d.revoke(5 * S, 'provider refused')).toEqual([
      {
        type: 'LeaseRevoked',
        workloadId: 'job-1',
        providerId: 'prov-a',
        epoch: 1,
        reason: 'revoked: provider refused',
      },
      { type: 'RespawnRequested', workloadId: 'job-1', attempt: 1, fromCheckpoint: false },
    ]);
    expect(d.revoke(6 * S, 'again')).toEqual([]);
    expect(d.lease.state.kind).toBe('respawning');
  });
});

describe('resumeAfterOutage: the market could hear no one while it was stopped', () => {
  const m = createLeaseMachine(CFG);
  const live = (): Lease =>
    m.tick(m.grant({ workloadId: 'w', providerId: 'p', nowMs: 0 }).lease, 1 * S, [hb('p', 1 * S)]).lease;

  it('a holder heard just before a long outage gets t1 and t2 from the restart, not from its last beat', () => {
    const before = live();
    expect(before.state.kind).toBe('live');
    const restart = 500 * S; // far past t2 of silence
    expect(m.tick(before, restart).events.map((e) => e.type)).toContain('LeaseRevoked');
    const resumed = m.resumeAfterOutage(before, restart);
    expect(resumed.events).toEqual([]);
    expect(m.tick(resumed.lease, restart + CFG.t1Secs * S - 1).lease.state.kind).toBe('live');
    expect(m.tick(resumed.lease, restart + CFG.t1Secs * S).lease.state.kind).toBe('suspect');
    // Still silent t2 after the restart: lost, as for any silent holder.
    expect(m.tick(resumed.lease, restart + CFG.t2Secs * S).events.map((e) => e.type)).toContain('LeaseRevoked');
    // A beat after the restart keeps it.
    expect(m.tick(resumed.lease, restart + 10 * S, [hb('p', restart + 10 * S)]).lease.state.kind).toBe('live');
  });

  it('a lease granted but never heard gets its provisioning window from the restart; records that hold nothing are unchanged', () => {
    const granted = m.grant({ workloadId: 'w', providerId: 'p', nowMs: 0 }).lease;
    const restart = 200 * S;
    const resumed = m.resumeAfterOutage(granted, restart).lease;
    expect(m.tick(resumed, restart + CFG.t2Secs * S - 1).lease.state.kind).toBe('provisioning');
    expect(m.tick(resumed, restart + CFG.t2Secs * S).events.map((e) => e.type)).toContain('LeaseRevoked');
    const revoked = m.revoke(live(), 2 * S, 'test').lease;
    expect(m.resumeAfterOutage(revoked, restart).lease.state).toEqual(revoked.state);
  });
});
