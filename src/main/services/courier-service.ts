import { backOff } from 'exponential-backoff';
import type { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { courierSigningBytes, senderProblem, type CourierReceipt } from '../../core/courier/courier-receipt.js';
import { TesseraError, errorMessage } from '../../core/errors.js';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import type { Clock } from '../../core/clock.js';
import {
  CourierFlushResponseSchema,
  MAX_COURIER_BUNDLE_BYTES,
  type CourierFlushRequest,
  type CourierResult,
} from '../../shared/courier-protocol.js';
import type { Database } from '../db/database.js';
import { CounterRepo } from '../db/repos/counter-repo.js';
import { CourierRepo, type CourierRow, type CourierStatus } from '../db/repos/courier-repo.js';
import type { NodeIdentity } from '../identity.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { gauge } from '../metrics.js';
import { BundleError, BundleStore } from './bundle-store.js';
import { CreditMovements, type Refusal } from './credit-movements.js';
import { noFaults, type Faults } from './faults.js';
import { systemClock } from '../../node/clock.js';

/**
 * Failures of a receipt of its own (bundle missing, unreadable or too large for a request,
 * reward the ledger refuses) after which it moves to `failed` and leaves the queue;
 * `tessera courier retry ID` puts it back.
 */
export const DEFAULT_MAX_RECEIPT_FAILURES = 3;

export interface CourierOptions {
  /** Largest bundle accepted by `send`, bytes (default 16 MiB). */
  maxBundleBytes?: number;
  /** Receipts per request (default 100). */
  batchSize?: number;
  /** Upper bound on bundle bytes per request (default 8 MiB; a single larger bundle goes alone). */
  maxBatchBytes?: number;
  /** Backoff: first delay, cap, and attempts per batch (defaults 250 ms, 30 s, 6). */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  maxAttempts?: number;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  /**
   * How long a flusher holds its lease on a batch before another flusher may take it over
   * (default: request timeout + backoff cap + 30 s; renewed before every attempt). A flusher
   * that crashed blocks its batch for at most this long.
   */
  leaseMs?: number;
  /** Failures of one receipt of its own before it becomes `failed` (default DEFAULT_MAX_RECEIPT_FAILURES). */
  maxReceiptFailures?: number;
}

export interface CourierDeps {
  db: Database;
  blake3: Blake3Hasher;
  identity: NodeIdentity;
  bundlesDir: string;
  registry: Registry;
  options?: CourierOptions;
  /** The node's credit movements (rewards follow the settlement rule); built here when absent. */
  credits?: CreditMovements;
  clock?: Clock;
  logger?: Logger;
  fetch?: typeof fetch;
  /** Fault injection at every boundary of a flush (tests). */
  faults?: Faults;
}

export interface FlushSummary {
  pending_before: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  /** Credits earned by this flush (credited now in real mode; pending until real in dry-run). */
  reward: bigint;
  /** Of `reward`, credits recorded as pending movements because settlement is not real. */
  reward_pending: bigint;
  /** Receipts sent that the market did not answer for (they stay pending). */
  unanswered: number;
  /** Receipts held back by a problem of their own (bundle, reward refused); they stay pending or became failed. */
  held_back: number;
  /** Of `held_back`, receipts that reached the failure limit and moved to `failed`. */
  failed: number;
  attempts: number;
  /** Set when the flush stopped early (market unreachable after all retries). */
  error?: string;
  pending_after: number;
}

export interface FlushProgress {
  done: number;
  total: number;
}

/** Account the market pays courier rewards from, in the local ledger. */
export const COURIER_REWARD_SOURCE = 'market:courier';

/** This flusher's lease on a batch expired and another flusher holds it now. */
class LeaseLostError extends Error {}

/** The ledger refused a reward: the acknowledgement is rolled back with it (savepoint). */
class RewardRefusedError extends Error {
  constructor(readonly refusal: Refusal) {
    super(`the ledger refused the reward (${refusal.reason}: ${refusal.detail})`);
  }
}

/** What `retry` did. */
export class CourierRetryError extends TesseraError {
  constructor(message: string) {
    super('COURIER_RETRY', message);
    this.name = 'CourierRetryError';
  }
}

class FlushAttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/**
 * Carry-to-earn: stores bundle receipts while offline and forwards them when the network is
 * back. A receipt becomes acknowledged only when the market answers for it, in the same
 * transaction that moves its reward (credited in real mode, a pending movement in dry-run:
 * see CreditMovements). A receipt that fails on its own (its bundle, its reward) is held back
 * without stopping the rest, and after `maxReceiptFailures` becomes `failed` with the reason.
 */
export class CourierService {
  private readonly repo: CourierRepo;
  private readonly credits: CreditMovements;
  private readonly counters: CounterRepo;
  private readonly bundles: BundleStore;
  private readonly opts: Required<CourierOptions>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly fetchFn: typeof fetch;
  private readonly faults: Faults;

  constructor(private readonly deps: CourierDeps) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger;
    this.faults = deps.faults ?? noFaults;
    this.repo = new CourierRepo(deps.db);
    this.credits =
      deps.credits ?? new CreditMovements({ db: deps.db, clock: this.clock, logger: this.logger, faults: this.faults });
    this.counters = new CounterRepo(deps.db);
    this.bundles = new BundleStore(deps.bundlesDir, deps.blake3);
    // Temp files of a `send` killed mid-copy are removed at open (never from a read-only context).
    if (!deps.db.readonly) {
      const removed = this.bundles.removeStaleIncoming();
      if (removed > 0) this.logger.info('removed temp files of interrupted courier sends', { removed });
    }
    this.fetchFn = deps.fetch ?? fetch;
    this.opts = {
      maxReceiptFailures: DEFAULT_MAX_RECEIPT_FAILURES,
      maxBundleBytes: 16 << 20,
      batchSize: 100,
      maxBatchBytes: 8 << 20,
      backoffBaseMs: 250,
      backoffCapMs: 30_000,
      maxAttempts: 6,
      requestTimeoutMs: 30_000,
      ...deps.options,
      // Long enough to cover one request and the longest pause before the next one.
      leaseMs:
        deps.options?.leaseMs ??
        (deps.options?.requestTimeoutMs ?? 30_000) + (deps.options?.backoffCapMs ?? 30_000) + 30_000,
    };
    this.counters.register(deps.registry, [
      { name: 'courier_flush_attempt_total', help: 'Courier flush requests sent to the market.' },
      {
        name: 'courier_flush_failure_total',
        help: 'Courier flush requests that failed (network, timeout, 5xx, bad answer, 4xx).',
      },
      { name: 'courier_acknowledged_total', help: 'Courier receipts acknowledged by the market.' },
    ]);
    const repo = this.repo;
    const db = deps.db;
    gauge(deps.registry, {
      name: 'courier_pending',
      help: 'Courier receipts waiting to be forwarded.',
      collect() {
        if (db.open) this.set(repo.countPending());
      },
    });
  }

  /** Stores a bundle file (a path the user typed: `tessera courier send`) and its receipt. Bad input throws with nothing written. */
  send(bundlePath: string, sender: string): CourierReceipt {
    const problem = senderProblem(sender);
    if (problem) throw new BundleError(problem);
    return this.record(this.bundles.put(bundlePath, this.opts.maxBundleBytes), sender);
  }

  /**
   * Stores a bundle's bytes (a file the user picked or uploaded in the app; `name` only names it
   * in errors) and its receipt. Bad input throws with nothing written.
   */
  sendBytes(data: Uint8Array, name: string, sender: string): CourierReceipt {
    const problem = senderProblem(sender);
    if (problem) throw new BundleError(problem);
    return this.record(this.bundles.putBytes(data, this.opts.maxBundleBytes, `bundle ${name}`), sender);
  }

  private record({ hash, bytes }: { hash: string; bytes: number }, sender: string): CourierReceipt {
    const receipt: CourierReceipt = { id: uuidv7(), bundle_hash: hash, bytes, sender, created_at: this.clock.now() };
    this.deps.db.transaction(() => this.repo.insert(receipt));
    this.logger.info('courier receipt stored', { id: receipt.id, bytes, sender });
    return receipt;
  }

  list(pendingOnly: boolean): Generator<CourierRow> {
    return this.repo.iterate(pendingOnly);
  }

  /** One stored receipt by id (undefined: unknown id). */
  get(id: string): CourierRow | undefined {
    return this.repo.get(id);
  }

  countPending(): number {
    return this.repo.countPending();
  }

  /** Puts a failed receipt back in the queue (fresh failure count). Unknown id or not failed: CourierRetryError. */
  retry(id: string): CourierRow {
    const before: CourierStatus | undefined = this.repo.requeue(id);
    if (before === undefined)
      throw new CourierRetryError(`no courier receipt ${id} in this data directory (see \`tessera courier list\`)`);
    if (before !== 'failed')
      throw new CourierRetryError(
        `courier receipt ${id} is ${before}, not failed; only a failed receipt can be retried`,
      );
    this.logger.info('courier receipt requeued', { id });
    return this.repo.get(id) as CourierRow;
  }

  /** Receipts by status. */
  counts(): Record<CourierStatus, number> {
    return this.repo.countByStatus();
  }

  /** Forwards every pending receipt to `{marketUrl}/courier/receipts`. */
  async flush(marketUrl: string, onProgress?: (p: FlushProgress) => void): Promise<FlushSummary> {
    const endpoint = courierEndpoint(marketUrl);
    const owner = uuidv7();
    const summary: FlushSummary = {
      pending_before: this.repo.countPending(),
      accepted: 0,
      duplicate: 0,
      rejected: 0,
      reward: 0n,
      reward_pending: 0n,
      unanswered: 0,
      held_back: 0,
      failed: 0,
      attempts: 0,
      pending_after: 0,
    };
    let cursor = '';
    let done = 0;
    try {
      for (;;) {
        const leased = this.repo.lease(owner, cursor, this.opts.batchSize, this.clock.now(), this.opts.leaseMs);
        this.faults('courier.leased');
        if (leased.length === 0) break;
        const batch = this.fitBatch(leased);
        cursor = (batch[batch.length - 1] as CourierRow).id;
        const unsent = leased.filter((r) => r.id > cursor).map((r) => r.id);
        if (unsent.length > 0) this.repo.release(owner, unsent);
        // Whatever happens below, this batch's leases are given back (a crash: they expire).
        let held = batch.map((r) => r.id);
        try {
          const request = this.buildRequest(batch, summary);
          this.faults('courier.request-built');
          const ids = request.receipts.map((r) => r.id);
          held = ids;
          if (ids.length === 0) continue;
          let results: CourierResult[];
          try {
            results = await backOff(() => this.attempt(endpoint, request, owner, ids, summary), {
              jitter: 'full',
              startingDelay: this.opts.backoffBaseMs,
              maxDelay: this.opts.backoffCapMs,
              numOfAttempts: this.opts.maxAttempts,
              retry: (e: unknown) => e instanceof FlushAttemptError && e.retryable,
            });
          } catch (err) {
            const message = errorMessage(err);
            if (err instanceof LeaseLostError) {
              // Another flusher took this batch over (our lease ran out); it will deliver it.
              this.logger.warn('courier batch lease lost, leaving it to the other flusher', { ids: ids.length });
              continue;
            }
            // The market refused the request itself (4xx: wrong URL, auth, too large…) is not
            // retried; nothing is given up either way: the receipts stay pending with the reason.
            summary.error =
              err instanceof FlushAttemptError && !err.retryable
                ? `market ${endpoint} refused the flush: ${message}`
                : `market ${endpoint} unreachable after ${this.opts.maxAttempts} attempts: ${message}`;
            break;
          }
          this.faults('courier.answered');
          this.applyResults(ids, results, summary);
          this.faults('courier.ack-committed');
          done += ids.length;
          onProgress?.({ done, total: summary.pending_before });
        } finally {
          this.repo.release(owner, held);
          this.faults('courier.released');
        }
      }
    } finally {
      summary.pending_after = this.repo.countPending();
    }
    this.logger.info('courier flush finished', {
      ...summary,
      reward: summary.reward.toString(),
      reward_pending: summary.reward_pending.toString(),
    });
    return summary;
  }

  /** Keeps the first receipts whose bundles fit in maxBatchBytes (always at least one). */
  private fitBatch(rows: CourierRow[]): CourierRow[] {
    let bytes = 0;
    const out: CourierRow[] = [];
    for (const r of rows) {
      if (out.length > 0 && bytes + r.bytes > this.opts.maxBatchBytes) break;
      out.push(r);
      bytes += r.bytes;
    }
    return out;
  }

  /** Signs and packs the batch; a receipt whose bundle cannot be sent is held back (counted, lease released). */
  private buildRequest(batch: CourierRow[], summary: FlushSummary): CourierFlushRequest {
    const receipts: CourierFlushRequest['receipts'] = [];
    for (const r of batch) {
      let bundle: Buffer;
      try {
        if (r.bytes > MAX_COURIER_BUNDLE_BYTES) {
          throw new BundleError(
            `bundle is ${r.bytes} bytes, more than the ${MAX_COURIER_BUNDLE_BYTES} bytes a courier request can carry`,
          );
        }
        bundle = this.bundles.get(r.bundle_hash);
      } catch (err) {
        // Kept (nothing is lost) until the limit; the rest of the batch goes on without it.
        const reason = errorMessage(err);
        this.deps.db.transaction(() => this.holdBack(r.id, reason, summary));
        this.logger.error('courier bundle unavailable', { id: r.id, error: reason });
        continue;
      }
      const core: CourierReceipt = {
        id: r.id,
        bundle_hash: r.bundle_hash,
        bytes: r.bytes,
        sender: r.sender,
        created_at: r.created_at,
      };
      receipts.push({
        ...core,
        signature: this.deps.identity.sign(courierSigningBytes(core)),
        bundle: bundle.toString('base64'),
      });
    }
    return { node_id: this.deps.identity.nodeId, receipts };
  }

  /** Inside a transaction: counts a failure of the receipt itself, releasing its lease; at the limit it becomes failed. */
  private holdBack(id: string, reason: string, summary: FlushSummary): void {
    const status = this.repo.recordReceiptFailure(id, reason, this.opts.maxReceiptFailures);
    summary.held_back++;
    if (status === 'failed') {
      summary.failed++;
      this.logger.error('courier receipt failed', { id, reason, failures: this.opts.maxReceiptFailures });
    }
  }

  private async attempt(
    endpoint: string,
    request: CourierFlushRequest,
    owner: string,
    ids: string[],
    summary: FlushSummary,
  ): Promise<CourierResult[]> {
    if (this.repo.extendLease(owner, ids, this.clock.now() + this.opts.leaseMs) !== ids.length)
      throw new LeaseLostError('lease lost');
    this.faults('courier.lease-extended');
    summary.attempts++;
    this.deps.db.transaction(() => this.counters.inc('courier_flush_attempt_total'));
    try {
      const res = await this.fetchFn(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
      });
      const text = await res.text();
      if (!res.ok) {
        const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
        const body = text.replace(/\s+/g, ' ').trim().slice(0, 200);
        throw new FlushAttemptError(`HTTP ${res.status}${body ? `: ${body}` : ''}`, retryable);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new FlushAttemptError('market answered with invalid JSON', true);
      }
      const parsed = CourierFlushResponseSchema.safeParse(body);
      if (!parsed.success)
        throw new FlushAttemptError(
          `market answer does not match the courier contract: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
          true,
        );
      return parsed.data.results;
    } catch (err) {
      const e = err instanceof FlushAttemptError ? err : new FlushAttemptError(describeNetworkError(err), true);
      this.deps.db.transaction(() => {
        this.counters.inc('courier_flush_failure_total');
        this.repo.recordAttemptFailure(ids, e.message);
      });
      this.logger.warn('courier flush attempt failed', { endpoint, error: e.message, retryable: e.retryable });
      throw e;
    }
  }

  /**
   * One transaction: acknowledgements and the rewards they earn land together. Each answer is
   * a savepoint: a reward the ledger refuses rolls back that acknowledgement alone, and the
   * receipt is held back with the reason.
   */
  private applyResults(ids: string[], results: CourierResult[], summary: FlushSummary): void {
    const sent = new Set(ids);
    const self = this.deps.identity.nodeId;
    const now = this.clock.now();
    this.deps.db.transaction(() => {
      this.faults('courier.ack.begun');
      for (const r of results) {
        if (!sent.has(r.id)) continue; // an answer for something we did not send is ignored
        sent.delete(r.id);
        if (r.status === 'rejected') {
          this.repo.markRejected(
            r.id,
            r.code ? `${r.code}: ${r.reason ?? 'rejected by the market'}` : (r.reason ?? 'rejected by the market'),
          );
          this.faults('courier.ack.rejected');
          summary.rejected++;
          continue;
        }
        const reward = r.reward;
        let moved: 'applied' | 'pending' | 'none' | 'stale';
        try {
          moved = this.deps.db.transaction(() => {
            // Only if still pending: a late answer to a flusher whose lease was taken over credits nothing.
            if (!this.repo.markAcknowledged(r.id, reward, now)) return 'stale' as const;
            this.faults('courier.ack.marked');
            if (reward === 0n) return 'none' as const;
            const outcome = this.credits.move({
              eventId: `courier:${r.id}`,
              source: 'courier',
              ref: r.id,
              kind: 'transfer',
              from: COURIER_REWARD_SOURCE,
              to: self,
              amount: reward,
              memo: 'courier reward',
            });
            if (outcome.status === 'refused') throw new RewardRefusedError(outcome);
            this.faults('courier.ack.credited');
            return outcome.status;
          });
        } catch (err) {
          if (!(err instanceof RewardRefusedError)) throw err;
          this.holdBack(r.id, err.message, summary);
          continue;
        }
        if (moved === 'stale') continue;
        this.counters.inc('courier_acknowledged_total');
        this.faults('courier.ack.counted');
        summary.reward += reward;
        if (moved === 'pending') summary.reward_pending += reward;
        if (r.status === 'accepted') summary.accepted++;
        else summary.duplicate++;
      }
      // Receipts the market did not answer for stay pending for the next flush.
      for (const id of sent) this.repo.recordAttemptFailure([id], 'the market did not answer for this receipt');
      summary.unanswered += sent.size;
      this.faults('courier.ack.committing');
    });
  }
}

/** Validates a market base URL and returns the courier inbox endpoint. */
export function courierEndpoint(marketUrl: string): string {
  let url: URL;
  try {
    url = new URL(marketUrl);
  } catch {
    throw new BundleError(`market URL "${marketUrl}" is not a valid URL (e.g. http://127.0.0.1:7070)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new BundleError(`market URL "${marketUrl}" must use http or https`);
  // Appended to the path; the query string (e.g. an access token) is kept, a fragment dropped.
  url.pathname = `${url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`}courier/receipts`;
  url.hash = '';
  return url.href;
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'request timed out';
    // fetch reports "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is on its cause.
    const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
    const why = cause?.code ?? cause?.errors?.find((e) => e.code)?.code ?? cause?.message;
    return why ? `${err.message} (${why})` : err.message;
  }
  return String(err);
}
