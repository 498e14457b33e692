import { describe, expect, it } from 'vitest';
import { AppEvents } from '../../src/main/api/events.js';
import { jobLogLine, logFinishedJobs } from '../../src/main/api/job-log.js';
import { LogBuffer } from '../../src/main/api/log-buffer.js';
import type { JobRow } from '../../src/shared/contract.js';

const row: JobRow = {
  market_id: 'm',
  task_id: 't',
  job_id: 'j1',
  workload: 'inference',
  bytes: 2048,
  proof: null,
  backend: 'gpu',
  duration_ms: 8.6,
  status: 'accepted',
  code: null,
  credits: '0',
  offer: null,
  paid: false,
  settled: false,
  started_at: 1,
  finished_at: 2,
};

describe('job lines in the log buffer', () => {
  it('says what ran, on what, for how long', () => {
    expect(jobLogLine(row)).toEqual({
      msg: 'job verified: inference, 2.0 KiB on the gpu in 9 ms',
      fields: { job_id: 'j1' },
    });
    expect(jobLogLine({ ...row, status: 'rejected', code: 'BAD_DIGEST', backend: null, duration_ms: null })).toEqual({
      msg: 'job rejected: inference, 2.0 KiB on the unknown backend',
      fields: { job_id: 'j1', code: 'BAD_DIGEST' },
    });
  });

  it('each job:finished event becomes one line of the "jobs" module (a warning when rejected)', () => {
    const events = new AppEvents();
    const logs = new LogBuffer(10, () => 5);
    const off = logFinishedJobs(events, logs.logger('jobs'));
    events.emit('job:finished', row);
    events.emit('job:finished', { ...row, job_id: 'j2', status: 'rejected', code: 'BAD_DIGEST' });
    events.emit('earnings:changed', { credits_today: '1' });
    off();
    events.emit('job:finished', { ...row, job_id: 'j3' });
    expect(logs.recent(10).map((l) => [l.level, l.module, l.fields.job_id])).toEqual([
      ['info', 'jobs', 'j1'],
      ['warn', 'jobs', 'j2'],
    ]);
  });
});
