import type { EventPayload } from '../../shared/contract.js';
import type { Logger } from '../../node/log.js';
import type { AppEvents } from './events.js';

/** The log line of a finished job, as the Logs screen shows it: what ran, on what, how long, what it earned. */
export function jobLogLine(row: EventPayload<'job:finished'>): { msg: string; fields: Record<string, unknown> } {
  const fields: Record<string, unknown> = {
    job_id: row.job_id,
    workload: row.workload,
    bytes: row.bytes,
    backend: row.backend ?? 'unknown',
    ms: row.duration_ms,
    credits_micro: row.credits,
  };
  if (row.status === 'accepted') return { msg: 'job verified', fields };
  if (row.status === 'rejected') return { msg: 'job rejected', fields: { ...fields, code: row.code } };
  if (row.status === 'lost') return { msg: 'job lost', fields: { ...fields, code: row.code } };
  return { msg: `job ${row.status}`, fields };
}

/** Writes one line per finished job to `log` (the log buffer's "jobs" logger); returns the unsubscribe. */
export function logFinishedJobs(events: AppEvents, log: Logger): () => void {
  return events.onDidEmit((event, payload) => {
    if (event !== 'job:finished') return;
    const { msg, fields } = jobLogLine(payload as EventPayload<'job:finished'>);
    if (msg === 'job rejected' || msg === 'job lost') log.warn(msg, fields);
    else log.info(msg, fields);
  });
}
