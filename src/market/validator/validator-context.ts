import type { Blake3Hasher, Sha256 } from '../../core/hash/hasher.js';
import type { Clock } from '../../core/clock.js';
import type { LeaseMachine } from '../../core/market/lease-state.js';
import type { Logger } from '../../node/log.js';
import type { JobDigester } from '../../node/digest/digest-pool.js';
import type { MarketStore } from '../store/market-store.js';
import type { MarketIdentity } from './market-identity.js';
import type { ProviderSessions } from './sessions.js';
import type { StepQueue } from './step-queue.js';
import type { ValidatorConfig } from './validator-config.js';

/**
 * What the validator's duties share, built once by the ValidatorService facade: the store and the
 * ports, the resolved config, the lease machine, the market's identity, the sessions connected to
 * this instance and the instance's step queue.
 */
export interface ValidatorContext {
  readonly store: MarketStore;
  readonly clock: Clock;
  readonly blake3: Blake3Hasher;
  readonly sha256: Sha256;
  /** Re-executes checked jobs off this thread; absent: in-process. */
  readonly digester: JobDigester | undefined;
  readonly config: ValidatorConfig;
  readonly machine: LeaseMachine;
  readonly identity: MarketIdentity;
  readonly sessions: ProviderSessions;
  readonly steps: StepQueue;
  readonly log: Logger;
  /** True once the validator began closing: new heartbeats, acks and results are refused, passes stop. */
  isClosed(): boolean;
  /** Logs an internal error once, with its stack. */
  report(what: string, err: unknown): void;
}

/** The answer to one result, sent back as result_ack. */
export interface ResultAck {
  jobId: string;
  epoch: number;
  accepted: boolean;
  code: string | null;
  message: string | null;
}

/** The validator is stopping: a result that arrives now is not answered, so the provider sends it again after reconnecting. */
export class ValidatorClosingError extends Error {
  constructor() {
    super('the validator is stopping');
    this.name = 'ValidatorClosingError';
  }
}
