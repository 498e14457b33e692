import type { EventPayload } from '../../shared/contract.js';
import type { Logger } from '../../node/log.js';
import type { AppEvents } from './events.js';

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The log line of a finished job, as the Logs screen shows it: "job verified: inference, 94 B on
 * the cpu in 9 ms". Credits are left out: they come with the market's receipt, after this line.
 */
export function jobLogLine(row: EventPayload<'job:finished'>): { msg: string; fields: Record<string, unknown> } {
  const how = `${row.workload}, ${bytesText(row.bytes)} on the ${row.backend ?? 'unknown backend'}${
    row.duration_ms === null ? '' : ` in ${Math.round(row.duration_ms)} ms`
  }`;
  const fields: Record<string, unknown> = { job_id: row.job_id, ...(row.code ? { code: row.code } : {}) };
  const word = row.status === 'accepted' ? 'verified' : row.status;
  return { msg: `job ${word}: ${how}`, fields };
}

/** Writes one line per finished job to `log` (the log buffer's "jobs" logger); returns the unsubscribe. */
export function logFinishedJobs(events: AppEvents, log: Logger): () => void {
  return events.onDidEmit((event, payload) => {
    if (event !== 'job:finished') return;
    const row = payload as EventPayload<'job:finished'>;
    const { msg, fields } = jobLogLine(row);
    if (row.status === 'accepted' || row.status === 'running' || row.status === 'submitted') log.info(msg, fields);
    else log.warn(msg, fields);
  });
}
