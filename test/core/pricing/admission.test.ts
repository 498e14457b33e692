import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADMISSION_CODES,
  AdmissionController,
  type AdmissionConfig,
  type JobRequest,
} from '../../../src/core/pricing/admission.js';
import { PriceBoard } from '../../../src/core/pricing/price-board.js';
import { penalizeSla } from '../../../src/core/pricing/sla.js';
import { defaultConfig } from '../../../src/main/config/load-config.js';
import { jsonLineSink, sinkLogger } from '../../../src/node/log.js';
import { createMetricsRegistry, metricValue } from '../../../src/main/metrics.js';
import { AdmissionService, admissionConfig } from '../../../src/main/services/admission-service.js';
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
    expect(Object.keys(ADMISSION_CODES)).toEqual([
      'INDUSTRIAL_TIGHT',
      'NO_CAPACITY',
      'QUEUE_FULL',
      'DUPLICATE_JOB',
      'INVALID_JOB',
      'SLA',
      'DEFER_EXPIRED',
    ]);
    expect(ADMISSION_CODES.INDUSTRIAL_TIGHT.retryable).toBe(true);
    expect(ADMISSION_CODES.DEFER_EXPIRED.retryable).toBe(true);
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
    expect(ctl.retryDeferred()).toEqual([
      { jobId: d.jobId, lane: 'industrial', shards: 4, mode: 'loose', outcome: 'admitted' },
    ]);
    expect(ctl.deferred()).toBe(0);
    expect(ctl.backlog('industrial')).toBe(1);
  });

  it('rejects NO_CAPACITY when the job needs more than all capacity seen recently', () => {
    const { ctl, clock } = setup();
    expect(ctl.submit(job('industrial', 1))).toMatchObject({
      outcome: 'rejected',
      code: 'NO_CAPACITY',
      retryable: true,
    });
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

  it('compares comfort_threshold_p90 with the consumer fee p90, not the median', () => {
    const { ctl } = setup({ ...config, maxQueuedPerLane: 100 });
    ctl.capacity.report('p1', 100);
    // 10 queued consumer fees: 8 cheap, 2 pricey. Nearest-rank p50 = 100 (below the 1000
    // threshold), p90 = 5000 (above it): the median alone would keep the guard loose.
    const fees = [100n, 100n, 100n, 100n, 100n, 100n, 100n, 100n, 5000n, 5000n];
    for (const fee of fees.slice(0, 8)) ctl.submit(job('consumer', 1, fee));
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'admitted', mode: 'loose' });
    for (const fee of fees.slice(8)) ctl.submit(job('consumer', 1, fee));
    expect(ctl.consumerFee(50)).toBe(100n);
    expect(ctl.consumerFee(90)).toBe(5000n);
    expect(ctl.refresh()).toMatchObject({ mode: 'tight', pressure: ['fee'] });
    expect(ctl.submit(job('industrial', 1))).toMatchObject({
      outcome: 'rejected',
      code: 'INDUSTRIAL_TIGHT',
      mode: 'tight',
    });
  });

  it('stays loose while the consumer fee p90 is at the threshold, whatever the top fee', () => {
    const { ctl } = setup({ ...config, maxQueuedPerLane: 100 });
    ctl.capacity.report('p1', 100);
    // p90 of 10 values is the 9th: 1000 (not above the threshold); only the top fee is higher.
    for (const fee of [10n, 10n, 10n, 10n, 10n, 10n, 10n, 10n, 1000n, 9000n]) ctl.submit(job('consumer', 1, fee));
    expect(ctl.refresh()).toMatchObject({ mode: 'loose', pressure: [] });
  });

  it('turns tight when consumer jobs wait too long', () => {
    const { ctl, clock } = setup();
    ctl.capacity.report('p1', 100);
    ctl.submit(job('consumer', 1, 1n));
    clock.advance(30_001);
    ctl.capacity.report('p1', 100);
    expect(ctl.submit(job('industrial', 1))).toMatchObject({
      outcome: 'rejected',
      code: 'INDUSTRIAL_TIGHT',
      mode: 'tight',
    });
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
    expect(ctl.submit({ id: '', lane: 'consumer', fee: 1n, shards: 1 })).toMatchObject({
      code: 'INVALID_JOB',
      retryable: false,
    });
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: -1n, shards: 1 })).toMatchObject({ code: 'INVALID_JOB' });
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: 1n, shards: 0 })).toMatchObject({ code: 'INVALID_JOB' });
    expect(ctl.submit({ id: 'x', lane: 'industrial', fee: 1n, shards: 1.5 })).toMatchObject({ code: 'INVALID_JOB' });
    expect(ctl.submit({ id: 'x', lane: 'bulk' as 'consumer', fee: 1n, shards: 1 })).toMatchObject({
      code: 'INVALID_JOB',
    });
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
            fc.record({
              op: fc.constant('submit' as const),
              shards: fc.integer({ min: 1, max: 12 }),
              fee: fc.bigInt({ min: 0n, max: 2000n }),
              consumer: fc.boolean(),
            }),
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
              const d = ctl.submit({
                id: `j${i++}`,
                lane: o.consumer ? 'consumer' : 'industrial',
                fee: o.fee,
                shards: o.shards,
              });
              if (d.outcome === 'admitted' && d.lane === 'industrial') live.push(d.jobId);
              if (d.outcome === 'deferred') live.push(d.jobId);
              if (d.lane === 'industrial' && d.outcome === 'admitted') expect(d.mode).toBe('loose');
            } else if (o.op === 'finish' && live.length > 0)
              ctl.finish(live.splice(o.pick % live.length, 1)[0] as string);
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

describe('deferred industrial jobs: FIFO, head-of-line and expiry', () => {
  const roomy: AdmissionConfig = { ...config, maxQueuedPerLane: 1000, maxDeferred: 1000 };

  it('admits a big deferred job despite a steady stream of small new jobs (no starvation)', () => {
    const { ctl, clock } = setup(roomy);
    ctl.capacity.report('p1', 10);
    const running: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = ctl.submit(job('industrial', 2));
      expect(d.outcome).toBe('admitted');
      running.push(d.jobId);
    }
    const big = ctl.submit(job('industrial', 8));
    expect(big).toMatchObject({ outcome: 'deferred', code: 'NO_CAPACITY' });

    // Every second one small job finishes and a new 2-shard job arrives; then the node ticks.
    // First fit would hand each freed pair of shards to the newcomer and never admit `big`.
    let bigAdmittedAt = -1;
    const smallAdmitted: string[] = [];
    for (let step = 0; step < 40; step++) {
      clock.advance(1000);
      ctl.capacity.report('p1', 10);
      const done = running.shift();
      if (done !== undefined) ctl.finish(done);
      const small = ctl.submit(job('industrial', 2));
      if (bigAdmittedAt < 0) expect(small.outcome).toBe('deferred'); // queued behind big, not ahead of it
      if (small.outcome === 'admitted') {
        smallAdmitted.push(small.jobId);
        running.push(small.jobId);
      }
      for (const d of ctl.retryDeferred()) {
        expect(d.outcome).toBe('admitted');
        if (d.jobId === big.jobId) {
          bigAdmittedAt = step;
          running.push(d.jobId); // the big job runs for a while like the others
        } else {
          expect(bigAdmittedAt).toBeGreaterThanOrEqual(0); // nothing deferred after it gets in first
          smallAdmitted.push(d.jobId);
          running.push(d.jobId);
        }
      }
      expect(ctl.reservedShards()).toBeLessThanOrEqual(10);
    }
    // 4 small jobs must finish to free 8 shards: admitted on the 4th tick, ahead of every newcomer.
    expect(bigAdmittedAt).toBe(3);
    expect(smallAdmitted.length).toBeGreaterThan(0); // the stream is served again afterwards
  });

  it('admits deferred jobs in the order they were deferred, and the oldest holds the line', () => {
    const { ctl } = setup(roomy);
    ctl.capacity.report('p1', 10);
    const a1 = ctl.submit(job('industrial', 4));
    const a2 = ctl.submit(job('industrial', 6));
    const b = ctl.submit(job('industrial', 8));
    const c = ctl.submit(job('industrial', 2));
    expect([b.outcome, c.outcome]).toEqual(['deferred', 'deferred']);

    ctl.finish(a1.jobId); // 4 free: c would fit, but b is older and does not
    expect(ctl.retryDeferred()).toEqual([]);
    expect(ctl.headroom()).toBe(4);
    // A new job that fits is deferred behind them too (same code, still retryable) ...
    const e = ctl.submit(job('industrial', 1));
    expect(e).toMatchObject({ outcome: 'deferred', code: 'NO_CAPACITY', retryable: true });
    expect(e.outcome === 'deferred' && e.message).toMatch(/2 older deferred jobs are served first/);
    // ... unless it is rejected for another reason.
    expect(ctl.submit(job('industrial', 11))).toMatchObject({ outcome: 'rejected', code: 'NO_CAPACITY' });
    expect(ctl.reservedShards()).toBe(6);

    ctl.finish(a2.jobId); // 10 free: b, then c fill it; e waits for the next free shard
    expect(ctl.retryDeferred().map((d) => [d.jobId, d.outcome])).toEqual([
      [b.jobId, 'admitted'],
      [c.jobId, 'admitted'],
    ]);
    expect(ctl.deferred()).toBe(1);
    ctl.finish(c.jobId);
    expect(ctl.retryDeferred().map((d) => d.jobId)).toEqual([e.jobId]);
    expect(ctl.take('industrial')?.id).toBe(b.jobId); // dispatch order follows admission order
    expect(ctl.take('industrial')?.id).toBe(e.jobId);
    // With nothing deferred, a fitting job is admitted straight away again.
    expect(ctl.submit(job('industrial', 1)).outcome).toBe('admitted');
  });

  it('keeps the guard and queue checks ahead of the fairness rule', () => {
    const { ctl } = setup({ ...config, maxQueuedPerLane: 1, maxDeferred: 2 });
    ctl.capacity.report('p1', 10);
    ctl.submit(job('industrial', 9));
    expect(ctl.submit(job('industrial', 5)).outcome).toBe('deferred');
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'rejected', code: 'QUEUE_FULL' }); // industrial queue (1) is full
    ctl.take('industrial');
    expect(ctl.submit(job('industrial', 1)).outcome).toBe('deferred'); // fits, but waits behind the 5
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'rejected', code: 'QUEUE_FULL' }); // deferred queue (2) is full
    ctl.submit(job('consumer', 1, 5000n));
    expect(ctl.submit(job('industrial', 1))).toMatchObject({ outcome: 'rejected', code: 'INDUSTRIAL_TIGHT' });
  });

  it('drops deferred jobs held longer than maxDeferMs as DEFER_EXPIRED, so the line moves on', () => {
    const { ctl, clock } = setup({ ...roomy, maxDeferMs: 5_000 });
    ctl.capacity.report('p1', 10);
    const running = ctl.submit(job('industrial', 6));
    const big = ctl.submit(job('industrial', 8));
    clock.advance(1_000);
    const small = ctl.submit(job('industrial', 2)); // fits, but waits behind big
    expect(small.outcome).toBe('deferred');
    clock.advance(3_999);
    expect(ctl.retryDeferred()).toEqual([]);
    clock.advance(1); // big has waited 5 s
    const out = ctl.retryDeferred();
    expect(out).toEqual([
      {
        jobId: big.jobId,
        lane: 'industrial',
        shards: 8,
        mode: 'loose',
        outcome: 'rejected',
        code: 'DEFER_EXPIRED',
        retryable: true,
        message: 'job stayed deferred for 5 s; deferred jobs are held at most 5 s',
      },
      { jobId: small.jobId, lane: 'industrial', shards: 2, mode: 'loose', outcome: 'admitted' },
    ]);
    expect(ctl.deferred()).toBe(0);
    expect(ctl.queueSize('industrial')).toBe(2);
    expect(ctl.reservedShards()).toBe(8);
    expect(ctl.cancel(big.jobId)).toBe(false); // gone
    expect(ctl.submit({ ...job('industrial', 2), id: big.jobId }).outcome).toBe('admitted'); // and may be resubmitted
    expect(ctl.finish(running.jobId)).toEqual({ releasedShards: 6 });
  });

  it('expires deferred jobs while tight too, and expires a job that needs more than all capacity', () => {
    const { ctl, clock } = setup({ ...roomy, maxDeferMs: 10_000 });
    ctl.capacity.report('p1', 10);
    ctl.submit(job('industrial', 10));
    const d = ctl.submit(job('industrial', 10));
    expect(d.outcome).toBe('deferred');
    ctl.capacity.report('p1', 4); // capacity shrinks: d can no longer fit even in an empty pool
    clock.advance(5_000);
    ctl.submit(job('consumer', 1, 5000n)); // tight
    expect(ctl.retryDeferred()).toEqual([]);
    clock.advance(5_000);
    expect(ctl.retryDeferred()).toEqual([
      expect.objectContaining({ jobId: d.jobId, outcome: 'rejected', code: 'DEFER_EXPIRED', mode: 'tight' }),
    ]);
    expect(ctl.deferred()).toBe(0);
  });

  it('measures expiry from the deferral even when the clock steps backwards', () => {
    const { ctl, clock } = setup({ ...roomy, maxDeferMs: 10_000 });
    ctl.capacity.report('p1', 10);
    ctl.submit(job('industrial', 10));
    const first = ctl.submit(job('industrial', 1));
    clock.advance(-60_000);
    ctl.capacity.report('p1', 10);
    const second = ctl.submit(job('industrial', 1));
    clock.advance(60_000 + 10_000);
    expect(ctl.retryDeferred().map((x) => [x.jobId, x.outcome])).toEqual([
      [first.jobId, 'rejected'],
      [second.jobId, 'rejected'],
    ]);
  });

  it('serves deferred jobs first in, first out, never lets a new job pass them, and holds the line (random workloads)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('submit' as const), shards: fc.integer({ min: 1, max: 12 }) }),
            fc.record({ op: fc.constant('finish' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('retry' as const) }),
            fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 4_000 }) }),
          ),
          { maxLength: 100 },
        ),
        (ops) => {
          const { ctl, clock } = setup({ ...config, maxQueuedPerLane: 1000, maxDeferred: 6, maxDeferMs: 10_000 });
          const running: string[] = [];
          const deferred: { id: string; shards: number; at: number }[] = []; // model of the deferred queue
          let i = 0;
          for (const o of ops) {
            ctl.capacity.report('p1', 16);
            if (o.op === 'submit') {
              const waiting = ctl.deferred();
              const d = ctl.submit({ id: `j${i++}`, lane: 'industrial', fee: 1n, shards: o.shards });
              if (d.outcome === 'admitted') {
                expect(waiting).toBe(0); // never ahead of a deferred job
                running.push(d.jobId);
              } else if (d.outcome === 'deferred') deferred.push({ id: d.jobId, shards: o.shards, at: clock.now() });
              else expect(d.code).toBe(o.shards > 16 ? 'NO_CAPACITY' : 'QUEUE_FULL');
            } else if ((o.op === 'finish' || o.op === 'cancel') && running.length + deferred.length > 0) {
              const k = o.pick % (running.length + deferred.length);
              const id =
                k < running.length
                  ? (running.splice(k, 1)[0] as string)
                  : (deferred.splice(k - running.length, 1)[0]?.id as string);
              if (o.op === 'finish') ctl.finish(id);
              else ctl.cancel(id);
            } else if (o.op === 'retry') {
              const now = clock.now();
              const out = ctl.retryDeferred();
              // Expiries, then admissions, all off the front of the queue in deferral order.
              const front = deferred.splice(0, out.length);
              expect(out.map((d) => d.jobId)).toEqual(front.map((j) => j.id));
              for (const [k, d] of out.entries()) {
                const expired = now - (front[k]?.at ?? now) >= 10_000;
                expect(d.outcome).toBe(expired ? 'rejected' : 'admitted');
                if (d.outcome === 'admitted') running.push(d.jobId);
              }
              // Head of line: whoever is left first does not fit and has not expired.
              const head = deferred[0];
              if (head) {
                expect(head.shards).toBeGreaterThan(ctl.headroom());
                expect(now - head.at).toBeLessThan(10_000);
              }
            } else if (o.op === 'tick') clock.advance(o.ms);
            expect(ctl.deferred()).toBe(deferred.length);
            expect(ctl.reservedShards()).toBeLessThanOrEqual(16);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects a non-positive maxDeferMs', () => {
    expect(() => setup({ ...config, maxDeferMs: 0 })).toThrow(/maxDeferMs/);
  });

  it('the service logs expiries like other decisions and counts industrial_rejected_total{reason="DEFER_EXPIRED"}', async () => {
    const lines: Record<string, unknown>[] = [];
    const registry = createMetricsRegistry();
    const clock = new FakeClock();
    const settings = { ...defaultConfig(), industrial_defer_max_secs: 30 };
    expect(admissionConfig(defaultConfig()).maxDeferMs).toBe(300_000);
    expect(admissionConfig(settings).maxDeferMs).toBe(30_000);
    const service = new AdmissionService({
      config: settings,
      board: new PriceBoard(100),
      ledger: new InMemoryBondLedger(),
      registry,
      logger: sinkLogger(jsonLineSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>))),
      clock,
    });
    service.reportCapacity('p1', 4);
    expect(service.submit({ id: 'run', lane: 'industrial', fee: 1n, shards: 4 }).outcome).toBe('admitted');
    expect(service.submit({ id: 'late', lane: 'industrial', fee: 1n, shards: 3 }).outcome).toBe('deferred');
    clock.advance(29_999);
    service.reportCapacity('p1', 4);
    expect(service.tick()).toMatchObject({ admitted: [], expired: [] });
    clock.advance(1);
    const t = service.tick();
    expect(t.admitted).toEqual([]);
    expect(t.expired).toEqual([
      expect.objectContaining({ jobId: 'late', outcome: 'rejected', code: 'DEFER_EXPIRED', retryable: true }),
    ]);
    expect(lines.at(-1)).toEqual(
      expect.objectContaining({
        msg: 'admission decision',
        job_id: 'late',
        lane: 'industrial',
        requested_shards: 3,
        mode: 'loose',
        outcome: 'rejected',
        code: 'DEFER_EXPIRED',
        retryable: true,
      }),
    );
    expect(lines.at(-1)).not.toHaveProperty('retried');
    expect(await metricValue(registry, 'industrial_rejected_total', { reason: 'DEFER_EXPIRED' })).toBe(1);
    expect(await metricValue(registry, 'industrial_deferred_total')).toBe(1);
    expect(await metricValue(registry, 'mempool_size', { lane: 'industrial' })).toBe(1);
  });
});

describe('penalize_sla', () => {
  it('slashes exactly the bond: the provider loses it, the pool gains it, nothing else moves', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        (bondHeld, extra) => {
          const ledger = new InMemoryBondLedger({ p1: bondHeld + extra, p2: 77n });
          const before = ledger.total();
          const penalty = penalizeSla(ledger, { jobId: 'j', provider: 'p1', bond: bondHeld });
          expect(penalty).toEqual({ jobId: 'j', provider: 'p1', amount: bondHeld, code: 'SLA' });
          expect(ledger.bonds.get('p1')).toBe(extra);
          expect(ledger.slashedPool).toBe(bondHeld);
          expect(ledger.bonds.get('p2')).toBe(77n);
          expect(ledger.total()).toBe(before);
          expect(ledger.events).toEqual([{ provider: 'p1', amount: bondHeld, reason: 'SLA', ref: 'j' }]);
        },
      ),
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
    expect(ctl.finish(late.jobId)).toEqual({
      releasedShards: 1,
      penalty: { jobId: late.jobId, provider: 'p2', amount: 120n, code: 'SLA' },
    });
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
    expect(() => monitor.penalize({ jobId: 'j', provider: 'p', bond: 5000n })).toThrow(
      /declared with provider p and bond 100; refusing to slash 5000/,
    );
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
    const clock = {
      t: 0,
      now() {
        return this.t;
      },
    };
    const monitor = new SlaMonitor(
      {
        slash: () => {
          calls++;
          if (refuse) throw new Error('bond too small');
          return true;
        },
      },
      clock,
    );
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
