import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADMISSION_CODES, AdmissionController, type AdmissionConfig, type JobRequest } from '../../../src/core/pricing/admission.js';
import { PriceBoard } from '../../../src/core/pricing/price-board.js';
import { penalizeSla } from '../../../src/core/pricing/sla.js';
import { FakeClock, InMemoryBondLedger } from './fakes.js';

const config: AdmissionConfig = {
  guard: { feeThreshold: 1000n, ageLimitMs: 30_000, recoveryPercent: 90, recoveryMs: 60_000 },
  capacityWindowMs: 60_000,
  maxQueuedPerLane: 5,
  maxDeferred: 2,
};

function setup(cfg: AdmissionConfig = config) {
  const clock = new FakeClock();
  const board = new PriceBoard(100);
  const ledger = new InMemoryBondLedger({ p1: 500n, p2: 300n });
  const ctl = new AdmissionController(cfg, { clock, board, ledger });
  return { clock, board, ledger, ctl };
}

let n = 0;
const job = (lane: JobRequest['lane'], shards = 1, fee = 100n): JobRequest => ({ id: `job-${++n}`, lane, fee, shards });

describe('industrial admission', () => {
  it('keeps its user-facing codes stable', () => {
    expect(Object.keys(ADMISSION_CODES)).toEqual(['INDUSTRIAL_TIGHT', 'NO_CAPACITY', 'QUEUE_FULL', 'DUPLICATE_JOB', 'INVALID_JOB', 'SLA']);
    expect(ADMISSION_CODES.INDUSTRIAL_TIGHT.retryable).toBe(true);
    expect(ADMISSION_CODES.INVALID_JOB.retryable).toBe(false);
  });

  it('admits with enough headroom while loose, reserving shards until the job finishes', () => {
    const { ctl } = setup();
    ctl.capacity.report('p1', 10);
    const a = ctl.submit(job('industrial', 6));
    expect(a).toMatchObject({ outcome: 'admitted', lane: 'industrial', shards: 6, mode: 'loose' });
    expect(ctl.reservedShards()).toBe(6);
    expect(ctl.headroom()).toBe(4);
    expect(ctl.take('industrial')?.id).toBe(a.jobId);
    expect(ctl.reservedShards()).toBe(6); // dispatched but still running
    expect(ctl.finish(a.jobId)).toEqual({ releasedShards: 6 });
    expect(ctl.headroom()).toBe(10);
  });

  it('defers when the shards exist but are busy, and admits deferred jobs when they free up', () => {
    const { ctl } = setup();
    ctl.capacity.report('p1', 10);
    const big = ctl.submit(job('industrial', 8));
    const d = ctl.submit(job('industrial', 4));
    expect(d).toMatchObject({ outcome: 'deferred', code: 'NO_CAPACITY', retryable: true, mode: 'loose' });
    expect(ctl.backlog('industrial')).toBe(1);
    expect(ctl.deferred()).toBe(1);
    expect(ctl.retryDeferred()).toEqual([]);
    ctl.finish(big.jobId);
    expect(ctl.retryDeferred()).toEqual([{ jobId: d.jobId, lane: 'industrial', shards: 4, mode: 'loose', outcome: 'admitted' }]);
    expect(ctl.deferred()).toBe(0);
    expect(ctl.backlog('industrial')).toBe(1);
  });

  it('rejects NO_CAPACITY when the job needs more than all capacity seen recently', () => {
    const { ctl, clock } = setup();
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'rejected', code: 'NO_CAPACITY', retryable: true });
    ctl.capacity.report('p1', 4);
    expect(ctl.submit(job('industrial', 5))).toMatchObject({ outcome: 'rejected', code: 'NO_CAPACITY' });
    expect(ctl.submit(job('industrial', 4))).toMatchObject({ outcome: 'admitted' });
    clock.advance(60_000); // p1's report expires
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'rejected', code: 'NO_CAPACITY' });
  });

  it('rejects INDUSTRIAL_TIGHT while consumer fees are above the comfort threshold, and admits again after recovery', () => {
    const { ctl, clock } = setup();
    ctl.capacity.report('p1', 100);
    const pricey = ctl.submit(job('consumer', 1, 5000n));
    expect(pricey).toMatchObject({ outcome: 'admitted', mode: 'loose' });
    const r = ctl.submit(job('industrial', 1));
    expect(r).toMatchObject({ outcome: 'rejected', code: 'INDUSTRIAL_TIGHT', retryable: true, mode: 'tight' });
    // Consumer work drains; the guard waits out the recovery time before loosening.
    ctl.take('consumer');
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ code: 'INDUSTRIAL_TIGHT' });
    clock.advance(60_000);
    ctl.capacity.report('p1', 100);
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'admitted', mode: 'loose' });
  });

  it('turns tight when consumer jobs wait too long', () => {
    const { ctl, clock } = setup();
    ctl.capacity.report('p1', 100);
    ctl.submit(job('consumer', 1, 1n));
    clock.advance(30_001);
    ctl.capacity.report('p1', 100);
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'rejected', code: 'INDUSTRIAL_TIGHT', mode: 'tight' });
    expect(ctl.consumerAge(95)).toBe(30_001);
  });

  it('does not retry deferred jobs while tight', () => {
    const { ctl } = setup();
    ctl.capacity.report('p1', 4);
    const first = ctl.submit(job('industrial', 4));
    ctl.submit(job('industrial', 2));
    ctl.finish(first.jobId);
    ctl.submit(job('consumer', 1, 5000n));
    expect(ctl.retryDeferred()).toEqual([]);
    expect(ctl.mode).toBe('tight');
    expect(ctl.deferred()).toBe(1);
  });

  it('rejects QUEUE_FULL when the deferred or the lane queue is full', () => {
    const { ctl } = setup();
    ctl.capacity.report('p1', 10);
    ctl.submit(job('industrial', 10));
    expect(ctl.submit(job('industrial', 3)).outcome).toBe('deferred');
    expect(ctl.submit(job('industrial', 3)).outcome).toBe('deferred');
    expect(ctl.submit(job('industrial', 3))).toMatchObject({ outcome: 'rejected', code: 'QUEUE_FULL' });
    for (let i = 0; i < 5; i++) expect(ctl.submit(job('consumer')).outcome).toBe('admitted');
    expect(ctl.submit(job('consumer'))).toMatchObject({ outcome: 'rejected', code: 'QUEUE_FULL', lane: 'consumer' });
  });

  it('rejects malformed and duplicate jobs', () => {
    const { ctl } = setup();
    ctl.capacity.report('p1', 10);
    expect(ctl.submit({ id: '', lane: 'consumer', fee: 1n, shards: 1 })).toMatchObject({ code: 'INVALID_JOB', retryable: false });
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: -1n, shards: 1 })).toMatchObject({ code: 'INVALID_JOB' });
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: 1n, shards: 0 })).toMatchObject({ code: 'INVALID_JOB' });
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: 1n, shards: 1.5 })).toMatchObject({ code: 'INVALID_JOB' });
    expect(ctl.submit({ id: 'x', lane: 'bulk' as 'consumer', fee: 1n, shards: 1 })).toMatchObject({ code: 'INVALID_JOB' });
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: 1n, shards: 1 }).outcome).toBe('admitted');
    expect(ctl.submit({ id: 'x', lane: 'consumer', fee: 1n, shards: 1 })).toMatchObject({ code: 'DUPLICATE_JOB' });
    ctl.take('industrial');
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: 1n, shards: 1 })).toMatchObject({ code: 'DUPLICATE_JOB' }); // still running
    ctl.finish('x');
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: 1n, shards: 1 }).outcome).toBe('admitted');
  });

  it('records admitted fees on the board in their own lane, and computes the suggested bid without deferred jobs', () => {
    const { ctl, board } = setup({ ...config, maxQueuedPerLane: 100, maxDeferred: 100 });
    ctl.capacity.report('p1', 4);
    ctl.submit(job('consumer', 1, 10n));
    ctl.submit(job('industrial', 2, 200n));
    ctl.submit(job('industrial', 2, 200n));
    for (let i = 0; i < 3; i++) expect(ctl.submit(job('industrial', 1, 999n)).outcome).toBe('deferred');
    expect(board.entries('consumer')).toEqual([10n]);
    expect(board.entries('industrial')).toEqual([200n, 200n]); // deferred offers are not recorded
    expect(ctl.backlog('industrial')).toBe(2);
    expect(ctl.queueSize('industrial')).toBe(5);
    expect(ctl.suggestedBid('industrial')).toBe(204n); // 200 × (1 + 2/100); the 3 deferred jobs do not count
    expect(ctl.suggestedBid('consumer')).toBe(10n);
  });

  it('cancels queued and deferred jobs, giving back reserved shards', () => {
    const { ctl } = setup();
    ctl.capacity.report('p1', 4);
    const a = ctl.submit(job('industrial', 4));
    const d = ctl.submit(job('industrial', 1));
    expect(ctl.cancel(d.jobId)).toBe(true);
    expect(ctl.cancel(a.jobId)).toBe(true);
    expect(ctl.reservedShards()).toBe(0);
    expect(ctl.cancel('nope')).toBe(false);
  });

  it('never reserves more shards than the capacity seen (random workloads)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('submit' as const), shards: fc.integer({ min: 1, max: 12 }), fee: fc.bigInt({ min: 0n, max: 2000n }), consumer: fc.boolean() }),
            fc.record({ op: fc.constant('finish' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('retry' as const) }),
            fc.record({ op: fc.constant('take' as const), consumer: fc.boolean() }),
            fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
          ),
          { maxLength: 80 },
        ),
        (ops) => {
          const { ctl, clock } = setup({ ...config, maxQueuedPerLane: 20, maxDeferred: 5 });
          const live: string[] = [];
          let i = 0;
          for (const o of ops) {
            ctl.capacity.report('p1', 16);
            if (o.op === 'submit') {
              const d = ctl.submit({ id: `j${i++}`, lane: o.consumer ? 'consumer' : 'industrial', fee: o.fee, shards: o.shards });
              if (d.outcome === 'admitted' && d.lane === 'industrial') live.push(d.jobId);
              if (d.outcome === 'deferred') live.push(d.jobId);
              if (d.lane === 'industrial' && d.outcome === 'admitted') expect(d.mode).toBe('loose');
            } else if (o.op === 'finish' && live.length > 0) ctl.finish(live.splice(o.pick % live.length, 1)[0] as string);
            else if (o.op === 'retry') ctl.retryDeferred();
            else if (o.op === 'take') ctl.take(o.consumer ? 'consumer' : 'industrial');
            else if (o.op === 'tick') clock.advance(o.ms);
            expect(ctl.reservedShards()).toBeLessThanOrEqual(16);
            expect(ctl.reservedShards()).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('penalize_sla', () => {
  it('slashes exactly the bond: the provider loses it, the pool gains it, nothing else moves', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 0n, max: 10n ** 30n }), (bondHeld, extra) => {
        const ledger = new InMemoryBondLedger({ p1: bondHeld + extra, p2: 77n });
        const before = ledger.total();
        const penalty = penalizeSla(ledger, { jobId: 'j', provider: 'p1', bond: bondHeld });
        expect(penalty).toEqual({ jobId: 'j', provider: 'p1', amount: bondHeld, code: 'SLA' });
        expect(ledger.bonds.get('p1')).toBe(extra);
        expect(ledger.slashedPool).toBe(bondHeld);
        expect(ledger.bonds.get('p2')).toBe(77n);
        expect(ledger.total()).toBe(before);
        expect(ledger.events).toEqual([{ provider: 'p1', amount: bondHeld, reason: 'SLA', ref: 'j' }]);
      }),
    );
  });

  it('slashes a job that finishes after its declared deadline, once, and not one on time', () => {
    const { ctl, ledger, clock } = setup();
    ctl.capacity.report('p1', 10);
    const onTime = ctl.submit(job('industrial', 1));
    const late = ctl.submit(job('industrial', 1));
    ctl.declareDeadline({ jobId: onTime.jobId, provider: 'p1', bond: 100n, deadline: clock.now() + 1000 });
    ctl.declareDeadline({ jobId: late.jobId, provider: 'p2', bond: 120n, deadline: clock.now() + 1000 });
    clock.advance(1000);
    expect(ctl.finish(onTime.jobId)).toEqual({ releasedShards: 1 });
    clock.advance(1);
    expect(ctl.finish(late.jobId)).toEqual({ releasedShards: 1, penalty: { jobId: late.jobId, provider: 'p2', amount: 120n, code: 'SLA' } });
    expect(ledger.bonds.get('p1')).toBe(500n);
    expect(ledger.bonds.get('p2')).toBe(180n);
    expect(ctl.finish(late.jobId)).toEqual({ releasedShards: 0 });
    expect(ledger.events).toHaveLength(1);
  });

  it('sweeps passed deadlines once, retries slashes the ledger refused, and ignores a repeat report', () => {
    const { ctl, ledger, clock } = setup();
    ctl.declareDeadline({ jobId: 'a', provider: 'p1', bond: 50n, deadline: clock.now() + 10 });
    ctl.declareDeadline({ jobId: 'b', provider: 'p2', bond: 400n, deadline: clock.now() + 10 }); // more than p2 holds
    ctl.declareDeadline({ jobId: 'c', provider: 'p1', bond: 1n, deadline: clock.now() + 5000 });
    clock.advance(11);
    const first = ctl.sweepDeadlines();
    expect(first.penalties.map((p) => p.jobId)).toEqual(['a']);
    expect(first.failures).toEqual([{ jobId: 'b', provider: 'p2', error: 'cannot slash 400 from a bond of 300' }]);
    ledger.bonds.set('p2', 400n);
    expect(ctl.sweepDeadlines().penalties).toEqual([]); // the refused slash waits out its 1 s back-off
    clock.advance(1000);
    expect(ctl.sweepDeadlines().penalties.map((p) => p.jobId)).toEqual(['b']);
    expect(ctl.sweepDeadlines().penalties).toEqual([]);
    expect(ledger.bonds.get('p2')).toBe(0n);
    expect(ctl.penalizeSla({ jobId: 'a', provider: 'p1', bond: 50n })).toBeUndefined(); // already slashed
    expect(ctl.penalizeSla({ jobId: 'c', provider: 'p1', bond: 1n })).toMatchObject({ amount: 1n });
    clock.advance(10_000);
    expect(ctl.sweepDeadlines().penalties).toEqual([]); // c was penalized directly, not again
    expect(ledger.bonds.get('p1')).toBe(449n);
    expect(ledger.slashedPool).toBe(451n);
  });
});

describe('penalize_sla against a declared deadline', () => {
  it('refuses to slash a provider or amount other than the declared bond', async () => {
    const { SlaMonitor } = await import('../../../src/core/pricing/sla.js');
    const slashed: bigint[] = [];
    const monitor = new SlaMonitor({ slash: (_p, amount) => slashed.push(amount) > 0 }, { now: () => 0 });
    monitor.declare({ jobId: 'j', provider: 'p', bond: 100n, deadline: 10 });
    expect(() => monitor.penalize({ jobId: 'j', provider: 'p', bond: 5000n })).toThrow(/declared with provider p and bond 100; refusing to slash 5000/);
    expect(() => monitor.penalize({ jobId: 'j', provider: 'q', bond: 100n })).toThrow(/refusing/);
    expect(slashed).toEqual([]);
    expect(monitor.penalize({ jobId: 'j', provider: 'p', bond: 100n })?.amount).toBe(100n);
    expect(slashed).toEqual([100n]);
  });
});

describe('SLA sweep retries', () => {
  it('backs off a slash the ledger refuses instead of retrying it every sweep', async () => {
    const { SlaMonitor } = await import('../../../src/core/pricing/sla.js');
    let refuse = true;
    let calls = 0;
    const clock = { t: 0, now() { return this.t; } };
    const monitor = new SlaMonitor({ slash: () => { calls++; if (refuse) throw new Error('bond too small'); return true; } }, clock);
    monitor.declare({ jobId: 'j', provider: 'p', bond: 10n, deadline: 0 });
    clock.t = 1;
    expect(monitor.sweep().failures).toHaveLength(1);
    for (let i = 0; i < 5; i++) monitor.sweep(); // within the 1 s back-off: not tried
    expect(calls).toBe(1);
    clock.t = 1001;
    expect(monitor.sweep().failures).toHaveLength(1);
    clock.t = 2000; // second back-off is 2 s
    monitor.sweep();
    expect(calls).toBe(2);
    refuse = false;
    clock.t = 3001;
    expect(monitor.sweep().penalties).toHaveLength(1);
    expect(monitor.watching).toBe(0);
  });
});
