import { describe, expect, it } from 'vitest';
import { DEFAULT_JOB_BYTES, estimateEarnings } from '../../src/renderer/app/lib/estimate.js';
import type { PricingBandsInfo } from '../../src/shared/contract.js';

const bands = (lanes: Partial<PricingBandsInfo['lanes'][number]>[]): PricingBandsInfo => ({
  admission_mode: 'loose',
  lanes: lanes.map((l) => ({
    lane: 'consumer',
    count: 10,
    p25: null,
    median: null,
    p75: null,
    suggested_bid: null,
    ...l,
  })),
});

describe('earnings estimate', () => {
  it('jobs per hour from the BLAKE3 speed and job size, times the median offer; per day = 24 × per hour', () => {
    // 100 MB jobs at 100 MB/s: 1 s per job on one thread; 2 threads → 7200 jobs/h at 50 µCPC.
    const e = estimateEarnings({
      mbps: 100,
      threads: 2,
      recent: { bytes: 100e6, ms: null },
      bands: bands([{ lane: 'consumer', count: 5, median: '50' }]),
    });
    expect(e.ok).toBe(true);
    if (!e.ok) return;
    expect(e.secondsPerJob).toBe(1);
    expect(e.jobsPerHour).toBe(7200);
    expect(e.perHour).toBe(360_000n);
    expect(e.perDay).toBe(8_640_000n);
    expect(e.formula).toMatch(/2 threads × 3600 s ÷ 1\.000 s per job/);
    expect(e.formula).toMatch(/consumer lane/);
  });

  it('uses the slower of hashing and the recent run time, and the lane with the most offers', () => {
    const e = estimateEarnings({
      mbps: 1000,
      threads: 1,
      recent: { bytes: 1e6, ms: 500 },
      bands: bands([
        { lane: 'consumer', count: 2, median: '1000' },
        { lane: 'industrial', count: 9, median: '10' },
      ]),
    });
    if (!e.ok) throw new Error(e.reason);
    expect(e.priceSource).toBe('industrial');
    expect(e.secondsPerJob).toBe(0.5);
    expect(e.perHour).toBe(72_000n);
  });

  it('assumes a 4 MiB job before the first one, and says why there is no estimate', () => {
    const e = estimateEarnings({
      mbps: 4,
      threads: 1,
      recent: { bytes: null, ms: null },
      bands: bands([{ median: '1' }]),
    });
    if (!e.ok) throw new Error(e.reason);
    expect(e.bytesPerJob).toBe(DEFAULT_JOB_BYTES);
    const none = estimateEarnings({ mbps: 4, threads: 1, recent: { bytes: null, ms: null }, bands: bands([]) });
    expect(none).toEqual({ ok: false, reason: expect.stringMatching(/No prices seen yet/) });
    const fromJobs = estimateEarnings({
      mbps: 100,
      threads: 1,
      recent: { bytes: 100e6, ms: null, offer: '25' },
      bands: bands([]),
    });
    expect(fromJobs).toMatchObject({ ok: true, priceSource: 'recent jobs', offer: 25n, perHour: 90_000n });
    const noBench = estimateEarnings({
      mbps: 0,
      threads: 1,
      recent: { bytes: null, ms: null },
      bands: bands([{ median: '1' }]),
    });
    expect(noBench.ok).toBe(false);
  });

  it('as jobs come now: the rate jobs reached the node caps the figure when it is below full load', () => {
    const input = {
      mbps: 100,
      threads: 2,
      recent: { bytes: 100e6, ms: null, arrivals_per_hour: 30 },
      bands: bands([{ lane: 'consumer', count: 5, median: '50' }]),
    };
    const e = estimateEarnings(input);
    if (!e.ok) throw new Error('no estimate');
    expect(e.jobsPerHour).toBe(7200);
    expect(e.likely).toEqual({ jobsPerHour: 30, perHour: 1500n, perDay: 36_000n });
    // Jobs arriving faster than the machine can run them: full load is the figure, no separate one.
    const busy = estimateEarnings({ ...input, recent: { ...input.recent, arrivals_per_hour: 9000 } });
    expect(busy.ok && busy.likely).toBe(null);
    const unknown = estimateEarnings({ ...input, recent: { ...input.recent, arrivals_per_hour: null } });
    expect(unknown.ok && unknown.likely).toBe(null);
  });
});
