import type { JsonValue } from '../../core/market/canonical.js';
import { BondRepo } from './bond-repo.js';
import { pipelined, type SqlConn } from './driver.js';
import type { TaskVerification } from './tasks-repo.js';
import { joinedInput, type JobInput, type JoinedInputRow, type StoredResult } from './validator-repo.js';
import { jsonRows, pgArray, recordset, sql } from './sql.js';

/**
 * Set-based statements of the validator's group commit (issue 9, "Settlement batches its
 * writes"): each method reads or writes every row of a group in one statement, so a group of K
 * results costs a constant number of statements, not K loops of awaits. Rows travel as one JSONB
 * parameter unpacked with `jsonb_to_recordset` (bigint values as decimal strings), so nothing is
 * ever spliced into SQL text.
 */

/** One result of a group as the store sees it: what its job, lease and input were when the group locked them. */
export interface GroupRow {
  /** The result's position in the group. */
  ord: number;
  jobId: string;
  taskId: string;
  status: 'queued' | 'leased' | 'done' | 'failed';
  leaseOwner: string | null;
  /** The pair's primary job when the job is one run of a pair, else null. */
  pairPrimary: string | null;
  provider: string | null;
  epoch: number | null;
  assignmentKey: string | null;
  checked: boolean;
  blockHash: string | null;
  /** The job's input (read only for checked assignments, which the validator re-executes). */
  input: JobInput | null;
  /** The task's payload (checked assignments only). */
  payload: JsonValue | null;
  /** Whether the result's (worker, nonce) is already in the store. */
  nonceSeen: boolean;
}

/** A result row to insert (job_results), in group order. */
export interface ResultRow {
  jobId: string;
  taskId: string;
  workerAddress: string;
  epoch: number;
  verdict: StoredResult['verdict'];
  resultHash: string;
  settledHash: string;
  checked: boolean;
  result: JsonValue;
}

/** One run of a pair as the pair comparison reads it. */
export interface PairRun {
  primary: string;
  jobId: string;
  /** Whether this run is the primary (the other is its twin). */
  isPrimary: boolean;
  done: boolean;
  resultHash: string | null;
  held: { seq: bigint; resultHash: string } | null;
  /** The run's latest held or accepted result: its digests (both runs of a pair are keyed alike). */
  digests: { resultHash: string; proof: string } | null;
}

export interface SettledSlice {
  taskId: string;
  jobId: string;
  sliceIndex: number;
  twin: boolean;
  workerAddress: string;
  verdict: StoredResult['verdict'];
  settledHash: string;
}

/** The canonical text form of a job id; anything else (a provider can send any string) is not looked up. */
export const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class SettlementRepo {
  constructor(private readonly c: SqlConn) {}

  /**
   * Locks the jobs of a group's results (in job id order) and reads, in one statement, each
   * result's job, lease, pair, whether its nonce was seen and — for checked assignments — its
   * input and task payload. A result whose job does not exist has no row.
   */
  async groupContext(
    items: readonly { ord: number; jobId: string; worker: string; nonce: bigint }[],
  ): Promise<Map<number, GroupRow>> {
    if (items.length === 0) return new Map();
    const rows = await this.c.query<
      JoinedInputRow & {
        ord: number;
        job_id: string;
        task_id: string;
        status: GroupRow['status'];
        lease_owner: string | null;
        pair_primary: string | null;
        provider: string | null;
        epoch: number | null;
        assignment_key: string | null;
        checked: boolean | null;
        block_hash: string | null;
        payload: JsonValue | null;
        nonce_seen: boolean;
      }
    >(sql`
      SELECT x.ord, j.job_id, j.task_id, j.status, j.lease_owner,
        CASE WHEN j.twin_of IS NOT NULL THEN j.twin_of WHEN EXISTS (SELECT 1 FROM jobs t WHERE t.twin_of = j.job_id) THEN j.job_id END AS pair_primary,
        l.provider, l.epoch, l.assignment_key, l.checked, l.block_hash,
        i.workload, i.source, i.slice_n, i.byte_offset, i.byte_length, i.matrix_size, i.iterations,
        CASE WHEN l.checked THEN (SELECT k.payload FROM tasks k WHERE k.task_id = j.task_id) END AS payload,
        EXISTS (SELECT 1 FROM result_nonces n WHERE n.worker_address = x.worker AND n.nonce = x.nonce) AS nonce_seen
      FROM ${recordset(
        items.map((i) => ({ ord: i.ord, job_id: i.jobId, worker: i.worker, nonce: i.nonce })),
        sql`x(ord integer, job_id uuid, worker text, nonce numeric)`,
      )} AS x
      JOIN jobs j ON j.job_id = x.job_id
      LEFT JOIN job_leases l ON l.job_id = j.job_id
      LEFT JOIN job_inputs i ON i.job_id = j.job_id AND l.checked
      ORDER BY j.job_id, x.ord
      FOR UPDATE OF j`);
    const out = new Map<number, GroupRow>();
    for (const r of rows) {
      out.set(r.ord, {
        ord: r.ord,
        jobId: r.job_id,
        taskId: r.task_id,
        status: r.status,
        leaseOwner: r.lease_owner,
        pairPrimary: r.pair_primary,
        provider: r.provider,
        epoch: r.epoch,
        assignmentKey: r.assignment_key,
        checked: r.checked === true,
        blockHash: r.block_hash,
        input: joinedInput(r),
        payload: r.payload,
        nonceSeen: r.nonce_seen,
      });
    }
    return out;
  }

  /** Records (worker, nonce) pairs; returns the keys (`worker nonce`) this statement claimed — a pair seen before is not among them. */
  async claimNonces(items: readonly { worker: string; nonce: bigint }[], now: number): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    const rows = await this.c.query<{ worker_address: string; nonce: string }>(sql`
      INSERT INTO result_nonces (worker_address, nonce, seen_at)
      SELECT x.worker, x.nonce, ${now}::bigint FROM jsonb_to_recordset(${jsonRows(items.map((i) => ({ worker: i.worker, nonce: i.nonce })))}::jsonb) AS x(worker text, nonce numeric)
      ON CONFLICT DO NOTHING RETURNING worker_address, nonce::text AS nonce`);
    return new Set(rows.map((r) => `${r.worker_address} ${r.nonce}`));
  }

  /**
   * Marks the jobs of settled results done with the hash each is settled on, and ends their lease
   * records (state failed/"completed", no heartbeats), in one statement.
   */
  async finishJobs(rows: readonly { jobId: string; resultHash: string }[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await this.c.query(sql`
      WITH v AS (SELECT * FROM ${recordset(
        rows.map((r) => ({ job_id: r.jobId, result_hash: r.resultHash })),
        sql`x(job_id uuid, result_hash text)`,
      )} AS x),
      l AS (
        UPDATE job_leases SET lease = lease || jsonb_build_object('state', jsonb_build_object('kind', 'failed', 'atMs', ${now}::bigint, 'reason', 'completed'), 'heartbeats', '{}'::jsonb), updated_at = ${now}
        WHERE job_id IN (SELECT job_id FROM v) RETURNING job_id)
      UPDATE jobs j SET status = 'done', result_hash = v.result_hash, lease_owner = NULL, lease_until = NULL, updated_at = ${now}
      FROM v WHERE j.job_id = v.job_id AND j.status = 'leased'`);
  }

  /** Inserts the group's results in order (their seq follows the group's order). */
  async insertResults(rows: readonly ResultRow[], now: number): Promise<void> {
    if (rows.length === 0) return;
    const param = jsonRows(
      rows.map((r, ord) => ({
        ord,
        job_id: r.jobId,
        task_id: r.taskId,
        worker_address: r.workerAddress,
        epoch: r.epoch,
        verdict: r.verdict,
        result_hash: r.resultHash,
        settled_hash: r.settledHash,
        checked: r.checked,
        result: r.result,
      })),
    );
    await this.c.query(sql`
      INSERT INTO job_results (job_id, task_id, worker_address, epoch, verdict, result_hash, settled_hash, checked, result, received_at)
      SELECT job_id, task_id, worker_address, epoch, verdict, result_hash, settled_hash, checked, result, ${now}::bigint
      FROM jsonb_to_recordset(${param}::jsonb) AS x(ord integer, job_id uuid, task_id uuid, worker_address text, epoch integer, verdict text, result_hash text, settled_hash text, checked boolean, result jsonb)
      ORDER BY ord`);
  }

  /**
   * Penalizes every wrong result of a group, as `ValidatorRepo.penalize` would one after another
   * (the first failed check of a provider takes its whole funded bond to treasury, each lowers
   * reputation, counts a wrong result and a failed check, ends the clean streak, refuses at
   * `refuseAfter`), in a constant number of statements. Returns the addresses now refused.
   */
  async penalizeMany(
    items: readonly { address: string; jobId: string }[],
    reason: string,
    reputationDrop: number,
    refuseAfter: number,
    now: number,
  ): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    const addresses = [...new Set(items.map((i) => i.address))].sort();
    const rows = await this.c.query<{
      address: string;
      reputation: number;
      wrong_results: number;
      refused: boolean;
    }>(sql`
      SELECT address, reputation, wrong_results, refused FROM providers
      WHERE address = ANY(${pgArray(addresses)}::text[]) ORDER BY address FOR UPDATE`);
    const state = new Map(
      rows.map((r) => [r.address, { reputation: r.reputation, wrong: r.wrong_results, refused: r.refused }]),
    );
    const known = items.filter((i) => state.has(i.address));
    const slashed = await new BondRepo(this.c).slashFailed(known, now);
    const penalties: { ord: number; address: string; job_id: string; slashed: bigint }[] = [];
    known.forEach((item, ord) => {
      const s = state.get(item.address) as { reputation: number; wrong: number; refused: boolean };
      penalties.push({ ord, address: item.address, job_id: item.jobId, slashed: slashed[ord] as bigint });
      s.reputation = Math.max(0, s.reputation - reputationDrop);
      s.wrong += 1;
      s.refused = s.refused || s.wrong >= refuseAfter;
    });
    const updates = [...state].map(([address, s]) => ({
      address,
      reputation: s.reputation,
      wrong_results: s.wrong,
      refused: s.refused,
    }));
    await this.c.query(sql`
      UPDATE providers p SET reputation = v.reputation, wrong_results = v.wrong_results, refused = v.refused, updated_at = ${now}
      FROM ${recordset(updates, sql`v(address text, reputation integer, wrong_results integer, refused boolean)`)} AS v
      WHERE p.address = v.address`);
    await this.c.query(sql`
      INSERT INTO provider_penalties (address, job_id, reason, slashed, created_at)
      SELECT address, job_id, ${reason}::text, slashed, ${now}::bigint FROM jsonb_to_recordset(${jsonRows(penalties)}::jsonb) AS x(ord integer, address text, job_id uuid, slashed bigint)
      ORDER BY ord`);
    return new Set(updates.filter((u) => u.refused).map((u) => u.address));
  }

  /** Both runs of each pair (by primary job id), each with its latest held result while it is done. */
  async pairRuns(primaries: readonly string[]): Promise<PairRun[]> {
    if (primaries.length === 0) return [];
    const rows = await this.c.query<{
      primary_id: string;
      job_id: string;
      is_primary: boolean;
      status: string;
      result_hash: string | null;
      seq: bigint | null;
      held_hash: string | null;
      run_hash: string | null;
      run_proof: string | null;
    }>(sql`
      SELECT p.job_id AS primary_id, j.job_id, j.job_id = p.job_id AS is_primary, j.status, j.result_hash, h.seq, h.result_hash AS held_hash, d.result_hash AS run_hash, d.proof AS run_proof
      FROM jobs p JOIN jobs j ON j.job_id = p.job_id OR j.twin_of = p.job_id
      LEFT JOIN LATERAL (
        SELECT r.seq, r.result_hash FROM job_results r WHERE r.job_id = j.job_id AND r.verdict = 'held' AND j.status = 'done' ORDER BY r.seq DESC LIMIT 1) h ON TRUE
      LEFT JOIN LATERAL (
        SELECT r.result_hash, r.result->>'proof' AS proof FROM job_results r WHERE r.job_id = j.job_id AND r.verdict IN ('held', 'accepted') AND j.status = 'done' ORDER BY r.seq DESC LIMIT 1) d ON TRUE
      WHERE p.job_id = ANY(${pgArray(primaries)}::uuid[])`);
    return rows.map((r) => ({
      primary: r.primary_id,
      jobId: r.job_id,
      isPrimary: r.is_primary,
      done: r.status === 'done',
      resultHash: r.result_hash,
      held: r.seq === null || r.held_hash === null ? null : { seq: r.seq, resultHash: r.held_hash },
      digests: r.run_hash === null || r.run_proof === null ? null : { resultHash: r.run_hash, proof: r.run_proof },
    }));
  }

  /** Gives held results their verdict; each `settledHash` becomes its job's result (ValidatorRepo.settleHeld, for many). */
  async settleHeldMany(
    rows: readonly { seq: bigint; jobId: string; verdict: 'accepted' | 'wrong'; settledHash: string }[],
    now: number,
  ): Promise<void> {
    if (rows.length === 0) return;
    await this.c.query(sql`
      WITH v AS (SELECT * FROM ${recordset(
        rows.map((r) => ({ seq: r.seq, job_id: r.jobId, verdict: r.verdict, settled_hash: r.settledHash })),
        sql`x(seq bigint, job_id uuid, verdict text, settled_hash text)`,
      )} AS x),
      r AS (UPDATE job_results SET verdict = v.verdict, settled_hash = v.settled_hash FROM v WHERE job_results.seq = v.seq AND job_results.verdict = 'held' RETURNING 1)
      UPDATE jobs j SET result_hash = v.settled_hash, updated_at = ${now} FROM v WHERE j.job_id = v.job_id`);
  }

  /**
   * Of these tasks, those in progress whose every job is done and no result is held for a pair's
   * verdict, locked (task id order) with their rewards.
   *
   * The tasks are locked first and checked after, in a second statement. Under READ COMMITTED a
   * statement sees what was committed when it began: two market instances settling the last two
   * jobs of one task at once would each see the other's job unfinished if the check ran before
   * the lock, and neither would complete the task. With the lock first, the second instance waits
   * for the first to commit and its check (a new statement, a new snapshot) sees both jobs done.
   * A row lock, not SERIALIZABLE: it serialises only settlements of the same task, needs no retry
   * loop around a group commit that re-executes checked jobs, and behaves the same on PGlite
   * (one connection) and PostgreSQL. Lock order: the group has already locked its jobs (job id
   * order), and the tasks are locked here in task id order — jobs before their task, as the lease
   * and dispute paths do, so these locks never wait on each other in a cycle.
   */
  async completableTasks(
    taskIds: readonly string[],
  ): Promise<{ taskId: string; reward: bigint; verification: TaskVerification; surcharge: bigint }[]> {
    if (taskIds.length === 0) return [];
    // The lock and the check leave in one write: the server runs the check after the lock is held,
    // as a statement of its own (so it sees what committed while it waited).
    const [, rows] = await pipelined(
      this.c,
      () => this.lockTasks(taskIds),
      () =>
        this.c.query<{
          task_id: string;
          reward: bigint;
          verification: TaskVerification;
          surcharge: bigint;
        }>(sql`
      SELECT t.task_id, t.reward, t.verification, t.surcharge FROM tasks t
      WHERE t.task_id = ANY(${pgArray(taskIds)}::uuid[]) AND t.status = 'in_progress'
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_id = t.task_id AND j.status <> 'done')
        AND NOT EXISTS (SELECT 1 FROM job_results r WHERE r.task_id = t.task_id AND r.verdict = 'held')
      ORDER BY t.task_id FOR UPDATE OF t`),
    );
    return rows.map((r) => ({
      taskId: r.task_id,
      reward: r.reward,
      verification: r.verification,
      surcharge: r.surcharge,
    }));
  }

  /** Locks the rows of these tasks (task id order, so concurrent lockers never deadlock) until the transaction ends. */
  async lockTasks(taskIds: readonly string[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.c.query(sql`
      SELECT t.task_id FROM tasks t
      WHERE t.task_id = ANY(${pgArray(taskIds)}::uuid[])
      ORDER BY t.task_id FOR UPDATE OF t`);
  }

  /**
   * Tasks left in progress although every job is done (and no result awaits a pair's verdict):
   * what the completion sweep pays. Locked, skipping tasks another transaction holds (one that is
   * settling them right now); the caller checks them again under the lock (completableTasks).
   */
  async stuckTasks(limit: number): Promise<string[]> {
    const rows = await this.c.query<{ task_id: string }>(sql`
      SELECT t.task_id FROM tasks t
      WHERE t.status = 'in_progress'
        AND EXISTS (SELECT 1 FROM jobs j WHERE j.task_id = t.task_id)
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_id = t.task_id AND j.status <> 'done')
        AND NOT EXISTS (SELECT 1 FROM job_results r WHERE r.task_id = t.task_id AND r.verdict = 'held')
      ORDER BY t.task_id LIMIT ${limit} FOR UPDATE OF t SKIP LOCKED`);
    return rows.map((r) => r.task_id);
  }

  /** The result each done job of these tasks was settled on, per task in slice order (a slice's twin run after it) — ValidatorRepo.taskResults for many tasks. */
  async taskResults(taskIds: readonly string[]): Promise<Map<string, SettledSlice[]>> {
    const out = new Map<string, SettledSlice[]>(taskIds.map((t) => [t, []]));
    if (taskIds.length === 0) return out;
    const rows = await this.c.query<{
      task_id: string;
      job_id: string;
      slice_index: number;
      twin: boolean;
      worker_address: string;
      verdict: StoredResult['verdict'];
      settled_hash: string;
    }>(sql`
      SELECT * FROM (
        SELECT DISTINCT ON (j.job_id) j.task_id, j.job_id, j.slice_index, j.twin_of IS NOT NULL AS twin, r.worker_address, r.verdict, r.settled_hash
        FROM jobs j JOIN job_results r ON r.job_id = j.job_id AND r.settled_hash = j.result_hash
        WHERE j.task_id = ANY(${pgArray(taskIds)}::uuid[]) AND j.status = 'done'
        ORDER BY j.job_id, r.seq DESC) d
      ORDER BY task_id, slice_index, twin`);
    for (const r of rows)
      out.get(r.task_id)?.push({
        taskId: r.task_id,
        jobId: r.job_id,
        sliceIndex: r.slice_index,
        twin: r.twin,
        workerAddress: r.worker_address,
        verdict: r.verdict,
        settledHash: r.settled_hash,
      });
    return out;
  }

  /** Completes paid tasks (result hash, top worker) and stores their receipts (a receipt already stored is kept), in one statement. */
  async completeTasks(
    tasks: readonly { taskId: string; resultHash: string; workerAddress: string }[],
    receipts: readonly { key: string; jobId: string; taskId: string; provider: string; receipt: JsonValue }[],
    now: number,
  ): Promise<void> {
    if (tasks.length === 0 && receipts.length === 0) return;
    const t = recordset(
      tasks.map((x) => ({ task_id: x.taskId, result_hash: x.resultHash, worker_address: x.workerAddress })),
      sql`v(task_id uuid, result_hash text, worker_address text)`,
    );
    const r = jsonRows(
      receipts.map((x, ord) => ({
        ord,
        idempotency_key: x.key,
        job_id: x.jobId,
        task_id: x.taskId,
        provider: x.provider,
        receipt: x.receipt,
      })),
    );
    await this.c.query(sql`
      WITH t AS (
        UPDATE tasks SET status = 'completed', result_hash = v.result_hash, worker_address = v.worker_address, completed_at = ${now}, updated_at = ${now}
        FROM ${t} AS v
        WHERE tasks.task_id = v.task_id AND tasks.status IN ('pending', 'in_progress') RETURNING 1)
      INSERT INTO market_receipts (idempotency_key, job_id, task_id, provider, receipt, created_at)
      SELECT idempotency_key, job_id, task_id, provider, receipt, ${now}::bigint
      FROM jsonb_to_recordset(${r}::jsonb) AS x(ord integer, idempotency_key text, job_id uuid, task_id uuid, provider text, receipt jsonb)
      ORDER BY ord ON CONFLICT DO NOTHING`);
  }
}
