import type { JsonValue } from '../../core/market/canonical.js';
import type { SqlConn } from './driver.js';
import { sql, type PgQuery } from './sql.js';

export const CHALLENGE_TYPES = ['inference', 'training', 'rendering', 'synthetic'] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];
/**
 * Stored statuses; `draft` (slices still uploading) shows as `pending` in the public view, and
 * `reopened` (a completed task whose result a failed check reached back to, being corrected) as
 * `in_progress`.
 */
export type StoredTaskStatus = 'draft' | 'pending' | 'in_progress' | 'completed' | 'failed' | 'reopened';
/** The guarantee a customer asked for at POST /tasks (docs/market-api.md, "Verification"). */
export const TASK_VERIFICATIONS = ['sampled', 'all', 'two_providers'] as const;
export type TaskVerification = (typeof TASK_VERIFICATIONS)[number];
export const PUBLIC_STATUSES = ['pending', 'in_progress', 'completed', 'failed'] as const;
export type PublicTaskStatus = (typeof PUBLIC_STATUSES)[number];
export type InputKind = 'payload' | 'slices';

export interface TaskRecord {
  taskId: string;
  customerId: string;
  challengeType: ChallengeType;
  payload: JsonValue;
  reward: bigint;
  /** Unix ms, or null for no deadline. */
  deadline: number | null;
  status: StoredTaskStatus;
  failureReason: string | null;
  inputKind: InputKind;
  gpuRequired: boolean;
  lane: 'consumer' | 'industrial';
  resultHash: string | null;
  workerAddress: string | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  /** The verification the customer asked for. */
  verification: TaskVerification;
  /** What the guarantee costs on top of `reward` (held in escrow with it), micro-CPC. */
  surcharge: bigint;
  /** How many times a wrong job result was found after completion and the task was corrected. */
  corrections: number;
}

/** A `tasks` row as the drivers return it. */
export interface TaskRow {
  task_id: string;
  customer_id: string;
  challenge_type: ChallengeType;
  payload: JsonValue;
  reward: bigint;
  deadline: bigint | null;
  status: StoredTaskStatus;
  failure_reason: string | null;
  input_kind: InputKind;
  gpu_required: boolean;
  lane: 'consumer' | 'industrial';
  result_hash: string | null;
  worker_address: string | null;
  created_at: bigint;
  updated_at: bigint;
  completed_at: bigint | null;
  verification: TaskVerification;
  surcharge: bigint;
  corrections: number;
  [k: string]: unknown;
}

const num = (v: bigint | null): number | null => (v === null ? null : Number(v));
/** A `tasks` row as a record. */
export const toTaskRecord = (r: TaskRow): TaskRecord => ({
  taskId: r.task_id,
  customerId: r.customer_id,
  challengeType: r.challenge_type,
  payload: r.payload,
  reward: r.reward,
  deadline: num(r.deadline),
  status: r.status,
  failureReason: r.failure_reason,
  inputKind: r.input_kind,
  gpuRequired: r.gpu_required,
  lane: r.lane,
  resultHash: r.result_hash,
  workerAddress: r.worker_address,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  completedAt: num(r.completed_at),
  verification: r.verification,
  surcharge: r.surcharge,
  corrections: r.corrections,
});

export interface TaskFilter {
  customerId: string;
  status?: PublicTaskStatus;
  challengeType?: ChallengeType;
  limit: number;
  offset: number;
}

/** Tasks and their status transitions; every transition names the statuses it may leave. */
export class TasksRepo {
  constructor(private readonly c: SqlConn) {}

  /** Inserts a task; returns it as stored (what `get` would read back in the same transaction). */
  async insert(
    t: Omit<
      TaskRecord,
      | 'failureReason'
      | 'resultHash'
      | 'workerAddress'
      | 'updatedAt'
      | 'completedAt'
      | 'verification'
      | 'surcharge'
      | 'corrections'
    > &
      Partial<Pick<TaskRecord, 'verification' | 'surcharge'>>,
  ): Promise<TaskRecord> {
    // Without a guarantee the columns keep their defaults (so this also writes to a store before migration 11, as the upgrade tests do).
    const guarantee =
      t.verification === undefined || (t.verification === 'sampled' && !t.surcharge)
        ? null
        : { verification: t.verification, surcharge: t.surcharge ?? 0n };
    const [r] = await this.c.query<TaskRow>(sql`
      INSERT INTO tasks (task_id, customer_id, challenge_type, payload, reward, deadline, status, input_kind, gpu_required, lane, created_at, updated_at
        ${guarantee ? sql`, verification, surcharge` : sql``})
      VALUES (${t.taskId}, ${t.customerId}, ${t.challengeType}, ${JSON.stringify(t.payload)}::jsonb, ${t.reward}, ${t.deadline}, ${t.status},
              ${t.inputKind}, ${t.gpuRequired}, ${t.lane}, ${t.createdAt}, ${t.createdAt}
              ${guarantee ? sql`, ${guarantee.verification}, ${guarantee.surcharge}` : sql``})
      RETURNING *`);
    return toTaskRecord(r as TaskRow);
  }

  /** Inserts many tasks in one statement; returns them as stored, in the order given. */
  async insertMany(ts: readonly Parameters<TasksRepo['insert']>[0][]): Promise<TaskRecord[]> {
    if (ts.length === 0) return [];
    if (ts.length === 1) return [await this.insert(ts[0] as Parameters<TasksRepo['insert']>[0])];
    const rows = JSON.stringify(
      ts.map((t, ord) => ({
        ord,
        task_id: t.taskId,
        customer_id: t.customerId,
        challenge_type: t.challengeType,
        payload: t.payload,
        reward: t.reward.toString(),
        deadline: t.deadline,
        status: t.status,
        input_kind: t.inputKind,
        gpu_required: t.gpuRequired,
        lane: t.lane,
        created_at: t.createdAt,
        verification: t.verification ?? 'sampled',
        surcharge: (t.surcharge ?? 0n).toString(),
      })),
    );
    const stored = await this.c.query<TaskRow & { ord: number }>(sql`
      WITH x AS (
        SELECT * FROM jsonb_to_recordset(${rows}::jsonb) AS x(ord integer, task_id uuid, customer_id uuid, challenge_type text,
          payload jsonb, reward bigint, deadline bigint, status text, input_kind text, gpu_required boolean, lane text,
          created_at bigint, verification text, surcharge bigint)),
      ins AS (
        INSERT INTO tasks (task_id, customer_id, challenge_type, payload, reward, deadline, status, input_kind, gpu_required, lane, created_at, updated_at, verification, surcharge)
        SELECT task_id, customer_id, challenge_type, payload, reward, deadline, status, input_kind, gpu_required, lane, created_at, created_at, verification, surcharge
        FROM x ORDER BY ord
        RETURNING *)
      SELECT ins.*, x.ord FROM ins JOIN x ON x.task_id = ins.task_id ORDER BY x.ord`);
    return stored.map((r) => toTaskRecord(r));
  }

  /** The task; `forUpdate` locks its row until the transaction ends. */
  async get(taskId: string, options: { forUpdate?: boolean } = {}): Promise<TaskRecord | undefined> {
    const [r] = await this.c.query<TaskRow>(
      sql`SELECT * FROM tasks WHERE task_id = ${taskId} ${options.forUpdate ? sql`FOR UPDATE` : sql``}`,
    );
    return r && toTaskRecord(r);
  }

  /**
   * Up to `limit` pending tasks with no jobs yet (the ones a dispatch pass splits), oldest first,
   * locked (`FOR UPDATE SKIP LOCKED`: a task another instance is splitting is left to it).
   */
  async lockToSplit(limit: number): Promise<TaskRecord[]> {
    const rows = await this.c.query<TaskRow>(sql`
      SELECT t.* FROM tasks t WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_id = t.task_id)
      ORDER BY created_at, task_id LIMIT ${limit} FOR UPDATE SKIP LOCKED`);
    return rows.map(toTaskRecord);
  }

  /**
   * A customer's unsubmitted slice-input drafts: how many, and the bytes of their uploaded slices
   * (leaving out slice `except.n` of task `except.taskId`, which an upload is about to replace).
   * `lock` first locks the customer's row, so that a customer's concurrent draft creations and
   * slice commits are checked against the limits one at a time, on every market instance.
   */
  async draftUsage(
    customerId: string,
    o: { lock?: boolean; except?: { taskId: string; n: number } } = {},
  ): Promise<{ drafts: number; bytes: number }> {
    if (o.lock) await this.c.query(sql`SELECT customer_id FROM customers WHERE customer_id = ${customerId} FOR UPDATE`);
    const except = o.except ?? { taskId: null, n: -1 };
    const [r] = await this.c.query<{ drafts: bigint; bytes: bigint }>(sql`
      SELECT count(DISTINCT t.task_id)::bigint AS drafts, COALESCE(sum(s.bytes), 0)::bigint AS bytes
      FROM tasks t LEFT JOIN task_slices s
        ON s.task_id = t.task_id AND NOT (s.task_id IS NOT DISTINCT FROM ${except.taskId}::uuid AND s.n = ${except.n})
      WHERE t.customer_id = ${customerId} AND t.status = 'draft'`);
    return { drafts: Number(r?.drafts ?? 0n), bytes: Number(r?.bytes ?? 0n) };
  }

  /** Deletes an unsubmitted draft (its slice rows go with it); false when it is not a draft. */
  async deleteDraft(taskId: string): Promise<boolean> {
    const rows = await this.c.query(
      sql`DELETE FROM tasks WHERE task_id = ${taskId} AND status = 'draft' RETURNING task_id`,
    );
    return rows.length === 1;
  }

  /** One page of a customer's tasks, newest first, and the total matching the filter. */
  async list(f: TaskFilter): Promise<{ tasks: TaskRecord[]; total: number }> {
    const where = sql`customer_id = ${f.customerId}
      ${f.status ? (f.status === 'pending' ? sql`AND status IN ('draft', 'pending')` : f.status === 'in_progress' ? sql`AND status IN ('in_progress', 'reopened')` : sql`AND status = ${f.status}`) : sql``}
      ${f.challengeType ? sql`AND challenge_type = ${f.challengeType}` : sql``}`;
    const rows = await this.c.query<TaskRow>(
      sql`SELECT * FROM tasks WHERE ${where} ORDER BY created_at DESC, task_id LIMIT ${f.limit} OFFSET ${f.offset}`,
    );
    const [count] = await this.c.query<{ n: bigint }>(sql`SELECT count(*)::bigint AS n FROM tasks WHERE ${where}`);
    return { tasks: rows.map(toTaskRecord), total: Number(count?.n ?? 0n) };
  }

  /** Moves a task from one of `from` to `to`; false when it was in another status. */
  async transition(
    taskId: string,
    from: readonly StoredTaskStatus[],
    to: Exclude<StoredTaskStatus, 'completed' | 'failed'>,
    now: number,
  ): Promise<boolean> {
    return this.update(taskId, from, sql`status = ${to}, updated_at = ${now}`);
  }

  /** Moves each of `taskIds` from one of `from` to `to` in one statement; returns the ids that moved. */
  async transitionMany(
    taskIds: readonly string[],
    from: readonly StoredTaskStatus[],
    to: Exclude<StoredTaskStatus, 'completed' | 'failed'>,
    now: number,
  ): Promise<string[]> {
    if (taskIds.length === 0) return [];
    const rows = await this.c.query<{ task_id: string }>(sql`
      UPDATE tasks SET status = ${to}, updated_at = ${now}
      WHERE task_id = ANY(${`{${taskIds.join(',')}}`}::uuid[]) AND status = ANY(${`{${from.join(',')}}`}::text[]) RETURNING task_id`);
    return rows.map((r) => r.task_id);
  }

  async complete(taskId: string, result: { resultHash: string; workerAddress: string }, now: number): Promise<boolean> {
    return this.update(
      taskId,
      ['pending', 'in_progress'],
      sql`status = 'completed', result_hash = ${result.resultHash}, worker_address = ${result.workerAddress}, completed_at = ${now}, updated_at = ${now}`,
    );
  }

  async fail(taskId: string, reason: string, now: number): Promise<boolean> {
    return this.update(
      taskId,
      ['draft', 'pending', 'in_progress'],
      sql`status = 'failed', failure_reason = ${reason}, updated_at = ${now}`,
    );
  }

  /** Ids of open tasks whose deadline has passed, oldest first, locked and skipping rows another instance holds. */
  async overdue(now: number, limit: number): Promise<string[]> {
    const rows = await this.c.query<{ task_id: string }>(sql`
      SELECT task_id FROM tasks WHERE status IN ('draft', 'pending', 'in_progress') AND deadline IS NOT NULL AND deadline <= ${now}
      ORDER BY deadline, task_id LIMIT ${limit} FOR UPDATE SKIP LOCKED`);
    return rows.map((r) => r.task_id);
  }

  private async update(taskId: string, from: readonly StoredTaskStatus[], set: PgQuery): Promise<boolean> {
    const rows = await this.c.query(
      sql`UPDATE tasks SET ${set} WHERE task_id = ${taskId} AND status = ANY(${`{${from.join(',')}}`}::text[]) RETURNING task_id`,
    );
    return rows.length === 1;
  }
}

/** The public status of a stored one. */
export function publicStatus(s: StoredTaskStatus): PublicTaskStatus {
  return s === 'draft' ? 'pending' : s === 'reopened' ? 'in_progress' : s;
}
