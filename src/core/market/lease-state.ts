/**
 * The durable-workload lease state machine (issue 9, section 2, "Leases"), ported from the
 * workload state machine of seed document 004 with its defects fixed:
 * - Live remembers the last quorum-alive instant, so Suspect needs t1 of continuous silence;
 * - every replication mode goes through Suspect and loses the lease after t2 of silence;
 * - respawn attempts are counted, re-requested on a cadence, and exhaust into Failed;
 * - a standby promotes only on the revocation naming it, and a promoted standby goes Live;
 * - stale heartbeats (sent more than staleSecs ago) and ones from the future (beyond
 *   maxSkewSecs) do not count; Provisioning without a heartbeat quorum times out after t2.
 *
 * Pure: no I/O and no clock. Every input takes `nowMs` and returns the next Lease record with
 * the events the market must perform (publish the revocation, reassign the job, …).
 */
export * from './lease/types.js';
export * from './lease/config.js';
export * from './lease/machine.js';
