import { TesseraError } from '../../errors.js';
import type { QuorumConfig, ReplicationMode, RestartPolicy } from './types.js';

/** Defaults for one market observing its providers directly (one source, so M = N = 1). */
export const DEFAULT_QUORUM_CONFIG: QuorumConfig = Object.freeze({
  m: 1,
  n: 1,
  t1Secs: 30,
  t2Secs: 90,
  staleSecs: 20,
  maxSkewSecs: 5,
  respawnRetrySecs: 15,
});

/** Largest respawn budget a RestartPolicy may ask for. */
export const MAX_RESTART_ATTEMPTS = 1000;

/** A QuorumConfig, RestartPolicy or ReplicationMode that cannot work; `field` names the setting. */
export class LeaseConfigError extends TesseraError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('INVALID_LEASE_CONFIG', `${field}: ${message}`);
    this.name = 'LeaseConfigError';
  }
}

/** Checks a QuorumConfig (1 ≤ m ≤ n, 0 < t1 < t2, staleSecs > 0, …) and returns a frozen copy. */
export function validateQuorumConfig(config: QuorumConfig, prefix = 'quorum'): QuorumConfig {
  const f = (name: keyof QuorumConfig): string => `${prefix}.${name}`;
  for (const name of ['m', 'n'] as const) {
    const v = config[name];
    if (!Number.isInteger(v) || v < 1 || v > 255)
      throw new LeaseConfigError(f(name), `${String(v)} must be a whole number from 1 to 255`);
  }
  if (config.m > config.n)
    throw new LeaseConfigError(
      f('m'),
      `${config.m} exceeds n = ${config.n}; the quorum needs m of n sources, so set m ≤ n`,
    );
  for (const name of ['t1Secs', 't2Secs', 'staleSecs', 'respawnRetrySecs'] as const) {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new LeaseConfigError(f(name), `${String(v)} must be a positive number of seconds`);
  }
  const skew = config.maxSkewSecs;
  if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0)
    throw new LeaseConfigError(f('maxSkewSecs'), `${String(skew)} must be zero or a positive number of seconds`);
  if (config.t1Secs >= config.t2Secs) {
    throw new LeaseConfigError(
      f('t1Secs'),
      `${config.t1Secs} must be less than t2Secs = ${config.t2Secs} (Suspect comes before the lease is lost)`,
    );
  }
  return Object.freeze({ ...config });
}

/** Checks a RestartPolicy: on-failure needs a whole maxAttempts from 0 to MAX_RESTART_ATTEMPTS. */
export function validateRestartPolicy(policy: RestartPolicy, field = 'restartPolicy'): RestartPolicy {
  if (policy.policy === 'never') return { policy: 'never' };
  if (policy.policy !== 'on-failure')
    throw new LeaseConfigError(
      `${field}.policy`,
      `"${String((policy as { policy: unknown }).policy)}" is not "never" or "on-failure"`,
    );
  const max = policy.maxAttempts;
  if (!Number.isInteger(max) || max < 0 || max > MAX_RESTART_ATTEMPTS) {
    throw new LeaseConfigError(
      `${field}.maxAttempts`,
      `${String(max)} must be a whole number from 0 to ${MAX_RESTART_ATTEMPTS}`,
    );
  }
  return { policy: 'on-failure', maxAttempts: max };
}

/** Checks a ReplicationMode for the lease held by `holder`: standbys are distinct, non-empty and not the holder. */
export function validateReplicationMode(mode: ReplicationMode, holder: string, field = 'replication'): ReplicationMode {
  if (mode.mode === 'none' || mode.mode === 'checkpointed') return { mode: mode.mode };
  if (mode.mode !== 'warm-standby')
    throw new LeaseConfigError(
      `${field}.mode`,
      `"${String((mode as { mode: unknown }).mode)}" is not "none", "checkpointed" or "warm-standby"`,
    );
  const list = mode.standbyProviders;
  if (list.length === 0)
    throw new LeaseConfigError(
      `${field}.standbyProviders`,
      'warm-standby needs at least one standby provider (or use mode "none")',
    );
  if (list.some((p) => typeof p !== 'string' || p === ''))
    throw new LeaseConfigError(`${field}.standbyProviders`, 'every standby must be a non-empty provider id');
  if (new Set(list).size !== list.length)
    throw new LeaseConfigError(`${field}.standbyProviders`, 'lists a provider twice; each standby must be distinct');
  if (list.includes(holder))
    throw new LeaseConfigError(
      `${field}.standbyProviders`,
      `includes the holder "${holder}"; a provider cannot stand by for itself`,
    );
  return { mode: 'warm-standby', standbyProviders: Object.freeze([...list]) };
}
