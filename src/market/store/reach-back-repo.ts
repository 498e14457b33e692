import type { JsonValue } from '../../core/market/canonical.js';
import type { SqlConn } from './driver.js';
import { pgArray, sql } from './sql.js';
import { joinedInput, type JobInput, type JoinedInputRow } from './validator-repo.js';

/** One result waiting to be re-verified, with what its re-execution needs (docs/market-api.md, "Reach-back"). */
export interface ReachBackItem {
  seq: bigint;
  jobId: string;
  taskId: string;
  address: string;
  epoch: number;
  resultHash: string;
  proof: string;
  /** The result is still what its job is settled on (accepted, job done on its hash); otherwise it is skipped. */
  current: boolean;
  assignmentKey: string | null;
  blockHash: string | null;
  input: JobInput | null;
  payload: JsonValue;
}

/** An open redo of a reopened task: what the wrong job's provider had been paid, and the job's result now. */
export interface OpenRedo {
  seq: bigint;
  jobId: string;
  paid: bigint;
  jobDone: boolean;
  /** The job's current result (the latest one its hash was settled on), once it is done again. */
  now: {
    seq: bigint;
    workerAddress: string;
    verdict: string;
    /** Re-executed when it was settled (drawn for a check). */
    checked: boolean;
    /** Re-verified by the reach-back: null when not queued, else its state. */
    reverified: string | null;
  } | null;
}

/** Per task: how its jobs' results were verified (GET /tasks/{id}, "verification"). */
export interface VerificationCounts {
  jobs: number;
  done: number;
  reexecuted: number;
  agreed: number;
  unchecked: number;
  corrected: number;
}

const ids = (xs: readonly string[]): string => JSON.stringify(xs);

/** The reach-back's rows: providers being watched after a failed check, the results queued for re-verification, and the redos of reopened tasks. */
export class ReachBackRepo {
  constructor(private readonly c: SqlConn) {}

  /**
   * `addresses` failed a check at `now`: each is watched (`since` its first failure of this watch)
   * until `now + windowMs` (an existing watch only widens), so its unchecked results before the
   * failure (the newest `maxBefore` of `enqueue`) and up to `until` are re-verified.
   */
  async watch(addresses: readonly string[], now: number, windowMs: number): Promise<void> {
    if (addresses.length === 0) return;
    await this.c.query(sql`
      INSERT INTO reach_back_watch (address, since, until, failed_at)
      SELECT a, ${now}::bigint, ${now + windowMs}::bigint, ${now}::bigint
      FROM (SELECT DISTINCT jsonb_array_elements_text(${ids(addresses)}::jsonb) AS a) x ORDER BY a
      ON CONFLICT (address) DO UPDATE SET since = LEAST(reach_back_watch.since, EXCLUDED.since),
        until = GREATEST(reach_back_watch.until, EXCLUDED.until), failed_at = GREATEST(reach_back_watch.failed_at, EXCLUDED.failed_at)`);
  }

  /**
   * Queues the watched providers' results accepted without a check and still settled on (not a run
   * of a pair, which two providers agreed on): of those received up to the latest failure the
   * newest `maxBefore` per provider, however old, and every one received after it until the watch
   * ends; of a provider that is **refused** (a proven cheater), every such result it ever returned
   * (docs/verification.md, "Wrong final results"). Then ends expired watches. Returns how many
   * were queued.
   */
  async enqueue(now: number, maxBefore: number): Promise<number> {
    const rows = await this.c.query(sql`
      INSERT INTO reach_back_checks (result_seq, job_id, task_id, address, state, queued_at)
      SELECT seq, job_id, task_id, worker_address, 'pending', ${now}::bigint FROM (
        SELECT r.seq, r.job_id, r.task_id, r.worker_address, r.received_at, w.failed_at, COALESCE(p.refused, FALSE) AS refused,
          row_number() OVER (PARTITION BY r.worker_address, r.received_at <= w.failed_at ORDER BY r.seq DESC) AS k
        FROM reach_back_watch w
        LEFT JOIN providers p ON p.address = w.address
        JOIN job_results r ON r.worker_address = w.address
          AND (p.refused OR r.received_at <= w.until)
        JOIN jobs j ON j.job_id = r.job_id AND j.status = 'done' AND j.result_hash = r.settled_hash
        WHERE r.verdict = 'accepted' AND NOT r.checked AND j.twin_of IS NULL
          AND NOT EXISTS (SELECT 1 FROM jobs t WHERE t.twin_of = j.job_id)) x
      WHERE (x.refused OR x.received_at > x.failed_at OR x.k <= ${maxBefore})
        AND NOT EXISTS (SELECT 1 FROM reach_back_checks c WHERE c.result_seq = x.seq)
      ORDER BY seq
      ON CONFLICT DO NOTHING RETURNING result_seq`);
    await this.c.query(sql`DELETE FROM reach_back_watch WHERE until < ${now}`);
    return rows.length;
  }

  /** Up to `limit` queued re-verifications, oldest first, with their job's input and assignment. */
  async pending(limit: number): Promise<ReachBackItem[]> {
    const rows = await this.c.query<
      JoinedInputRow & {
        result_seq: bigint;
        job_id: string;
        task_id: string;
        address: string;
        epoch: number;
        result_hash: string;
        proof: string;
        current: boolean;
        assignment_key: string | null;
        block_hash: string | null;
        payload: JsonValue;
      }
    >(sql`
      SELECT k.result_seq, k.job_id, k.task_id, k.address, r.epoch, r.result_hash, r.result->>'proof' AS proof,
        (j.status = 'done' AND j.result_hash = r.settled_hash AND r.verdict = 'accepted') AS current,
        l.assignment_key, l.block_hash,
        i.workload, i.source, i.slice_n, i.byte_offset, i.byte_length, i.matrix_size, i.iterations, t.payload
      FROM reach_back_checks k
      JOIN job_results r ON r.seq = k.result_seq
      JOIN jobs j ON j.job_id = k.job_id
      JOIN tasks t ON t.task_id = k.task_id
      LEFT JOIN job_leases l ON l.job_id = k.job_id AND l.provider = k.address AND l.epoch = r.epoch
      LEFT JOIN job_inputs i ON i.job_id = k.job_id
      WHERE k.state = 'pending' ORDER BY k.queued_at, k.result_seq LIMIT ${limit}`);
    return rows.map((r) => ({
      seq: r.result_seq,
      jobId: r.job_id,
      taskId: r.task_id,
      address: r.address,
      epoch: r.epoch,
      resultHash: r.result_hash,
      proof: r.proof,
      current: r.current,
      assignmentKey: r.assignment_key,
      blockHash: r.block_hash,
      input: joinedInput(r),
      payload: r.payload,
    }));
  }

  /** Locks a queued re-verification and its job (job first, as settlement does) and reports whether it is still queued and current. */
  async lockPending(seq: bigint, jobId: string): Promise<{ pending: boolean; current: boolean }> {
    await this.c.query(sql`SELECT job_id FROM jobs WHERE job_id = ${jobId} FOR UPDATE`);
    const [r] = await this.c.query<{ state: string; current: boolean }>(sql`
      SELECT k.state, (j.status = 'done' AND j.result_hash = r.settled_hash AND r.verdict = 'accepted') AS current
      FROM reach_back_checks k JOIN job_results r ON r.seq = k.result_seq JOIN jobs j ON j.job_id = k.job_id
      WHERE k.result_seq = ${seq} FOR UPDATE OF k`);
    return { pending: r?.state === 'pending', current: r?.current === true };
  }

  /** Records a re-verification's outcome (and, for a wrong one, the verified digests and the money of its correction). */
  async finish(
    seq: bigint,
    state: 'confirmed' | 'wrong' | 'skipped',
    now: number,
    o: { expected?: { resultHash: string; proof: string }; paid?: bigint; clawed?: bigint; redo?: 'open' } = {},
  ): Promise<void> {
    await this.c.query(sql`
      UPDATE reach_back_checks SET state = ${state}, done_at = ${now}, expected_hash = ${o.expected?.resultHash ?? null},
        expected_proof = ${o.expected?.proof ?? null}, paid = ${o.paid ?? 0n}, clawed = ${o.clawed ?? 0n}, redo = ${o.redo ?? null}
      WHERE result_seq = ${seq}`);
  }

  /** A result found wrong after it was accepted: its verdict becomes wrong, settled on the verified hash. */
  async markWrong(seq: bigint, settledHash: string): Promise<void> {
    await this.c.query(sql`UPDATE job_results SET verdict = 'wrong', settled_hash = ${settledHash} WHERE seq = ${seq}`);
  }

  /** Puts a done job back in the queue (its result was wrong); false when it was not done. */
  async requeueDone(jobId: string, now: number): Promise<boolean> {
    const rows = await this.c.query(sql`
      UPDATE jobs SET status = 'queued', result_hash = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ${now}
      WHERE job_id = ${jobId} AND status = 'done' RETURNING job_id`);
    return rows.length === 1;
  }

  /** What `provider` was paid for `jobId` (the quote prices of its receipts for it), micro-CPC. */
  async paidFor(jobId: string, provider: string): Promise<bigint> {
    const [r] = await this.c.query<{ paid: bigint }>(sql`
      SELECT COALESCE(sum((receipt->>'quote_price')::numeric), 0)::bigint AS paid
      FROM market_receipts WHERE job_id = ${jobId} AND provider = ${provider}`);
    return r?.paid ?? 0n;
  }

  /** The task's status, its row locked. */
  async lockTask(taskId: string): Promise<string | undefined> {
    const [r] = await this.c.query<{ status: string }>(
      sql`SELECT status FROM tasks WHERE task_id = ${taskId} FOR UPDATE`,
    );
    return r?.status;
  }

  /** A completed task whose result was wrong goes back to work: status reopened, one more correction. */
  async reopen(taskId: string, now: number): Promise<void> {
    await this.c.query(sql`
      UPDATE tasks SET status = 'reopened', corrections = corrections + 1, updated_at = ${now}
      WHERE task_id = ${taskId} AND status = 'completed'`);
  }

  /** Reopened tasks whose every job is done again (none held for a pair's verdict), locked, skipping those another transaction holds. */
  async reopenedReady(limit: number): Promise<string[]> {
    const rows = await this.c.query<{ task_id: string }>(sql`
      SELECT t.task_id FROM tasks t WHERE t.status = 'reopened'
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_id = t.task_id AND j.status <> 'done')
        AND NOT EXISTS (SELECT 1 FROM job_results r WHERE r.task_id = t.task_id AND r.verdict = 'held')
      ORDER BY t.task_id LIMIT ${limit} FOR UPDATE OF t SKIP LOCKED`);
    return rows.map((r) => r.task_id);
  }

  /** The open redos of a task with each job's current result. */
  async openRedos(taskId: string): Promise<OpenRedo[]> {
    const rows = await this.c.query<{
      result_seq: bigint;
      job_id: string;
      paid: bigint;
      done: boolean;
      seq: bigint | null;
      worker_address: string | null;
      verdict: string | null;
      checked: boolean | null;
      reverified: string | null;
    }>(sql`
      SELECT k.result_seq, k.job_id, k.paid, j.status = 'done' AS done,
        r.seq, r.worker_address, r.verdict, r.checked, (SELECT c.state FROM reach_back_checks c WHERE c.result_seq = r.seq) AS reverified
      FROM reach_back_checks k JOIN jobs j ON j.job_id = k.job_id
      LEFT JOIN LATERAL (SELECT * FROM job_results x WHERE x.job_id = j.job_id AND x.settled_hash = j.result_hash AND j.status = 'done'
        ORDER BY x.seq DESC LIMIT 1) r ON TRUE
      WHERE k.task_id = ${taskId} AND k.redo = 'open' ORDER BY k.result_seq`);
    return rows.map((r) => ({
      seq: r.result_seq,
      jobId: r.job_id,
      paid: r.paid,
      jobDone: r.done,
      now:
        r.seq === null
          ? null
          : {
              seq: r.seq,
              workerAddress: r.worker_address as string,
              verdict: r.verdict as string,
              checked: r.checked === true,
              reverified: r.reverified,
            },
    }));
  }

  /** Queues one result for re-verification (a redo accepted without a check); nothing when it is queued already. */
  async enqueueResult(seq: bigint, now: number): Promise<void> {
    await this.c.query(sql`
      INSERT INTO reach_back_checks (result_seq, job_id, task_id, address, state, queued_at)
      SELECT seq, job_id, task_id, worker_address, 'pending', ${now}::bigint FROM job_results WHERE seq = ${seq}
      ON CONFLICT DO NOTHING`);
  }

  async closeRedo(seq: bigint): Promise<void> {
    await this.c.query(sql`UPDATE reach_back_checks SET redo = 'paid' WHERE result_seq = ${seq}`);
  }

  /** Completes a corrected task again with its corrected result hash. */
  async completeReopened(taskId: string, resultHash: string, now: number): Promise<boolean> {
    const rows = await this.c.query(sql`
      UPDATE tasks SET status = 'completed', result_hash = ${resultHash}, completed_at = ${now}, updated_at = ${now}
      WHERE task_id = ${taskId} AND status = 'reopened' RETURNING task_id`);
    return rows.length === 1;
  }

  /** Whether anything waits for the reach-back: a watch, a queued re-verification or a reopened task. */
  async hasWork(): Promise<boolean> {
    const [r] = await this.c.query<{ any: boolean }>(sql`
      SELECT EXISTS (SELECT 1 FROM reach_back_watch) OR EXISTS (SELECT 1 FROM reach_back_checks WHERE state = 'pending')
        OR EXISTS (SELECT 1 FROM tasks WHERE status = 'reopened') AS any`);
    return r?.any === true;
  }

  /**
   * How each task's jobs (a pair counts once) were verified, from the result each done job is
   * settled on: corrected (a reach-back found its first result wrong and it was redone),
   * re-executed (drawn for a check, settled on the validator's digests, or confirmed by a
   * reach-back), agreed (both runs of a pair matched), else unchecked.
   */
  async verification(taskIds: readonly string[]): Promise<Map<string, VerificationCounts>> {
    const out = new Map<string, VerificationCounts>(
      taskIds.map((t) => [t, { jobs: 0, done: 0, reexecuted: 0, agreed: 0, unchecked: 0, corrected: 0 }]),
    );
    if (taskIds.length === 0) return out;
    const rows = await this.c.query<{
      task_id: string;
      done: boolean;
      checked: boolean | null;
      verdict: string | null;
      corrected: boolean;
      paired: boolean;
      confirmed: boolean;
    }>(sql`
      SELECT j.task_id, j.status = 'done' AS done, r.checked, r.verdict,
        EXISTS (SELECT 1 FROM reach_back_checks k WHERE k.job_id = j.job_id AND k.state = 'wrong') AS corrected,
        EXISTS (SELECT 1 FROM jobs t WHERE t.twin_of = j.job_id) AS paired,
        EXISTS (SELECT 1 FROM reach_back_checks k WHERE k.result_seq = r.seq AND k.state = 'confirmed') AS confirmed
      FROM jobs j
      LEFT JOIN LATERAL (SELECT x.seq, x.checked, x.verdict FROM job_results x WHERE x.job_id = j.job_id AND x.settled_hash = j.result_hash AND j.status = 'done'
        ORDER BY x.seq DESC LIMIT 1) r ON TRUE
      WHERE j.task_id = ANY(${pgArray(taskIds)}::uuid[]) AND j.twin_of IS NULL`);
    for (const r of rows) {
      const v = out.get(r.task_id);
      if (!v) continue;
      v.jobs++;
      if (!r.done) continue;
      v.done++;
      if (r.corrected) v.corrected++;
      else if (r.checked === true || r.verdict === 'wrong' || r.confirmed) v.reexecuted++;
      else if (r.paired) v.agreed++;
      else v.unchecked++;
    }
    return out;
  }
}
