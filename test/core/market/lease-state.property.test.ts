import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLeaseMachine,
  holdsLease,
  type Lease,
  type LeaseEvent,
  type LeaseMachine,
  type LeaseRevocation,
  type QuorumConfig,
  type RestartPolicy,
  type WorkloadState,
} from '../../../src/core/market/lease-state.js';

const envSeed = process.env.TESSERA_SEED;
const SEED =
  envSeed !== undefined && envSeed !== '' ? Number.parseInt(envSeed, 10) : Math.floor(Math.random() * 0x7fffffff);
if (!Number.isSafeInteger(SEED)) throw new Error(`TESSERA_SEED=${envSeed ?? ''} is not an integer`);
console.log(`lease-state property tests: fast-check seed ${SEED} (rerun with TESSERA_SEED=${SEED})`);

const WORKLOAD = 'job-7';
const PROVIDERS = ['prov-p', 'prov-s', 'prov-r'] as const;
const SOURCES = ['m1', 'm2', 'm3'] as const;

const quorumConfig: fc.Arbitrary<QuorumConfig> = fc
  .record({
    m: fc.integer({ min: 1, max: 2 }),
    extraN: fc.integer({ min: 0, max: 1 }),
    t1Secs: fc.integer({ min: 1, max: 5 }),
    gap: fc.integer({ min: 1, max: 6 }),
    staleSecs: fc.integer({ min: 1, max: 8 }),
    maxSkewSecs: fc.integer({ min: 0, max: 2 }),
    respawnRetrySecs: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ m, extraN, t1Secs, gap, ...rest }) => ({ m, n: m + extraN, t1Secs, t2Secs: t1Secs + gap, ...rest }));

const restartPolicy: fc.Arbitrary<RestartPolicy> = fc.oneof(
  fc.constant<RestartPolicy>({ policy: 'never' }),
  fc.integer({ min: 0, max: 4 }).map((maxAttempts): RestartPolicy => ({ policy: 'on-failure', maxAttempts })),
);

type Action =
  | { t: 'advance'; dtMs: number }
  | { t: 'beat'; who: number; source: number; sentOffsetMs: number }
  | { t: 'tick' }
  | { t: 'revoke'; target: 'p' | 's' }
  | { t: 'deliver'; index: number; to: 'p' | 's' }
  | { t: 'forge'; variant: number }
  | { t: 'respawnFailed'; target: 'p' | 's'; attemptDelta: number }
  | { t: 'respawnOk'; target: 'p' | 's'; attemptDelta: number; who: number };

const target = fc.constantFrom<'p' | 's'>('p', 's');
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    arbitrary: fc.record({ t: fc.constant('advance' as const), dtMs: fc.integer({ min: -2000, max: 4000 }) }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('beat' as const),
      who: fc.constantFrom(0, 0, 1, 1, 2),
      source: fc.integer({ min: 0, max: 2 }),
      sentOffsetMs: fc.oneof(
        { arbitrary: fc.constant(0), weight: 3 },
        { arbitrary: fc.integer({ min: -10_000, max: 3000 }), weight: 1 },
      ),
    }),
    weight: 6,
  },
  { arbitrary: fc.constant<Action>({ t: 'tick' }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('revoke' as const), target }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('deliver' as const), index: fc.nat(4), to: target }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('forge' as const), variant: fc.nat(4) }), weight: 1 },
  {
    arbitrary: fc.record({
      t: fc.constant('respawnFailed' as const),
      target,
      attemptDelta: fc.integer({ min: -1, max: 1 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('respawnOk' as const),
      target,
      attemptDelta: fc.integer({ min: -1, max: 1 }),
      who: fc.integer({ min: 0, max: 2 }),
    }),
    weight: 1,
  },
);

/** Every instant a state carries. */
function stateTimes(s: WorkloadState): number[] {
  switch (s.kind) {
    case 'provisioning':
    case 'standby':
      return [s.sinceMs];
    case 'live':
    case 'suspect':
      return [s.sinceMs, s.lastQuorumAliveMs];
    case 'respawning':
      return [s.sinceMs];
    case 'evicted':
    case 'failed':
      return [s.atMs];
  }
}

/** Checks the per-record invariants across one step and returns a failure description, or null. */
function checkStep(
  name: string,
  before: Lease,
  after: Lease,
  events: readonly LeaseEvent[],
  machine: LeaseMachine,
): string | null {
  if (after.clockMs < before.clockMs) return `${name}: clock went back ${before.clockMs} → ${after.clockMs}`;
  for (const t of stateTimes(after.state))
    if (t > after.clockMs) return `${name}: state time ${t} after clock ${after.clockMs}`;
  for (const t of Object.values(after.heartbeats))
    if (t > after.clockMs) return `${name}: heartbeat time ${t} after clock ${after.clockMs}`;
  if (Object.keys(after.heartbeats).length > machine.config.n) return `${name}: remembers more than n sources`;
  if (after.epoch < before.epoch) return `${name}: epoch went back`;
  if (before.state.kind === 'failed' && (after.state !== before.state || events.length > 0))
    return `${name}: left Failed or emitted ${JSON.stringify(events)}`;
  if (before.state.kind === 'evicted' && (after.state !== before.state || events.length > 0))
    return `${name}: left Evicted`;
  const max = after.restartPolicy.policy === 'on-failure' ? after.restartPolicy.maxAttempts : 0;
  if (after.respawnAttempts > max) return `${name}: ${after.respawnAttempts} respawn attempts exceed ${max}`;
  const pub = events.findIndex((e) => e.type === 'PublishLeaseRevocation');
  if (pub >= 0) {
    const revoked = events.findIndex((e) => e.type === 'LeaseRevoked');
    if (revoked < 0 || revoked > pub) return `${name}: published a revocation without first leaving the lease`;
    if (holdsLease(after.state)) return `${name}: published a revocation while still holding`;
  }
  if (events.some((e) => e.type === 'Failed') && after.state.kind !== 'failed')
    return `${name}: Failed event but state ${after.state.kind}`;
  return null;
}

describe('lease state machine: single writer with a primary and a warm standby', () => {
  it('at no instant are both Live (or both holding); the standby promotes only on the published revocation; time is monotonic; Failed is terminal', () => {
    // What the runs reached, so the property cannot pass by never getting anywhere.
    const reached = { revocations: 0, promotions: 0, standbyLive: 0, standbyFailed: 0 };
    fc.assert(
      fc.property(
        quorumConfig,
        restartPolicy,
        fc.array(action, { minLength: 1, maxLength: 120, size: 'max' }),
        (config, standbyPolicy, actions) => {
          const machine = createLeaseMachine(config);
          let now = 1_000_000;
          let p = machine.grant({
            workloadId: WORKLOAD,
            providerId: 'prov-p',
            nowMs: now,
            replication: { mode: 'warm-standby', standbyProviders: ['prov-s'] },
          }).lease;
          let s = machine.standby({
            workloadId: WORKLOAD,
            providerId: 'prov-s',
            epoch: p.epoch,
            nowMs: now,
            restartPolicy: standbyPolicy,
          }).lease;
          const published: LeaseRevocation[] = [];
          let promotions = 0;
          let standbyWasLive = false;

          const apply = (
            name: 'p' | 's',
            fn: (l: Lease) => { lease: Lease; events: readonly LeaseEvent[] },
            delivered?: LeaseRevocation,
          ): void => {
            const before = name === 'p' ? p : s;
            const { lease, events } = fn(before);
            const bad = checkStep(name, before, lease, events, machine);
            if (bad) throw new Error(bad);
            for (const e of events) if (e.type === 'PublishLeaseRevocation') published.push(e.revocation);
            const promoted = events.some((e) => e.type === 'LeaseGranted' && e.promoted);
            if (promoted) {
              if (name !== 's') throw new Error('the primary promoted itself');
              if (!delivered || !published.includes(delivered))
                throw new Error('standby promoted without observing a published revocation');
              if (holdsLease(p.state)) throw new Error('standby promoted while the primary still holds the lease');
              if (delivered.epoch < before.epoch) throw new Error('standby promoted on an older epoch');
              promotions++;
            }
            if (name === 'p') p = lease;
            else s = lease;
          };

          for (const a of actions) {
            switch (a.t) {
              case 'advance':
                now += a.dtMs; // may go back: the machine must clamp
                break;
              case 'beat': {
                const obs = [
                  {
                    providerId: PROVIDERS[a.who] as string,
                    source: SOURCES[a.source] as string,
                    seenAtMs: now,
                    sentAtMs: now + a.sentOffsetMs,
                  },
                ];
                apply('p', (l) => machine.tick(l, now, obs));
                apply('s', (l) => machine.tick(l, now, obs));
                break;
              }
              case 'tick':
                apply('p', (l) => machine.tick(l, now));
                apply('s', (l) => machine.tick(l, now));
                break;
              case 'revoke':
                apply(a.target, (l) => machine.revoke(l, now, 'market decision'));
                break;
              case 'deliver': {
                const r = published[a.index % Math.max(1, published.length)];
                if (r) apply(a.to, (l) => machine.observeRevocation(l, now, r), r); // may repeat or arrive late
                break;
              }
              case 'forge': {
                const base: LeaseRevocation = {
                  workloadId: WORKLOAD,
                  revokedProvider: 'prov-p',
                  epoch: p.epoch,
                  standbyProviders: ['prov-s'],
                  revokedAtMs: now,
                  reason: 'forged',
                };
                const forged = [
                  { ...base, workloadId: 'job-other' },
                  { ...base, standbyProviders: ['prov-r', 'prov-s'] },
                  { ...base, epoch: s.epoch - 1 },
                  { ...base, revokedProvider: 'prov-s' },
                  { ...base, standbyProviders: [] },
                ][a.variant % 5] as LeaseRevocation;
                apply('s', (l) => {
                  const step = machine.observeRevocation(l, now, forged);
                  if (step.events.length > 0)
                    throw new Error(`a forged revocation moved the standby: ${JSON.stringify(forged)}`);
                  return step;
                });
                break;
              }
              case 'respawnFailed':
                apply(a.target, (l) =>
                  machine.respawnFailed(
                    l,
                    now,
                    (l.state.kind === 'respawning' ? l.state.attempt : 1) + a.attemptDelta,
                    'no provider',
                  ),
                );
                break;
              case 'respawnOk':
                apply(a.target, (l) =>
                  machine.respawnSucceeded(
                    l,
                    now,
                    (l.state.kind === 'respawning' ? l.state.attempt : 1) + a.attemptDelta,
                    PROVIDERS[a.who] as string,
                  ),
                );
                break;
            }
            const liveCount = [p, s].filter((l) => l.state.kind === 'live').length;
            if (liveCount > 1) throw new Error(`both Live after ${JSON.stringify(a)}`);
            const holders = [p, s].filter((l) => holdsLease(l.state));
            if (holders.length > 1) throw new Error(`both hold the lease after ${JSON.stringify(a)}`);
            if (s.state.kind === 'live') standbyWasLive = true;
            if (holdsLease(s.state) && s.epoch <= p.epoch)
              throw new Error('the standby holds without a newer epoch than the primary');
          }
          if (published.length > 0) reached.revocations++;
          if (promotions > 0) reached.promotions++;
          if (standbyWasLive) reached.standbyLive++;
          if (s.state.kind === 'failed') reached.standbyFailed++;
          return promotions <= 1;
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
    console.log(`runs reaching: ${JSON.stringify(reached)}`);
    expect(reached.revocations).toBeGreaterThan(0);
    expect(reached.promotions).toBeGreaterThan(0);
    expect(reached.standbyLive).toBeGreaterThan(0);
    expect(reached.standbyFailed).toBeGreaterThan(0);
  });
});

describe('lease state machine: one lease of any replication mode', () => {
  const replication = fc.constantFrom<'none' | 'checkpointed' | 'warm-standby'>('none', 'checkpointed', 'warm-standby');

  it('Failed is terminal, attempts stay within the policy, respawns are requested at most once per cadence', () => {
    const reached = { respawned: 0, regranted: 0, failed: 0 };
    fc.assert(
      fc.property(
        quorumConfig,
        restartPolicy,
        replication,
        fc.array(action, { minLength: 1, maxLength: 80, size: 'max' }),
        (config, policy, mode, actions) => {
          const machine = createLeaseMachine(config);
          let now = 0;
          let l = machine.grant({
            workloadId: WORKLOAD,
            providerId: 'prov-p',
            nowMs: now,
            restartPolicy: policy,
            replication: mode === 'warm-standby' ? { mode, standbyProviders: ['prov-s'] } : { mode },
          }).lease;
          let lastRequestAt = -Infinity;
          let requests = 0;
          for (const a of actions) {
            const before = l;
            let step: { lease: Lease; events: readonly LeaseEvent[] } | null = null;
            const holder = l.providerId;
            if (a.t === 'advance') now += a.dtMs;
            else if (a.t === 'beat')
              step = machine.tick(l, now, [
                {
                  providerId: a.who === 0 ? holder : (PROVIDERS[a.who] as string),
                  source: SOURCES[a.source] as string,
                  seenAtMs: now,
                  sentAtMs: now + a.sentOffsetMs,
                },
              ]);
            else if (a.t === 'tick' || a.t === 'deliver' || a.t === 'forge') step = machine.tick(l, now);
            else if (a.t === 'revoke') step = machine.revoke(l, now, 'market decision');
            else if (a.t === 'respawnFailed')
              step = machine.respawnFailed(
                l,
                now,
                (l.state.kind === 'respawning' ? l.state.attempt : 1) + a.attemptDelta,
                'no provider',
              );
            else
              step = machine.respawnSucceeded(
                l,
                now,
                (l.state.kind === 'respawning' ? l.state.attempt : 1) + a.attemptDelta,
                PROVIDERS[a.who] as string,
              );
            if (!step) continue;
            const bad = checkStep('lease', before, step.lease, step.events, machine);
            if (bad) throw new Error(bad);
            for (const e of step.events) {
              if (e.type !== 'RespawnRequested') continue;
              requests++;
              const fromRespawning = before.state.kind === 'respawning';
              if (fromRespawning && step.lease.clockMs - lastRequestAt < config.respawnRetrySecs * 1000)
                throw new Error('respawn re-requested before the cadence');
              lastRequestAt = step.lease.clockMs;
            }
            if (mode === 'warm-standby' && requests > 0)
              throw new Error('a warm-standby lease asked for a respawn instead of handing off');
            l = step.lease;
          }
          const max = policy.policy === 'on-failure' ? policy.maxAttempts : 0;
          if (requests > 0) reached.respawned++;
          if (l.epoch > 1) reached.regranted++;
          if (l.state.kind === 'failed') reached.failed++;
          return requests <= max && requests === l.respawnAttempts;
        },
      ),
      { seed: SEED + 1, numRuns: 400 },
    );
    console.log(`runs reaching: ${JSON.stringify(reached)}`);
    expect(reached.respawned).toBeGreaterThan(0);
    expect(reached.regranted).toBeGreaterThan(0);
    expect(reached.failed).toBeGreaterThan(0);
  });

  it('a holder that heartbeats more often than every t1 never goes Suspect', () => {
    fc.assert(
      fc.property(
        quorumConfig.filter((c) => c.m === 1),
        fc.array(fc.record({ gapMs: fc.integer({ min: 1, max: 999 }), beat: fc.boolean() }), {
          minLength: 1,
          maxLength: 200,
          size: 'max',
        }),
        (config, steps) => {
          const machine = createLeaseMachine(config);
          const t1Ms = config.t1Secs * 1000;
          let now = 0;
          let l = machine.tick(machine.grant({ workloadId: WORKLOAD, providerId: 'prov-p', nowMs: 0 }).lease, 0, [
            { providerId: 'prov-p', source: 'm1', seenAtMs: 0, sentAtMs: 0 },
          ]).lease;
          let lastBeat = 0;
          for (const st of steps) {
            now += st.gapMs;
            // Beat when asked, and always before t1 of silence would pass.
            const beat = st.beat || now - lastBeat + 1000 >= t1Ms;
            const step = machine.tick(
              l,
              now,
              beat ? [{ providerId: 'prov-p', source: 'm1', seenAtMs: now, sentAtMs: now }] : [],
            );
            if (beat) lastBeat = now;
            if (step.lease.state.kind !== 'live')
              throw new Error(`${step.lease.state.kind} at ${now} ms, last beat ${lastBeat} ms`);
            l = step.lease;
          }
          return true;
        },
      ),
      { seed: SEED + 2, numRuns: 300 },
    );
  });
});

it('the seed is printed and reusable', () => {
  expect(Number.isSafeInteger(SEED)).toBe(true);
});
