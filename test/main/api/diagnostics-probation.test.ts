import { describe, expect, it } from 'vitest';
import { probationCheck } from '../../../src/main/api/diagnostics.js';

describe('Diagnostics: a new provider’s probation', () => {
  it('is an info line (never a problem) saying all jobs are checked for the first N and the bond being funded', () => {
    const [line] = probationCheck({
      checked_fraction: 1,
      verified_jobs: 3,
      jobs_until_floor: 97,
      probation_jobs: 10,
      bond_funded: '375000',
      bond_target: '10000000',
    });
    expect(line).toMatchObject({ id: 'probation', severity: 'info', action: null });
    expect(line?.label).toBe(
      'New provider: the market checks all your jobs for the first 10 jobs (3 done); part of your first earnings funds your bond (0.375 of 10.0 CPC)',
    );
  });

  it('on the practice market names its amounts practice credits', () => {
    const [line] = probationCheck(
      {
        checked_fraction: 1,
        verified_jobs: 0,
        jobs_until_floor: 100,
        probation_jobs: 10,
        bond_funded: '0',
        bond_target: '10000000',
      },
      true,
    );
    expect(line?.label).toMatch(/funds your bond \(0\.0 of 10\.0 practice credits\)$/);
    expect(line?.label).not.toContain('CPC');
  });

  it('says nothing once probation is over and the bond is funded', () => {
    expect(
      probationCheck({
        checked_fraction: 0.1,
        verified_jobs: 400,
        jobs_until_floor: 0,
        probation_jobs: 10,
        bond_funded: '10000000',
        bond_target: '10000000',
      }),
    ).toEqual([]);
  });
});
