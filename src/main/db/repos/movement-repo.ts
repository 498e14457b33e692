import type { Database } from '../database.js';
import { sql } from '../sql.js';
import { insertRows } from './sql-rows.js';

/** Which rule produced a credit movement. */
export type MovementSource = 'receipt' | 'courier' | 'slash';

/** One credit movement: a transfer between two accounts, or a burn out of one. */
export interface Movement {
  /** Ledger event id the postings are recorded under (`receipt:<key>`, `courier:<id>`, `slash:…`). */
  eventId: string;
  source: MovementSource;
  /** The record that justifies it: receipt key, courier receipt id, job id. */
  ref: string;
  kind: 'transfer' | 'burn';
  from: string;
  /** Credited account (transfers only). */
  to?: string;
  amount: bigint;
  memo: string;
}

export type PendingStatus = 'pending' | 'applied' | 'failed';

export interface PendingMovement extends Movement {
  seq: bigint;
  created_at: number;
}

interface RawRow {
  seq: bigint;
  event_id: string;
  source: MovementSource;
  ref: string;
  kind: 'transfer' | 'burn';
  from_account: string;
  to_account: string | null;
  amount: bigint;
  memo: string;
  created_at: bigint;
  [k: string]: unknown;
}

function fromRaw(r: RawRow): PendingMovement {
  return {
    seq: r.seq,
    eventId: r.event_id,
    source: r.source,
    ref: r.ref,
    kind: r.kind,
    from: r.from_account,
    ...(r.to_account === null ? {} : { to: r.to_account }),
    amount: r.amount,
    memo: r.memo,
    created_at: Number(r.created_at),
  };
}

/** Movements recorded while settlement is dry-run, waiting for the mode to turn real. */
export class MovementRepo {
  constructor(private readonly db: Database) {}

  /** Records a pending movement. An event id recorded twice is a bug upstream and fails (UNIQUE). */
  insert(m: Movement, now: number): void {
    this.db
      .run(sql`INSERT INTO pending_movements (event_id, source, ref, kind, from_account, to_account, amount, memo, created_at)
      VALUES (${m.eventId}, ${m.source}, ${m.ref}, ${m.kind}, ${m.from}, ${m.to ?? null}, ${m.amount}, ${m.memo}, ${now})`);
  }

  /** Records pending movements in order (multi-row INSERTs); the same rows as `insert` one by one. */
  insertMany(rows: readonly { m: Movement; now: number }[]): void {
    insertRows(
      (q) => this.db.run(q),
      sql`INSERT INTO pending_movements (event_id, source, ref, kind, from_account, to_account, amount, memo, created_at) VALUES`,
      9,
      rows.map(({ m, now }) => [m.eventId, m.source, m.ref, m.kind, m.from, m.to ?? null, m.amount, m.memo, now]),
    );
  }

  /** True if a movement under this event id was ever recorded (pending, applied or failed). */
  has(eventId: string): boolean {
    return this.db.get(sql`SELECT 1 AS x FROM pending_movements WHERE event_id = ${eventId}`) !== undefined;
  }

  anyPending(): boolean {
    return this.db.get(sql`SELECT 1 AS x FROM pending_movements WHERE status = 'pending' LIMIT 1`) !== undefined;
  }

  /** The oldest pending movements after `afterSeq`, in the order they were recorded. */
  nextPending(afterSeq: bigint, limit: number): PendingMovement[] {
    return this.db
      .all<RawRow>(
        sql`SELECT seq, event_id, source, ref, kind, from_account, to_account, amount, memo, created_at
        FROM pending_movements WHERE status = 'pending' AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`,
      )
      .map(fromRaw);
  }

  /** Marks a pending movement applied or failed; returns whether it was still pending (so it is settled once). */
  settle(seq: bigint, status: 'applied' | 'failed', reason: string | null, now: number): boolean {
    return (
      this.db.run(
        sql`UPDATE pending_movements SET status = ${status}, reason = ${reason}, applied_at = ${now} WHERE seq = ${seq} AND status = 'pending'`,
      ) === 1
    );
  }

  countByStatus(): Record<PendingStatus, number> {
    const out: Record<PendingStatus, number> = { pending: 0, applied: 0, failed: 0 };
    for (const r of this.db.all<{ status: PendingStatus; n: bigint }>(
      sql`SELECT status, count(*) AS n FROM pending_movements GROUP BY status`,
    ))
      out[r.status] = Number(r.n);
    return out;
  }
}
