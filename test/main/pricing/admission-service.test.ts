import { describe, expect, it } from 'vitest';
import { PriceBoard } from '../../../src/core/pricing/price-board.js';
import { defaultConfig } from '../../../src/main/config/load-config.js';
import { jsonLineSink, sinkLogger } from '../../../src/node/log.js';
import { createMetricsRegistry, metricValue } from '../../../src/main/metrics.js';
import { AdmissionService, admissionConfig } from '../../../src/main/services/admission-service.js';
import { FakeClock, InMemoryBondLedger } from '../../core/pricing/fakes.js';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const logger = sinkLogger(jsonLineSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>)));
  const registry = createMetricsRegistry();
  const clock = new FakeClock();
  const board = new PriceBoard(100);
  const ledger = new InMemoryBondLedger({ prov: 1_000n });
  const config = { ...defaultConfig(), comfort_threshold_p90: 500n, mempool_max_jobs: 100, industrial_max_deferred: 1 };
  const service = new AdmissionService({ config, board, ledger, registry, logger, clock });
  return { service, registry, lines, clock, board, ledger };
}

describe('AdmissionService', () => {
  it('maps config.toml settings onto the admission rules', () => {
    const cfg = admissionConfig({ ...defaultConfig(), consumer_age_p95_limit_secs: 12, comfort_recovery_secs: 7 });
    expect(cfg.guard).toEqual({ feeThreshold: 1000n, ageLimitMs: 12_000, recoveryPercent: 90, recoveryMs: 7_000 });
    expect(cfg.capacityWindowMs).toBe(60_000);
  });

  it('logs every decision with job id, requested shards and mode, and counts industrial outcomes', async () => {
    const { service, registry, lines } = setup();
    service.reportCapacity('prov', 4);
    expect(service.submit({ id: 'i1', lane: 'industrial', fee: 300n, shards: 3 }).outcome).toBe('admitted');
    expect(service.submit({ id: 'i2', lane: 'industrial', fee: 300n, shards: 2 }).outcome).toBe('deferred');
    expect(service.submit({ id: 'i3', lane: 'industrial', fee: 300n, shards: 2 })).toMatchObject({
      code: 'QUEUE_FULL',
    });
    expect(service.submit({ id: 'i4', lane: 'industrial', fee: 300n, shards: 9 })).toMatchObject({
      code: 'NO_CAPACITY',
    });
    expect(service.submit({ id: 'c1', lane: 'consumer', fee: 10n, shards: 1 }).outcome).toBe('admitted');

    const decisions = lines.filter((l) => l.msg === 'admission decision');
    expect(decisions).toHaveLength(5);
    expect(decisions[0]).toEqual(
      expect.objectContaining({
        job_id: 'i1',
        lane: 'industrial',
        requested_shards: 3,
        mode: 'loose',
        outcome: 'admitted',
        level: 'info',
      }),
    );
    expect(decisions[1]).toEqual(
      expect.objectContaining({
        job_id: 'i2',
        requested_shards: 2,
        mode: 'loose',
        outcome: 'deferred',
        code: 'NO_CAPACITY',
        retryable: true,
      }),
    );
    expect(decisions[3]).toEqual(expect.objectContaining({ job_id: 'i4', outcome: 'rejected', code: 'NO_CAPACITY' }));
    expect(decisions[4]).toEqual(
      expect.objectContaining({ job_id: 'c1', lane: 'consumer', requested_shards: 1, mode: 'loose' }),
    );

    expect(await metricValue(registry, 'industrial_admitted_total')).toBe(1);
    expect(await metricValue(registry, 'industrial_deferred_total')).toBe(1);
    expect(await metricValue(registry, 'industrial_rejected_total', { reason: 'QUEUE_FULL' })).toBe(1);
    expect(await metricValue(registry, 'industrial_rejected_total', { reason: 'NO_CAPACITY' })).toBe(1);
    expect(await metricValue(registry, 'mempool_size', { lane: 'industrial' })).toBe(2); // one queued, one deferred
    expect(await metricValue(registry, 'mempool_size', { lane: 'consumer' })).toBe(1);

    service.finish('i1');
    expect(service.tick().admitted.map((d) => d.jobId)).toEqual(['i2']);
    expect(lines.at(-1)).toEqual(
      expect.objectContaining({ msg: 'admission decision', job_id: 'i2', outcome: 'admitted', retried: true }),
    );
    expect(await metricValue(registry, 'industrial_admitted_total')).toBe(2);
  });

  it('exposes consumer fee percentiles and the admission mode, logging mode changes', async () => {
    const { service, registry, lines, clock } = setup();
    service.reportCapacity('prov', 10);
    expect(await metricValue(registry, 'admission_mode', { mode: 'loose' })).toBe(1);
    expect(await metricValue(registry, 'consumer_fee_p50')).toBe(0);
    for (const [i, fee] of [100n, 200n, 900n, 1000n, 1100n].entries())
      service.submit({ id: `c${i}`, lane: 'consumer', fee, shards: 1 });
    expect(await metricValue(registry, 'consumer_fee_p50')).toBe(900);
    expect(await metricValue(registry, 'consumer_fee_p90')).toBe(1100);
    expect(service.submit({ id: 'i1', lane: 'industrial', fee: 1n, shards: 1 })).toMatchObject({
      code: 'INDUSTRIAL_TIGHT',
      mode: 'tight',
    });
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'admission mode changed', from: 'loose', to: 'tight', level: 'warn' }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'admission decision',
        job_id: 'i1',
        requested_shards: 1,
        mode: 'tight',
        code: 'INDUSTRIAL_TIGHT',
      }),
    );
    expect(await metricValue(registry, 'admission_mode', { mode: 'tight' })).toBe(1);
    expect(await metricValue(registry, 'admission_mode', { mode: 'loose' })).toBe(0);
    expect(await metricValue(registry, 'industrial_rejected_total', { reason: 'INDUSTRIAL_TIGHT' })).toBe(1);
    while (service.take('consumer'));
    service.refresh();
    clock.advance(60_000);
    expect(service.refresh()).toBe('loose');
    expect(lines.at(-1)).toMatchObject({ msg: 'admission mode changed', from: 'tight', to: 'loose' });
  });

  it('penalize_sla slashes exactly the bond and counts industrial_rejected_total{reason="SLA"}', async () => {
    const { service, registry, ledger, lines, clock } = setup();
    const before = ledger.total();
    expect(service.penalizeSla('prov', 'job-9', 250n)).toMatchObject({ amount: 250n, code: 'SLA' });
    expect(service.penalizeSla('prov', 'job-9', 250n)).toBeUndefined();
    expect(ledger.bonds.get('prov')).toBe(750n);
    expect(ledger.slashedPool).toBe(250n);
    expect(ledger.total()).toBe(before);
    expect(await metricValue(registry, 'industrial_rejected_total', { reason: 'SLA' })).toBe(1);
    expect(lines.at(-1)).toMatchObject({
      msg: 'provider bond slashed for a missed deadline',
      job_id: 'job-9',
      provider: 'prov',
      amount: '250',
    });

    service.declareDeadline({ jobId: 'job-10', provider: 'prov', bond: 100n, deadline: clock.now() + 5 });
    service.declareDeadline({ jobId: 'job-11', provider: 'prov', bond: 10_000n, deadline: clock.now() + 5 });
    clock.advance(6);
    expect(service.sweepDeadlines().map((p) => p.jobId)).toEqual(['job-10']);
    expect(lines.at(-1)).toMatchObject({ msg: 'SLA slash failed, will retry', job_id: 'job-11', level: 'error' });
    expect(await metricValue(registry, 'industrial_rejected_total', { reason: 'SLA' })).toBe(2);
    expect(ledger.bonds.get('prov')).toBe(650n);
  });

  it('suggests a bid from the board median and the lane backlog', () => {
    const { service, board } = setup();
    for (let i = 0; i < 100; i++) board.record('consumer', 1000n);
    for (let i = 0; i < 10; i++) service.submit({ id: `c${i}`, lane: 'consumer', fee: 1000n, shards: 1 });
    expect(service.suggestedBid('consumer')).toBe(1100n);
    expect(service.suggestedBid('industrial')).toBeUndefined();
  });
});
