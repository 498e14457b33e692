import type { CourierReceipt } from '../../../core/courier/courier-receipt.js';
import type { Database } from '../database.js';
import { sql } from '../sql.js';

export type CourierStatus = 'pending' | 'acknowledged' | 'rejected' | 'failed';

export interface CourierRow extends CourierReceipt {
  status: CourierStatus;
  acknowledged: boolean;
  attempts: number;
  /** Failures of this receipt of its own (bundle unreadable or too large, reward refused); at the limit it becomes `failed`. */
  failures: number;
  last_error: string | null;
  reward: bigint | null;
}

interface RawRow {
  id: string;
  bundle_hash: string;
  bytes: bigint;
  sender: string;
  created_at: bigint;
  status: CourierStatus;
  acknowledged: bigint;
  attempts: bigint;
  failures: bigint;
  last_error: string | null;
  reward: bigint | null;
  [k: string]: unknown;
}

function fromRaw(r: RawRow): CourierRow {
  return {
    id: r.id,
    bundle_hash: r.bundle_hash,
    bytes: Number(r.bytes),
    sender: r.sender,
    created_at: Number(r.created_at),
    status: r.status,
    acknowledged: r.acknowledged === 1n,
    attempts: Number(r.attempts),
    failures: Number(r.failures),
    last_error: r.last_error,
    reward: r.reward,
  };
}

const COLUMNS = sql`id, bundle_hash, bytes, sender, created_at, status, acknowledged, attempts, failures, last_error, reward`;

/** The courier queue. Receipts are leased before sending so two flushers never send the same one at once. */
export class CourierRepo {
  constructor(private readonly db: Database) {}

  insert(r: CourierReceipt): void {
    this.db.run(sql`INSERT INTO courier_receipts (id, bundle_hash, bytes, sender, created_at)
      VALUES (${r.id}, ${r.bundle_hash}, ${r.bytes}, ${r.sender}, ${r.created_at})`);
  }

  get(id: string): CourierRow | undefined {
    const r = this.db.get<RawRow>(sql`SELECT ${COLUMNS} FROM courier_receipts WHERE id = ${id}`);
    return r && fromRaw(r);
  }

  /**
   * Leases up to `limit` pending receipts with ids after `afterId` that nobody else holds
   * (or whose lease expired). Keyset pagination keeps each read bounded.
   */
  lease(owner: string, afterId: string, limit: number, now: number, leaseMs: number): CourierRow[] {
    return this.db.transaction(() => {
      const rows = this.db.all<RawRow>(sql`SELECT ${COLUMNS} FROM courier_receipts
        WHERE status = 'pending' AND id > ${afterId} AND (lease_until IS NULL OR lease_until < ${now} OR lease_owner = ${owner})
        ORDER BY id LIMIT ${limit}`);
      for (const r of rows)
        this.db.run(
          sql`UPDATE courier_receipts SET lease_owner = ${owner}, lease_until = ${now + leaseMs} WHERE id = ${r.id}`,
        );
      return rows.map(fromRaw);
    });
  }

  /** Extends a lease held by `owner`; returns how many of `ids` it still holds (all, unless another flusher took over). */
  extendLease(owner: string, ids: string[], until: number): number {
    return this.db.transaction(() => {
      let held = 0;
      for (const id of ids)
        held += this.db.run(
          sql`UPDATE courier_receipts SET lease_until = ${until} WHERE id = ${id} AND lease_owner = ${owner} AND status = 'pending'`,
        );
      return held;
    });
  }

  /** Records an attempt's failure on every receipt of a batch; the lease is kept for the retry. */
  recordAttemptFailure(ids: string[], error: string): void {
    for (const id of ids)
      this.db.run(sql`UPDATE courier_receipts SET attempts = attempts + 1, last_error = ${error} WHERE id = ${id}`);
  }

  /**
   * Inside a transaction: counts a failure of this receipt of its own and releases its lease; at
   * `maxFailures` it moves to `failed` with the reason. Returns the status it has now.
   */
  recordReceiptFailure(id: string, reason: string, maxFailures: number): CourierStatus | undefined {
    this.db
      .run(sql`UPDATE courier_receipts SET attempts = attempts + 1, failures = failures + 1, last_error = ${reason},
      status = CASE WHEN failures + 1 >= ${maxFailures} THEN 'failed' ELSE status END,
      lease_owner = NULL, lease_until = NULL WHERE id = ${id} AND status = 'pending'`);
    return this.db.get<{ status: CourierStatus }>(sql`SELECT status FROM courier_receipts WHERE id = ${id}`)?.status;
  }

  /** Puts a failed receipt back in the queue with a fresh failure count; returns its status before (undefined: unknown id). */
  requeue(id: string): CourierStatus | undefined {
    return this.db.transaction(() => {
      const before = this.db.get<{ status: CourierStatus }>(
        sql`SELECT status FROM courier_receipts WHERE id = ${id}`,
      )?.status;
      if (before === 'failed')
        this.db.run(
          sql`UPDATE courier_receipts SET status = 'pending', failures = 0 WHERE id = ${id} AND status = 'failed'`,
        );
      return before;
    });
  }

  /** Inside a transaction: marks a receipt acknowledged (only if still pending); returns whether it changed. */
  markAcknowledged(id: string, reward: bigint, now: number): boolean {
    return (
      this.db
        .run(sql`UPDATE courier_receipts SET status = 'acknowledged', acknowledged = 1, reward = ${reward}, acked_at = ${now},
        attempts = attempts + 1, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = ${id} AND status = 'pending'`) ===
      1
    );
  }

  markRejected(id: string, reason: string): void {
    this.db.run(sql`UPDATE courier_receipts SET status = 'rejected', attempts = attempts + 1, last_error = ${reason},
      lease_owner = NULL, lease_until = NULL WHERE id = ${id} AND status = 'pending'`);
  }

  release(owner: string, ids: string[]): void {
    this.db.transaction(() => {
      for (const id of ids)
        this.db.run(
          sql`UPDATE courier_receipts SET lease_owner = NULL, lease_until = NULL WHERE id = ${id} AND lease_owner = ${owner}`,
        );
    });
  }

  countByStatus(): Record<CourierStatus, number> {
    const out: Record<CourierStatus, number> = { pending: 0, acknowledged: 0, rejected: 0, failed: 0 };
    for (const r of this.db.all<{ status: CourierStatus; n: bigint }>(
      sql`SELECT status, count(*) AS n FROM courier_receipts GROUP BY status`,
    ))
      out[r.status] = Number(r.n);
    return out;
  }

  countPending(): number {
    return Number(
      this.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM courier_receipts WHERE status = 'pending'`)?.n ?? 0n,
    );
  }

  /** Streams receipts in id (= time) order. */
  *iterate(pendingOnly: boolean): Generator<CourierRow> {
    const q = pendingOnly
      ? sql`SELECT ${COLUMNS} FROM courier_receipts WHERE status = 'pending' ORDER BY id`
      : sql`SELECT ${COLUMNS} FROM courier_receipts ORDER BY id`;
    for (const r of this.db.iterate<RawRow>(q)) yield fromRaw(r);
  }
}
