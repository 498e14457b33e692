import { backOff } from 'exponential-backoff';
import type { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { courierSigningBytes, senderProblem, type CourierReceipt } from '../../core/courier/courier-receipt.js';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { CourierFlushResponseSchema, type CourierFlushRequest, type CourierResult } from '../../shared/courier-protocol.js';
import type { Database } from '../db/database.js';
import { CounterRepo } from '../db/repos/counter-repo.js';
import { CourierRepo, type CourierRow } from '../db/repos/courier-repo.js';
import { LedgerRepo } from '../db/repos/ledger-repo.js';
import type { NodeIdentity } from '../identity.js';
import { silentLogger, type Logger } from '../log.js';
import { gauge } from '../metrics.js';
import { BundleError, BundleStore } from './bundle-store.js';

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
}

export interface CourierDeps {
  db: Database;
  blake3: Blake3Hasher;
  identity: NodeIdentity;
  bundlesDir: string;
  registry: Registry;
  options?: CourierOptions;
  now?: () => number;
  logger?: Logger;
  fetch?: typeof fetch;
}

export interface FlushSummary {
  pending_before: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  /** Credits recorded in the local ledger by this flush. */
  reward: bigint;
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
 * transaction that credits the reward to the local ledger.
 */
export class CourierService {
  private readonly repo: CourierRepo;
  private readonly ledger: LedgerRepo;
  private readonly counters: CounterRepo;
  private readonly bundles: BundleStore;
  private readonly opts: Required<CourierOptions>;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly deps: CourierDeps) {
    this.repo = new CourierRepo(deps.db);
    this.ledger = new LedgerRepo(deps.db);
    this.counters = new CounterRepo(deps.db);
    this.bundles = new BundleStore(deps.bundlesDir, deps.blake3);
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger ?? silentLogger;
    this.fetchFn = deps.fetch ?? fetch;
    this.opts = {
      maxBundleBytes: 16 << 20,
      batchSize: 100,
      maxBatchBytes: 8 << 20,
      backoffBaseMs: 250,
      backoffCapMs: 30_000,
      maxAttempts: 6,
      requestTimeoutMs: 30_000,
      ...deps.options,
      // Long enough to cover one request and the longest pause before the next one.
      leaseMs: deps.options?.leaseMs ?? (deps.options?.requestTimeoutMs ?? 30_000) + (deps.options?.backoffCapMs ?? 30_000) + 30_000,
    };
    this.counters.register(deps.registry, [
      { name: 'courier_flush_attempt_total', help: 'Courier flush requests sent to the market.' },
      { name: 'courier_flush_failure_total', help: 'Courier flush requests that failed (network, timeout, 5xx, bad answer, 4xx).' },
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

  /** Stores a bundle and its receipt. Bad input throws with nothing written. */
  send(bundlePath: string, sender: string): CourierReceipt {
    const problem = senderProblem(sender);
    if (problem) throw new BundleError(problem);
    const { hash, bytes } = this.bundles.put(bundlePath, this.opts.maxBundleBytes);
    const receipt: CourierReceipt = { id: uuidv7(), bundle_hash: hash, bytes, sender, created_at: this.now() };
    this.deps.db.transaction(() => this.repo.insert(receipt));
    this.logger.info('courier receipt stored', { id: receipt.id, bytes, sender });
    return receipt;
  }

  list(pendingOnly: boolean): Generator<CourierRow> {
    return this.repo.iterate(pendingOnly);
  }

  countPending(): number {
    return this.repo.countPending();
  }

  /** Forwards every pending receipt to `{marketUrl}/courier/receipts`. */
  async flush(marketUrl: string, onProgress?: (p: FlushProgress) => void): Promise<FlushSummary> {
    const endpoint = courierEndpoint(marketUrl);
    const owner = uuidv7();
    const summary: FlushSummary = { pending_before: this.repo.countPending(), accepted: 0, duplicate: 0, rejected: 0, reward: 0n, attempts: 0, pending_after: 0 };
    let cursor = '';
    let done = 0;
    try {
      for (;;) {
        const leased = this.repo.lease(owner, cursor, this.opts.batchSize, this.now(), this.opts.leaseMs);
        if (leased.length === 0) break;
        const batch = this.fitBatch(leased);
        cursor = (batch[batch.length - 1] as CourierRow).id;
        const unsent = leased.filter((r) => r.id > cursor).map((r) => r.id);
        if (unsent.length > 0) this.repo.release(owner, unsent);

        const request = this.buildRequest(batch);
        if (request.receipts.length === 0) continue;
        const ids = request.receipts.map((r) => r.id);
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
          const message = err instanceof Error ? err.message : String(err);
          if (err instanceof LeaseLostError) {
            // Another flusher took this batch over (our lease ran out); it will deliver it.
            this.logger.warn('courier batch lease lost, leaving it to the other flusher', { ids: ids.length });
            continue;
          }
          if (err instanceof FlushAttemptError && !err.retryable) {
            // The market refused the request itself (4xx: wrong URL, auth, too large…). Not
            // retried, and nothing is given up: the receipts stay pending with the reason.
            this.repo.release(owner, ids);
            summary.error = `market ${endpoint} refused the flush: ${message}`;
            break;
          }
          this.repo.release(owner, ids);
          summary.error = `market ${endpoint} unreachable after ${this.opts.maxAttempts} attempts: ${message}`;
          break;
        }
        this.applyResults(ids, results, summary);
        this.repo.release(owner, ids);
        done += ids.length;
        onProgress?.({ done, total: summary.pending_before });
      }
    } finally {
      summary.pending_after = this.repo.countPending();
    }
    this.logger.info('courier flush finished', { ...summary, reward: summary.reward.toString() });
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

  private buildRequest(batch: CourierRow[]): CourierFlushRequest {
    const receipts: CourierFlushRequest['receipts'] = [];
    for (const r of batch) {
      let bundle: Buffer;
      try {
        bundle = this.bundles.get(r.bundle_hash);
      } catch (err) {
        // Keep the receipt (nothing is lost); it stays pending with the reason until the bundle is restored.
        this.deps.db.transaction(() => this.repo.recordAttemptFailure([r.id], (err as Error).message));
        this.logger.error('courier bundle unavailable', { id: r.id, error: (err as Error).message });
        continue;
      }
      const core: CourierReceipt = { id: r.id, bundle_hash: r.bundle_hash, bytes: r.bytes, sender: r.sender, created_at: r.created_at };
      receipts.push({ ...core, signature: this.deps.identity.sign(courierSigningBytes(core)), bundle: bundle.toString('base64') });
    }
    return { node_id: this.deps.identity.nodeId, receipts };
  }

  private async attempt(endpoint: string, request: CourierFlushRequest, owner: string, ids: string[], summary: FlushSummary): Promise<CourierResult[]> {
    if (this.repo.extendLease(owner, ids, this.now() + this.opts.leaseMs) !== ids.length) throw new LeaseLostError('lease lost');
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
      if (!parsed.success) throw new FlushAttemptError(`market answer does not match the courier contract: ${parsed.error.issues[0]?.message ?? 'invalid'}`, true);
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

  /** One transaction: acknowledgements and the rewards they earn land together. */
  private applyResults(ids: string[], results: CourierResult[], summary: FlushSummary): void {
    const sent = new Set(ids);
    const self = this.deps.identity.nodeId;
    const now = this.now();
    this.deps.db.transaction(() => {
      for (const r of results) {
        if (!sent.has(r.id)) continue; // an answer for something we did not send is ignored
        sent.delete(r.id);
        if (r.status === 'rejected') {
          this.repo.markRejected(r.id, r.reason ?? 'rejected by the market');
          summary.rejected++;
          continue;
        }
        const reward = r.reward;
        if (!this.repo.markAcknowledged(r.id, reward, now)) continue;
        if (reward > 0n) this.ledger.transfer(`courier:${r.id}`, COURIER_REWARD_SOURCE, self, reward, 'courier reward', now);
        this.counters.inc('courier_acknowledged_total');
        summary.reward += reward;
        if (r.status === 'accepted') summary.accepted++;
        else summary.duplicate++;
      }
      // Receipts the market did not answer for stay pending for the next flush.
      for (const id of sent) this.repo.recordAttemptFailure([id], 'the market did not answer for this receipt');
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BundleError(`market URL "${marketUrl}" must use http or https`);
  return new URL('courier/receipts', url.href.endsWith('/') ? url.href : `${url.href}/`).href;
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
