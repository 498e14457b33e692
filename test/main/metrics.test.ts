import { describe, expect, it } from 'vitest';
import { counter, createMetricsRegistry, gauge, metricValue } from '../../src/main/metrics.js';

describe('metricValue', () => {
  it('throws for a metric name that is not registered, instead of reading 0', async () => {
    const registry = createMetricsRegistry();
    counter(registry, { name: 'jobs_total', help: 'jobs' });
    await expect(metricValue(registry, 'job_total')).rejects.toThrow('no metric named job_total is registered');
  });

  it('throws for a label the metric does not declare', async () => {
    const registry = createMetricsRegistry();
    counter<'reason'>(registry, { name: 'rejected_total', help: 'rejected', labelNames: ['reason'] });
    gauge(registry, { name: 'queue_size', help: 'queue' });
    await expect(metricValue(registry, 'rejected_total', { code: 'X' })).rejects.toThrow(
      'metric rejected_total has no label code (its labels: reason)',
    );
    await expect(metricValue(registry, 'queue_size', { lane: 'a' })).rejects.toThrow(
      'metric queue_size has no label lane (its labels: none)',
    );
  });

  it('reads 0 for a declared label set with no observations yet, and the value once there is one', async () => {
    const registry = createMetricsRegistry();
    const c = counter<'reason'>(registry, { name: 'rejected_total', help: 'rejected', labelNames: ['reason'] });
    expect(await metricValue(registry, 'rejected_total', { reason: 'SLA' })).toBe(0);
    c.inc({ reason: 'SLA' }, 3);
    c.inc({ reason: 'QUEUE_FULL' });
    expect(await metricValue(registry, 'rejected_total', { reason: 'SLA' })).toBe(3);
    expect(await metricValue(registry, 'rejected_total', { reason: 'QUEUE_FULL' })).toBe(1);
    expect(await metricValue(registry, 'rejected_total', { reason: 'NO_CAPACITY' })).toBe(0);
  });
});
