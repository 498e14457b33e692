import { TesseraError } from '../../../core/errors.js';
import { receiptToJson, unsignedReceipt, type Receipt } from '../../../core/ledger/receipt.js';
import type { Database } from '../database.js';
import { sql } from '../sql.js';

export type ReceiptStatus = 'recorded' | 'applied' | 'archived';

export interface StoredReceipt {
  idempotency_key: string;
  payload: string;
  status: ReceiptStatus;
  reason: string | null;
}

/** The same idempotency key arrived with a different payload: refused, never overwritten. */
export class ReceiptConflictError extends TesseraError {
  constructor(key: string) {
    super('RECEIPT_CONFLICT', `receipt ${key} is already stored with different contents; refusing to overwrite it`);
    this.name = 'ReceiptConflictError';
  }
}

/** Canonical stored form of a receipt: its fields without the signature (kept in its own column). */
export function receiptPayload(r: Receipt): string {
  return JSON.stringify(receiptToJson(unsignedReceipt(r)));
}

const RECORDED = { status: 'recorded', reason: null } as const;

/** The earnings row's `settlement` word for a stored receipt in `status` (the word ApplyOutcome uses). */
export function earningSettlementOf(status: ReceiptStatus): 'applied' | 'recorded' | 'failed' {
  return status === 'applied' ? 'applied' : status === 'recorded' ? 'recorded' : 'failed';
}

/** Receipts by idempotency key: insert-if-absent, conflicts detected, status transitions. */
export class ReceiptRepo {
  constructor(private readonly db: Database) {}

  /**
   * Inserts the receipt if its key is new, in state `as` (default recorded; `applied` also sets
   * applied_at, as setStatus does). Returns the row now stored (new or existing); a stored row
   * with other contents throws ReceiptConflictError, having written nothing.
   */
  insertIfAbsent(
    r: Receipt,
    now: number,
    as: { status: ReceiptStatus; reason: string | null } = RECORDED,
  ): { inserted: boolean; row: StoredReceipt } {
    const payload = receiptPayload(r);
    const appliedAt = as.status === 'applied' ? now : null;
    const signature = r.signature ?? null;
    const changes = this.db
      .run(sql`INSERT INTO receipts (idempotency_key, payload, status, reason, recorded_at, applied_at, signature)
      VALUES (${r.idempotency_key}, ${payload}, ${as.status}, ${as.reason}, ${now}, ${appliedAt}, ${signature}) ON CONFLICT(idempotency_key) DO NOTHING`);
    if (changes === 1)
      return {
        inserted: true,
        row: { idempotency_key: r.idempotency_key, payload, status: as.status, reason: as.reason },
      };
    const row = this.get(r.idempotency_key) as StoredReceipt;
    if (row.payload !== payload) throw new ReceiptConflictError(r.idempotency_key);
    // A receipt stored before markets signed them keeps the signature it arrives with now.
    if (signature !== null)
      this.db.run(
        sql`UPDATE receipts SET signature = ${signature} WHERE idempotency_key = ${r.idempotency_key} AND signature IS NULL`,
      );
    return { inserted: false, row };
  }

  get(key: string): StoredReceipt | undefined {
    return this.db.get<StoredReceipt & Record<string, unknown>>(
      sql`SELECT idempotency_key, payload, status, reason FROM receipts WHERE idempotency_key = ${key}`,
    );
  }

  /**
   * Moves a stored receipt to `status`; its earnings row (if the provider recorded one) follows in
   * the same statement group, so `tessera earnings` says `settled` exactly when the ledger did.
   */
  setStatus(key: string, status: ReceiptStatus, reason: string | null, now: number): void {
    this.db.run(sql`UPDATE receipts SET status = ${status}, reason = ${reason},
      applied_at = CASE WHEN ${status} = 'applied' THEN ${now} ELSE applied_at END WHERE idempotency_key = ${key}`);
    this.db.run(
      sql`UPDATE provider_earnings SET settlement = ${earningSettlementOf(status)} WHERE receipt_key = ${key}`,
    );
  }

  countByStatus(): Record<ReceiptStatus, number> {
    const out: Record<ReceiptStatus, number> = { recorded: 0, applied: 0, archived: 0 };
    for (const r of this.db.all<{ status: ReceiptStatus; n: bigint }>(
      sql`SELECT status, count(*) AS n FROM receipts GROUP BY status`,
    ))
      out[r.status] = Number(r.n);
    return out;
  }

  /** Streams every stored receipt (start-up verification). */
  iterateAll(): IterableIterator<StoredReceipt> {
    return this.db.iterate<StoredReceipt & Record<string, unknown>>(
      sql`SELECT idempotency_key, payload, status, reason FROM receipts ORDER BY idempotency_key`,
    );
  }
}
