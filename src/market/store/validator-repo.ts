import type { JsonValue } from '../../core/market/canonical.js';
import type { SqlConn } from './driver.js';
import type { ProbationRecord } from './bond-repo.js';
import { toJobRecord, type JobRecord, type JobRow } from './jobs-repo.js';
import { pgArray, recordset, sql, type PgQuery } from './sql.js';
import { toTaskRecord, type TaskRecord, type TaskRow } from './tasks-repo.js';

export type JobWorkload = 'transcode' | 'inference' | 'gpuhash' | 'synthetic';

/** Where a job's input bytes come from. */
export interface JobInput {
  jobId: string;
  workload: JobWorkload;
  source: 'payload' | 'slice' | 'synthetic';
  /** The uploaded slice the bytes are in (source "slice"). */
  sliceN: number | null;
  byteOffset: number;
  byteLength: number;
  matrixSize: number | null;
  iterations: number | null;
}

export interface ProviderRecord {
  address: string;
  publicKey: string;
  /** The funded bond (the provider's `bond:<address>` account), micro-CPC: a failed check takes it to treasury. */
  bond: bigint;
  reputation: number;
  wrongResults: number;
  refused: boolean;
}

/** Queued, admitted jobs of one lane and GPU requirement (see ValidatorRepo.queueShape). */
export interface QueueGroup {
  lane: 'consumer' | 'industrial';
  gpuRequired: boolean;
  count: number;
  maxOffer: bigint;
}

/** A job's current assignment: the lease machine's record plus what the validator needs to check it. */
export interface AssignmentRecord {
  jobId: string;
  provider: string;
  epoch: number;
  lease: JsonValue;
  assignmentKey: string;
  checked: boolean;
  blockHash: string | null;
}

/** What a lease just taken needs (ValidatorRepo.leaseNext), read with it in one statement. */
export interface LeaseContext {
  job: JobRecord;
  /** Undefined only when the job's task row is gone (never, with the foreign key). */
  task: TaskRecord | undefined;
  input: JobInput | undefined;
  /** The job's previous assignment, undefined for a first lease. */
  previous: AssignmentRecord | undefined;
  /** The pair the job belongs to (it is the primary or its twin), undefined for a job run once. */
  pair: { primary: string; twin: string } | undefined;
  /** The leasing provider's checks and funded bond (BondRepo.probation's record). */
  probation: ProbationRecord;
}

/**
 * A queued job as the dispatcher matches it to providers (ValidatorRepo.leaseCandidates): what
 * capability fit looks at, and who may not take it.
 */
export interface LeaseCandidate {
  jobId: string;
  lane: 'consumer' | 'industrial';
  gpuRequired: boolean;
  offer: bigint;
  /** The same for both runs of a pair (the primary's id), the job's own id otherwise: one provider never takes two jobs of one key. */
  pairKey: string;
  /** The provider that last held the job and lost it (its lease row), if any. */
  lostBy: string | null;
  /** Providers that hold or held the other run of the job's pair: none of them may take this one. */
  pairHolders: string[];
}

/**
 * The part of a lease statement that reads what a lease needs for each leased row of `j` (the
 * UPDATE's RETURNING, with `ord`): the job's task, input, previous assignment and pair, and its new
 * holder's probation.
 */
const LEASE_CONTEXT = sql`
      SELECT t.*,
        j.job_id AS j_job_id, j.task_id AS j_task_id, j.slice_index AS j_slice_index, j.lane AS j_lane,
        j.gpu_required AS j_gpu_required, j.offer AS j_offer, j.status AS j_status, j.lease_owner AS j_lease_owner,
        j.lease_until AS j_lease_until, j.attempts AS j_attempts, j.result_hash AS j_result_hash, j.created_at AS j_created_at,
        j.twin_of AS j_twin_of, (SELECT s.job_id FROM jobs s WHERE s.twin_of = j.job_id LIMIT 1) AS j_twin,
        i.job_id AS i_job_id, i.workload AS i_workload, i.source AS i_source, i.slice_n AS i_slice_n,
        i.byte_offset AS i_byte_offset, i.byte_length AS i_byte_length, i.matrix_size AS i_matrix_size, i.iterations AS i_iterations,
        l.job_id AS l_job_id, l.provider AS l_provider, l.epoch AS l_epoch, l.lease AS l_lease,
        l.assignment_key AS l_assignment_key, l.checked AS l_checked, l.block_hash AS l_block_hash,
        p.checks_passed AS p_checks_passed, p.checks_failed AS p_checks_failed, p.clean_streak AS p_clean_streak,
        b.balance AS p_bond
      FROM j
      LEFT JOIN tasks t ON t.task_id = j.task_id
      LEFT JOIN job_inputs i ON i.job_id = j.job_id
      LEFT JOIN job_leases l ON l.job_id = j.job_id
      LEFT JOIN providers p ON p.address = j.lease_owner
      LEFT JOIN accounts b ON b.account_id = 'bond:' || j.lease_owner`;

function toLeaseContext(r: LeaseRow): LeaseContext {
  const job = toJobRecord({
    job_id: r.j_job_id,
    task_id: r.j_task_id,
    slice_index: r.j_slice_index,
    lane: r.j_lane,
    gpu_required: r.j_gpu_required,
    offer: r.j_offer,
    status: r.j_status,
    lease_owner: r.j_lease_owner,
    lease_until: r.j_lease_until,
    attempts: r.j_attempts,
    result_hash: r.j_result_hash,
    created_at: r.j_created_at,
  });
  return {
    job,
    task: r.task_id === null ? undefined : toTaskRecord(r),
    input:
      r.i_job_id === null
        ? undefined
        : toInput({
            job_id: r.i_job_id,
            workload: r.i_workload,
            source: r.i_source,
            slice_n: r.i_slice_n,
            byte_offset: r.i_byte_offset,
            byte_length: r.i_byte_length,
            matrix_size: r.i_matrix_size,
            iterations: r.i_iterations,
          }),
    previous:
      r.l_job_id === null
        ? undefined
        : toAssignment({
            job_id: r.l_job_id,
            provider: r.l_provider,
            epoch: r.l_epoch,
            lease: r.l_lease,
            assignment_key: r.l_assignment_key,
            checked: r.l_checked,
            block_hash: r.l_block_hash,
          }),
    pair:
      r.j_twin_of !== null
        ? { primary: r.j_twin_of, twin: r.j_job_id }
        : r.j_twin !== null
          ? { primary: r.j_job_id, twin: r.j_twin }
          : undefined,
    probation: {
      checksPassed: r.p_checks_passed ?? 0,
      checksFailed: r.p_checks_failed ?? 0,
      cleanStreak: r.p_clean_streak ?? 0,
      bondFunded: r.p_bond ?? 0n,
    },
  };
}

type LeaseRow = TaskRow & {
  j_job_id: string;
  j_task_id: string;
  j_slice_index: number;
  j_lane: 'consumer' | 'industrial';
  j_gpu_required: boolean;
  j_offer: bigint;
  j_status: JobRecord['status'];
  j_lease_owner: string | null;
  j_lease_until: bigint | null;
  j_attempts: number;
  j_result_hash: string | null;
  j_created_at: bigint;
  j_twin_of: string | null;
  j_twin: string | null;
  i_job_id: string | null;
  i_workload: JobWorkload;
  i_source: JobInput['source'];
  i_slice_n: number | null;
  i_byte_offset: bigint;
  i_byte_length: bigint;
  i_matrix_size: number | null;
  i_iterations: number | null;
  l_job_id: string | null;
  l_provider: string;
  l_epoch: number;
  l_lease: JsonValue;
  l_assignment_key: string;
  l_checked: boolean;
  l_block_hash: string | null;
  p_checks_passed: number | null;
  p_checks_failed: number | null;
  p_clean_streak: number | null;
  p_bond: bigint | null;
};

export interface StoredResult {
  seq: bigint;
  jobId: string;
  taskId: string;
  workerAddress: string;
  /** `held`: one run of a pair, committed and awaiting the other run (docs/market-api.md, "Verification"). */
  verdict: 'accepted' | 'wrong' | 'held';
  resultHash: string;
  settledHash: string;
  result: JsonValue;
}

/** An industrial job waiting for admission. */
export interface AdmissionWait {
  jobId: string;
  taskId: string;
  admission: 'pending' | 'deferred';
  deferredAt: number | null;
  deferCode: string | null;
}

export interface BatchRecord {
  n: number;
  computeRoot: string;
  resultCount: number;
  transactions: JsonValue;
  sealedAt: number;
}

/** The validator's state: providers and bonds, job inputs and assignments, nonces, results, batches, receipts. */
interface InputRow {
  job_id: string;
  workload: JobWorkload;
  source: JobInput['source'];
  slice_n: number | null;
  byte_offset: bigint;
  byte_length: bigint;
  matrix_size: number | null;
  iterations: number | null;
  [k: string]: unknown;
}

const toInput = (r: InputRow): JobInput => ({
  jobId: r.job_id,
  workload: r.workload,
  source: r.source,
  sliceN: r.slice_n,
  byteOffset: Number(r.byte_offset),
  byteLength: Number(r.byte_length),
  matrixSize: r.matrix_size,
  iterations: r.iterations,
});

/** The columns of a left-joined `job_inputs` row (all null when the job has none). */
export type JoinedInputRow = {
  job_id: string;
  workload: JobInput['workload'] | null;
  source: JobInput['source'] | null;
  slice_n: number | null;
  byte_offset: bigint | null;
  byte_length: bigint | null;
  matrix_size: number | null;
  iterations: number | null;
};

/** A left-joined input as a JobInput, or null when the job has no input row. */
export function joinedInput(r: JoinedInputRow): JobInput | null {
  return r.workload !== null && r.source !== null
    ? {
        jobId: r.job_id,
        workload: r.workload,
        source: r.source,
        sliceN: r.slice_n,
        byteOffset: Number(r.byte_offset ?? 0n),
        byteLength: Number(r.byte_length ?? 0n),
        matrixSize: r.matrix_size,
        iterations: r.iterations,
      }
    : null;
}

interface AssignmentRow {
  job_id: string;
  provider: string;
  epoch: number;
  lease: JsonValue;
  assignment_key: string;
  checked: boolean;
  block_hash: string | null;
  [k: string]: unknown;
}

const toAssignment = (r: AssignmentRow): AssignmentRecord => ({
  jobId: r.job_id,
  provider: r.provider,
  epoch: r.epoch,
  lease: r.lease,
  assignmentKey: r.assignment_key,
  checked: r.checked,
  blockHash: r.block_hash,
});

export class ValidatorRepo {
  constructor(private readonly c: SqlConn) {}

  async setting(key: string): Promise<string | undefined> {
    const [r] = await this.c.query<{ value: string }>(sql`SELECT value FROM market_settings WHERE key = ${key}`);
    return r?.value;
  }

  /** Stores `value` unless the key has one; returns the value in force. */
  async settingOrInit(key: string, value: string): Promise<string> {
    await this.c.query(
      sql`INSERT INTO market_settings (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO NOTHING`,
    );
    return (await this.setting(key)) as string;
  }

  async provider(address: string): Promise<ProviderRecord | undefined> {
    const [r] = await this.c.query<{
      address: string;
      public_key: string;
      bond: bigint | null;
      reputation: number;
      wrong_results: number;
      refused: boolean;
    }>(sql`
      SELECT p.address, p.public_key, a.balance AS bond, p.reputation, p.wrong_results, p.refused
      FROM providers p LEFT JOIN accounts a ON a.account_id = 'bond:' || p.address WHERE p.address = ${address}`);
    return (
      r && {
        address: r.address,
        publicKey: r.public_key,
        bond: r.bond ?? 0n,
        reputation: r.reputation,
        wrongResults: r.wrong_results,
        refused: r.refused,
      }
    );
  }

  /** Registers a provider on first join with its starting reputation, no bond and no checks passed (a fresh key starts with no trust). */
  async ensureProvider(address: string, publicKey: string, reputation: number, now: number): Promise<ProviderRecord> {
    await this.c.query(sql`
      INSERT INTO providers (address, public_key, bond, reputation, created_at, updated_at)
      VALUES (${address}, ${publicKey}, 0, ${reputation}, ${now}, ${now}) ON CONFLICT (address) DO NOTHING`);
    return (await this.provider(address)) as ProviderRecord;
  }

  async penalties(address: string): Promise<{ jobId: string; reason: string; slashed: bigint }[]> {
    const rows = await this.c.query<{ job_id: string; reason: string; slashed: bigint }>(
      sql`SELECT job_id, reason, slashed FROM provider_penalties WHERE address = ${address} ORDER BY seq`,
    );
    return rows.map((r) => ({ jobId: r.job_id, reason: r.reason, slashed: r.slashed }));
  }

  /**
   * What a dispatch pass reads beside the tasks it splits (`TasksRepo.lockToSplit`, sent in the same
   * write), in one statement: whether any queued job waits for admission (those rows locked as
   * `admissionView` locks them), and the queue's shape (`queueShape`). A pass with nothing to split
   * and nothing waiting needs no other read; otherwise it splits and runs the admission pass, which
   * read again.
   */
  async passView(): Promise<{ waiting: boolean; shape: QueueGroup[] }> {
    const [r] = await this.c.query<{
      waiting: boolean;
      shape: { lane: 'consumer' | 'industrial'; gpu_required: boolean; n: number; max_offer: string }[] | null;
    }>(sql`
      WITH w AS (
        SELECT job_id FROM jobs WHERE status = 'queued' AND admission <> 'admitted'
        ORDER BY deferred_at NULLS LAST, created_at, slice_index, job_id LIMIT 1000 FOR UPDATE SKIP LOCKED),
      q AS (
        SELECT lane, gpu_required, count(*)::bigint AS n, max(offer) AS max_offer FROM jobs
        WHERE status = 'queued' AND admission = 'admitted' GROUP BY lane, gpu_required)
      SELECT
        EXISTS (SELECT 1 FROM w) AS waiting,
        (SELECT json_agg(json_build_object('lane', lane, 'gpu_required', gpu_required, 'n', n, 'max_offer', max_offer::text)) FROM q) AS shape`);
    return {
      waiting: r?.waiting ?? false,
      shape: (r?.shape ?? []).map((g) => ({
        lane: g.lane,
        gpuRequired: g.gpu_required,
        count: Number(g.n),
        maxOffer: BigInt(g.max_offer),
      })),
    };
  }

  async insertInputs(inputs: readonly JobInput[]): Promise<void> {
    if (inputs.length === 0) return;
    // One statement for all of them (a split pass inserts every input of every task it splits at once).
    const rows = JSON.stringify(
      inputs.map((i) => ({
        job_id: i.jobId,
        workload: i.workload,
        source: i.source,
        slice_n: i.sliceN,
        byte_offset: i.byteOffset,
        byte_length: i.byteLength,
        matrix_size: i.matrixSize,
        iterations: i.iterations,
      })),
    );
    await this.c.query(sql`
      INSERT INTO job_inputs (job_id, workload, source, slice_n, byte_offset, byte_length, matrix_size, iterations)
      SELECT x.job_id, x.workload, x.source, x.slice_n, x.byte_offset, x.byte_length, x.matrix_size, x.iterations
      FROM jsonb_to_recordset(${rows}::jsonb)
        AS x(job_id uuid, workload text, source text, slice_n integer, byte_offset bigint, byte_length bigint, matrix_size integer, iterations integer)`);
  }

  async input(jobId: string): Promise<JobInput | undefined> {
    const [r] = await this.c.query<InputRow>(sql`SELECT * FROM job_inputs WHERE job_id = ${jobId}`);
    return r && toInput(r);
  }

  /**
   * What is waiting to be leased, grouped by the fields capability fit looks at: per lane and
   * gpu_required, how many queued admitted jobs there are and the highest offer. One cheap
   * read that lets a dispatch pass skip providers nothing fits, and stop once the queue is empty.
   */
  async queueShape(): Promise<QueueGroup[]> {
    const rows = await this.c.query<{
      lane: 'consumer' | 'industrial';
      gpu_required: boolean;
      n: bigint;
      max_offer: bigint;
    }>(sql`
      SELECT lane, gpu_required, count(*)::bigint AS n, max(offer) AS max_offer FROM jobs
      WHERE status = 'queued' AND admission = 'admitted' GROUP BY lane, gpu_required`);
    return rows.map((r) => ({
      lane: r.lane,
      gpuRequired: r.gpu_required,
      count: Number(r.n),
      maxOffer: BigInt(r.max_offer),
    }));
  }

  /**
   * Leases the oldest queued, admitted job this provider may take — a lane it serves, an offer at
   * least its ask, a GPU job only for a hardware GPU, never the twin of a job it was given or holds
   * (the two runs of a pair go to two distinct providers) — and reads, in the same statement, what
   * the lease needs: the job's task, input, previous assignment and pair, and the provider's
   * probation (its checks and funded bond). One statement with FOR UPDATE SKIP LOCKED; undefined
   * when no job fits.
   *
   * The shape keeps the lease's cost independent of the queue's length: the queue is walked in the
   * order of the `jobs_dispatch` index and the walk stops at the first job that fits, so the pair
   * checks are per-row filters (the `twin_of IS NULL OR …` form and `OFFSET 0` keep the planner from
   * turning them into anti-joins over the whole queue), and the UPDATE joins the one locked row by
   * its key (a `job_id = (sub-select)` form let the planner walk the whole queue index instead).
   */
  async leaseNext(req: {
    owner: string;
    lanes: readonly string[];
    hardwareGpu: boolean;
    ask: bigint;
    now: number;
    leaseMs: number;
    /** Skip a job `owner` lost (a queued job's lease row names its last holder, the provider that lost it). */
    notLostByOwner?: boolean;
  }): Promise<LeaseContext | undefined> {
    const [r] = await this.c.query<LeaseRow>(sql`
      WITH c AS (
          SELECT q.job_id FROM jobs q
          WHERE q.status = 'queued' AND q.admission = 'admitted' AND q.lane = ANY(${`{${req.lanes.join(',')}}`}::text[]) AND q.offer >= ${req.ask} ${req.hardwareGpu ? sql`` : sql`AND NOT q.gpu_required`}
            AND (q.twin_of IS NULL OR NOT EXISTS (SELECT 1 FROM jobs s WHERE s.job_id = q.twin_of
              AND (s.lease_owner = ${req.owner} OR EXISTS (SELECT 1 FROM job_leases l WHERE l.job_id = s.job_id AND l.provider = ${req.owner}))))
            AND NOT EXISTS (SELECT 1 FROM jobs s WHERE s.twin_of = q.job_id
              AND (s.lease_owner = ${req.owner} OR EXISTS (SELECT 1 FROM job_leases l WHERE l.job_id = s.job_id AND l.provider = ${req.owner})) OFFSET 0)
            ${req.notLostByOwner ? sql`AND NOT EXISTS (SELECT 1 FROM job_leases p WHERE p.job_id = q.job_id AND p.provider = ${req.owner} OFFSET 0)` : sql``}
          ORDER BY q.created_at, q.slice_index, q.job_id LIMIT 1 FOR UPDATE OF q SKIP LOCKED),
      j AS (
        UPDATE jobs SET status = 'leased', lease_owner = ${req.owner}, lease_until = ${req.now + req.leaseMs}, attempts = attempts + 1, updated_at = ${req.now}
        FROM c WHERE jobs.job_id = c.job_id AND jobs.status = 'queued'
        RETURNING jobs.*, 0 AS ord)
      ${LEASE_CONTEXT}`);
    return r && toLeaseContext(r);
  }

  /**
   * The first `limit` queued, admitted jobs in dispatch order that any of a pass's providers could
   * take (a lane one of them serves, an offer at least the lowest ask, a GPU job only when one has
   * a hardware GPU), locked FOR UPDATE SKIP LOCKED for this transaction, with what the per-provider
   * rules look at: who last held each job (its lease row names the provider that lost it) and who
   * holds or held the other run of its pair. The dispatcher matches them to its providers and
   * leases the matches with `leaseMany`: two statements for a pass's leases instead of one per job.
   */
  async leaseCandidates(req: {
    lanes: readonly string[];
    hardwareGpu: boolean;
    minAsk: bigint;
    limit: number;
  }): Promise<LeaseCandidate[]> {
    const rows = await this.c.query<{
      job_id: string;
      lane: 'consumer' | 'industrial';
      gpu_required: boolean;
      offer: bigint;
      twin_of: string | null;
      lost_by: string | null;
      primary_holders: (string | null)[] | null;
      twin_holders: (string | null)[] | null;
    }>(sql`
      SELECT q.job_id, q.lane, q.gpu_required, q.offer, q.twin_of,
        (SELECT l.provider FROM job_leases l WHERE l.job_id = q.job_id) AS lost_by,
        CASE WHEN q.twin_of IS NULL THEN NULL ELSE
          (SELECT ARRAY[s.lease_owner, l.provider] FROM jobs s LEFT JOIN job_leases l ON l.job_id = s.job_id WHERE s.job_id = q.twin_of) END AS primary_holders,
        (SELECT ARRAY[s.lease_owner, l.provider] FROM jobs s LEFT JOIN job_leases l ON l.job_id = s.job_id WHERE s.twin_of = q.job_id LIMIT 1) AS twin_holders
      FROM jobs q
      WHERE q.status = 'queued' AND q.admission = 'admitted' AND q.lane = ANY(${pgArray(req.lanes)}::text[]) AND q.offer >= ${req.minAsk} ${req.hardwareGpu ? sql`` : sql`AND NOT q.gpu_required`}
      ORDER BY q.created_at, q.slice_index, q.job_id LIMIT ${req.limit} FOR UPDATE OF q SKIP LOCKED`);
    return rows.map((r) => ({
      jobId: r.job_id,
      lane: r.lane,
      gpuRequired: r.gpu_required,
      offer: BigInt(r.offer),
      pairKey: r.twin_of ?? r.job_id,
      lostBy: r.lost_by,
      pairHolders: [...(r.primary_holders ?? []), ...(r.twin_holders ?? [])].filter((p): p is string => p !== null),
    }));
  }

  /**
   * Leases these jobs (each locked by `leaseCandidates` in this transaction) to the providers
   * named, and reads what each lease needs, as `leaseNext` does: one statement for all of them.
   * A job no longer queued is left out of the answer; the rest come in the order given.
   */
  async leaseMany(
    leases: readonly { jobId: string; owner: string }[],
    now: number,
    leaseMs: number,
  ): Promise<LeaseContext[]> {
    if (leases.length === 0) return [];
    const rows = await this.c.query<LeaseRow>(sql`
      WITH j AS (
        UPDATE jobs SET status = 'leased', lease_owner = x.owner, lease_until = ${now + leaseMs}, attempts = attempts + 1, updated_at = ${now}
        FROM ${recordset(
          leases.map((l, ord) => ({ ord, job_id: l.jobId, owner: l.owner })),
          sql`x(ord integer, job_id uuid, owner text)`,
        )} AS x
        WHERE jobs.job_id = x.job_id AND jobs.status = 'queued'
        RETURNING jobs.*, x.ord)
      ${LEASE_CONTEXT} ORDER BY j.ord`);
    return rows.map(toLeaseContext);
  }

  /** leaseNext's job alone (the lease without what it needs; tests and the store bench). */
  async leaseFor(req: Parameters<ValidatorRepo['leaseNext']>[0]): Promise<JobRecord | undefined> {
    return (await this.leaseNext(req))?.job;
  }

  /**
   * Hands a leased job straight to `owner` (a standby taking over a lost lease): a new result
   * deadline, one more attempt. Refused (false) when the job is no longer leased, or when `owner`
   * holds the other run of the job's pair (the two runs of a pair stay with distinct providers).
   */
  async handOver(jobId: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
    const rows = await this.c.query(sql`
      UPDATE jobs q SET lease_owner = ${owner}, lease_until = ${now + leaseMs}, attempts = attempts + 1, updated_at = ${now}
      WHERE q.job_id = ${jobId} AND q.status = 'leased'
        AND NOT EXISTS (SELECT 1 FROM jobs s JOIN job_leases l ON l.job_id = s.job_id WHERE (s.job_id = q.twin_of OR s.twin_of = q.job_id) AND l.provider = ${owner})
      RETURNING q.job_id`);
    return rows.length === 1;
  }

  /** Adds a second run of `primary` (same task, slice, lane, offer and input) under its own id; a distinct provider runs it. */
  async insertTwin(primary: string, twin: string, now: number): Promise<void> {
    await this.c.query(sql`
      INSERT INTO jobs (job_id, task_id, slice_index, lane, gpu_required, offer, status, admission, twin_of, created_at, updated_at)
      SELECT ${twin}, task_id, slice_index, lane, gpu_required, offer, 'queued', admission, job_id, created_at, ${now} FROM jobs WHERE job_id = ${primary}`);
    await this.c.query(sql`
      INSERT INTO job_inputs (job_id, workload, source, slice_n, byte_offset, byte_length, matrix_size, iterations)
      SELECT ${twin}, workload, source, slice_n, byte_offset, byte_length, matrix_size, iterations FROM job_inputs WHERE job_id = ${primary}`);
  }

  /** The pair a job belongs to (it is the primary or its twin), or undefined for a job run once. */
  async pairOf(jobId: string): Promise<{ primary: string; twin: string } | undefined> {
    const [r] = await this.c.query<{ job_id: string; twin_of: string }>(
      sql`SELECT job_id, twin_of FROM jobs WHERE twin_of IS NOT NULL AND (job_id = ${jobId} OR twin_of = ${jobId})`,
    );
    return r && { primary: r.twin_of, twin: r.job_id };
  }

  /** The held result (awaiting its pair's verdict) a job was settled on, if any. */
  async heldResult(jobId: string): Promise<StoredResult | undefined> {
    const [r] = await this.c.query<{
      seq: bigint;
      job_id: string;
      task_id: string;
      worker_address: string;
      verdict: StoredResult['verdict'];
      result_hash: string;
      settled_hash: string;
      result: JsonValue;
    }>(sql`
      SELECT r.seq, r.job_id, r.task_id, r.worker_address, r.verdict, r.result_hash, r.settled_hash, r.result FROM job_results r JOIN jobs j ON j.job_id = r.job_id
      WHERE r.job_id = ${jobId} AND r.verdict = 'held' AND j.status = 'done' ORDER BY r.seq DESC LIMIT 1`);
    return (
      r && {
        seq: r.seq,
        jobId: r.job_id,
        taskId: r.task_id,
        workerAddress: r.worker_address,
        verdict: r.verdict,
        resultHash: r.result_hash,
        settledHash: r.settled_hash,
        result: r.result,
      }
    );
  }

  /** Gives a held result its verdict; `settledHash` becomes the job's result. */
  async settleHeld(
    seq: bigint,
    jobId: string,
    verdict: 'accepted' | 'wrong',
    settledHash: string,
    now: number,
  ): Promise<void> {
    await this.c.query(
      sql`UPDATE job_results SET verdict = ${verdict}, settled_hash = ${settledHash} WHERE seq = ${seq} AND verdict = 'held'`,
    );
    await this.c.query(sql`UPDATE jobs SET result_hash = ${settledHash}, updated_at = ${now} WHERE job_id = ${jobId}`);
  }

  /** Pairs (by primary job id) of tasks in progress with a run still held for the pair's verdict, oldest first. */
  async heldPairs(limit: number): Promise<string[]> {
    const rows = await this.c.query<{ primary_id: string }>(sql`
      SELECT COALESCE(j.twin_of, j.job_id) AS primary_id FROM job_results r JOIN jobs j ON j.job_id = r.job_id JOIN tasks t ON t.task_id = r.task_id
      WHERE r.verdict = 'held' AND t.status = 'in_progress' GROUP BY 1 ORDER BY min(r.seq) LIMIT ${limit}`);
    return rows.map((r) => r.primary_id);
  }

  /** New industrial jobs of these tasks wait for admission (consumer jobs are admitted as they are inserted). */
  async holdForAdmission(taskIds: string | readonly string[]): Promise<void> {
    const ids = typeof taskIds === 'string' ? [taskIds] : taskIds;
    if (ids.length === 0) return;
    await this.c.query(
      sql`UPDATE jobs SET admission = 'pending' WHERE task_id = ANY(${`{${ids.join(',')}}`}::uuid[]) AND lane = 'industrial' AND status = 'queued'`,
    );
  }

  /**
   * What the admission pass reads: the queued consumer jobs (offer, queued since), the industrial
   * jobs waiting for admission in line order (deferred first, in the order they were deferred,
   * then new ones by age; locked, skipping rows another instance holds), and the industrial jobs
   * admitted and not finished (each holds one shard).
   */
  async admissionView(
    limit: number,
  ): Promise<{ consumer: { offer: bigint; createdAt: number }[]; waiting: AdmissionWait[]; reserved: number }> {
    const waiting = await this.c.query<{
      job_id: string;
      task_id: string;
      admission: 'pending' | 'deferred';
      deferred_at: bigint | null;
      defer_code: string | null;
    }>(sql`
      SELECT job_id, task_id, admission, deferred_at, defer_code FROM jobs WHERE status = 'queued' AND admission <> 'admitted'
      ORDER BY deferred_at NULLS LAST, created_at, slice_index, job_id LIMIT ${limit} FOR UPDATE SKIP LOCKED`);
    // Nothing waits: the guard and the capacity decide nothing, so the queue is not read.
    if (waiting.length === 0) return { consumer: [], waiting: [], reserved: 0 };
    const consumer = await this.c.query<{ offer: bigint; created_at: bigint }>(sql`
      SELECT offer, created_at FROM jobs WHERE status = 'queued' AND lane = 'consumer' ORDER BY created_at, job_id LIMIT 10000`);
    const [r] = await this.c.query<{ n: bigint }>(
      sql`SELECT count(*)::bigint AS n FROM jobs WHERE lane = 'industrial' AND admission = 'admitted' AND status IN ('queued', 'leased')`,
    );
    return {
      consumer: consumer.map((c) => ({ offer: c.offer, createdAt: Number(c.created_at) })),
      waiting: waiting.map((w) => ({
        jobId: w.job_id,
        taskId: w.task_id,
        admission: w.admission,
        deferredAt: w.deferred_at === null ? null : Number(w.deferred_at),
        deferCode: w.defer_code,
      })),
      reserved: Number(r?.n ?? 0n),
    };
  }

  /** Admits a waiting job: it may be leased from now on. */
  async admit(jobId: string, now: number): Promise<void> {
    await this.c.query(
      sql`UPDATE jobs SET admission = 'admitted', updated_at = ${now} WHERE job_id = ${jobId} AND admission <> 'admitted'`,
    );
  }

  /** Defers a waiting job with a stable code; the deferral time is the first one (the hold is measured from it). */
  async defer(jobId: string, code: string, reason: string, now: number): Promise<void> {
    await this.c.query(sql`
      UPDATE jobs SET admission = 'deferred', deferred_at = COALESCE(deferred_at, ${now}), defer_code = ${code}, defer_reason = ${reason}, updated_at = ${now}
      WHERE job_id = ${jobId} AND admission <> 'admitted'`);
  }

  /** A job's admission state (for status pages and tests). */
  async admissionState(jobId: string): Promise<
    | {
        admission: 'pending' | 'admitted' | 'deferred';
        deferredAt: number | null;
        deferCode: string | null;
        deferReason: string | null;
      }
    | undefined
  > {
    const [r] = await this.c.query<{
      admission: 'pending' | 'admitted' | 'deferred';
      deferred_at: bigint | null;
      defer_code: string | null;
      defer_reason: string | null;
    }>(sql`SELECT admission, deferred_at, defer_code, defer_reason FROM jobs WHERE job_id = ${jobId}`);
    return (
      r && {
        admission: r.admission,
        deferredAt: r.deferred_at === null ? null : Number(r.deferred_at),
        deferCode: r.defer_code,
        deferReason: r.defer_reason,
      }
    );
  }

  async job(jobId: string, forUpdate = false): Promise<JobRecord | undefined> {
    const [r] = await this.c.query<JobRow>(
      sql`SELECT * FROM jobs WHERE job_id = ${jobId} ${forUpdate ? sql`FOR UPDATE` : sql``}`,
    );
    return r && toJobRecord(r);
  }

  /** Puts a leased job back in the queue (its lease was lost); false when it was not leased. */
  async requeue(jobId: string, now: number): Promise<boolean> {
    const rows = await this.c.query(
      sql`UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ${now} WHERE job_id = ${jobId} AND status = 'leased' RETURNING job_id`,
    );
    return rows.length === 1;
  }

  async failJob(jobId: string, reason: string, now: number): Promise<void> {
    await this.c.query(
      sql`UPDATE jobs SET status = 'failed', failure_reason = ${reason}, lease_owner = NULL, lease_until = NULL, updated_at = ${now} WHERE job_id = ${jobId} AND status IN ('queued', 'leased')`,
    );
  }

  async putAssignment(a: AssignmentRecord, now: number): Promise<void> {
    await this.c.query(sql`
      INSERT INTO job_leases (job_id, provider, epoch, lease, assignment_key, checked, block_hash, updated_at)
      VALUES (${a.jobId}, ${a.provider}, ${a.epoch}, ${JSON.stringify(a.lease)}::jsonb, ${a.assignmentKey}, ${a.checked}, ${a.blockHash}, ${now})
      ON CONFLICT (job_id) DO UPDATE SET provider = EXCLUDED.provider, epoch = EXCLUDED.epoch, lease = EXCLUDED.lease,
        assignment_key = EXCLUDED.assignment_key, checked = EXCLUDED.checked, block_hash = EXCLUDED.block_hash, updated_at = EXCLUDED.updated_at`);
  }

  /** Records many assignments (a dispatch transaction's leases) in one statement; putAssignment's upsert for each. */
  async putAssignments(rows: readonly AssignmentRecord[], now: number): Promise<void> {
    const q = assignmentsStatement(rows, now);
    if (q) await this.c.query(q);
  }

  async updateLease(jobId: string, lease: JsonValue, now: number): Promise<void> {
    await this.c.query(
      sql`UPDATE job_leases SET lease = ${JSON.stringify(lease)}::jsonb, updated_at = ${now} WHERE job_id = ${jobId}`,
    );
  }

  /** Writes many leases' states in one statement. */
  async updateLeases(rows: readonly { jobId: string; lease: JsonValue }[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await this.c.query(sql`
      UPDATE job_leases l SET lease = x.lease, updated_at = ${now}
      FROM ${recordset(
        rows.map((r) => ({ job_id: r.jobId, lease: r.lease })),
        sql`x(job_id uuid, lease jsonb)`,
      )} AS x
      WHERE l.job_id = x.job_id`);
  }

  async assignment(jobId: string): Promise<AssignmentRecord | undefined> {
    const [r] = await this.c.query<AssignmentRow>(sql`SELECT * FROM job_leases WHERE job_id = ${jobId}`);
    return r && toAssignment(r);
  }

  /** Assignments of jobs that are leased now (all of them, or one provider's), with each job's result deadline. */
  /** The live leases (locked, skipping ones another transaction holds): all, one provider's, or several providers'. */
  async activeAssignments(
    provider?: string | readonly string[],
  ): Promise<(AssignmentRecord & { leaseUntil: number | null })[]> {
    if (Array.isArray(provider) && provider.length === 0) return [];
    const which =
      provider === undefined
        ? sql``
        : typeof provider === 'string'
          ? sql`AND l.provider = ${provider}`
          : sql`AND l.provider = ANY(${pgArray(provider)}::text[])`;
    const rows = await this.c.query<{
      job_id: string;
      provider: string;
      epoch: number;
      lease: JsonValue;
      assignment_key: string;
      checked: boolean;
      block_hash: string | null;
      lease_until: bigint | null;
    }>(sql`
      SELECT l.*, j.lease_until FROM job_leases l JOIN jobs j ON j.job_id = l.job_id
      WHERE j.status = 'leased' AND j.lease_owner = l.provider ${which}
      ORDER BY l.job_id FOR UPDATE OF l SKIP LOCKED`);
    return rows.map((r) => ({
      jobId: r.job_id,
      provider: r.provider,
      epoch: r.epoch,
      lease: r.lease,
      assignmentKey: r.assignment_key,
      checked: r.checked,
      blockHash: r.block_hash,
      leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
    }));
  }

  /**
   * The jobs leased to `provider` now, read without locking: a welcome must name every one, also
   * a lease another transaction (another instance's sweep, a heartbeat) holds at that moment —
   * skipping it would leave the provider's finished result unsent.
   */
  async leasedTo(provider: string): Promise<{ jobId: string; epoch: number }[]> {
    const rows = await this.c.query<{ job_id: string; epoch: number }>(sql`
      SELECT l.job_id, l.epoch FROM job_leases l JOIN jobs j ON j.job_id = l.job_id
      WHERE j.status = 'leased' AND j.lease_owner = l.provider AND l.provider = ${provider}
      ORDER BY l.job_id`);
    return rows.map((r) => ({ jobId: r.job_id, epoch: r.epoch }));
  }

  /** Records a (worker, nonce) pair; false when it was seen before (a replay). */
  async claimNonce(worker: string, nonce: bigint, now: number): Promise<boolean> {
    const rows = await this.c.query(
      sql`INSERT INTO result_nonces (worker_address, nonce, seen_at) VALUES (${worker}, ${nonce.toString()}::numeric, ${now}) ON CONFLICT DO NOTHING RETURNING worker_address`,
    );
    return rows.length === 1;
  }

  async nonceSeen(worker: string, nonce: bigint): Promise<boolean> {
    const rows = await this.c.query(
      sql`SELECT 1 FROM result_nonces WHERE worker_address = ${worker} AND nonce = ${nonce.toString()}::numeric`,
    );
    return rows.length > 0;
  }

  async insertResult(
    r: {
      jobId: string;
      taskId: string;
      workerAddress: string;
      epoch: number;
      verdict: StoredResult['verdict'];
      resultHash: string;
      settledHash: string;
      checked: boolean;
      result: JsonValue;
    },
    now: number,
  ): Promise<void> {
    await this.c.query(sql`
      INSERT INTO job_results (job_id, task_id, worker_address, epoch, verdict, result_hash, settled_hash, checked, result, received_at)
      VALUES (${r.jobId}, ${r.taskId}, ${r.workerAddress}, ${r.epoch}, ${r.verdict}, ${r.resultHash}, ${r.settledHash}, ${r.checked}, ${JSON.stringify(r.result)}::jsonb, ${now})`);
  }

  /** The result each done job of a task was settled on, in slice order (a slice's twin run after it). */
  async taskResults(taskId: string): Promise<
    {
      jobId: string;
      sliceIndex: number;
      twin: boolean;
      offer: bigint;
      workerAddress: string;
      verdict: StoredResult['verdict'];
      settledHash: string;
    }[]
  > {
    const rows = await this.c.query<{
      job_id: string;
      slice_index: number;
      twin: boolean;
      offer: bigint;
      worker_address: string;
      verdict: StoredResult['verdict'];
      settled_hash: string;
    }>(sql`
      SELECT * FROM (
        SELECT DISTINCT ON (j.job_id) j.job_id, j.slice_index, j.twin_of IS NOT NULL AS twin, j.offer, r.worker_address, r.verdict, r.settled_hash
        FROM jobs j JOIN job_results r ON r.job_id = j.job_id AND r.settled_hash = j.result_hash
        WHERE j.task_id = ${taskId} AND j.status = 'done'
        ORDER BY j.job_id, r.seq DESC) d
      ORDER BY slice_index, twin`);
    return rows.map((r) => ({
      jobId: r.job_id,
      sliceIndex: r.slice_index,
      twin: r.twin,
      offer: r.offer,
      workerAddress: r.worker_address,
      verdict: r.verdict,
      settledHash: r.settled_hash,
    }));
  }

  /** Jobs of a task not done yet, plus results still held for their pair's verdict. */
  async openJobCount(taskId: string): Promise<number> {
    const [r] = await this.c.query<{ n: bigint }>(sql`
      SELECT (SELECT count(*) FROM jobs WHERE task_id = ${taskId} AND status <> 'done') + (SELECT count(*) FROM job_results WHERE task_id = ${taskId} AND verdict = 'held') AS n`);
    return Number(r?.n ?? 0n);
  }

  async results(jobId: string): Promise<StoredResult[]> {
    const rows = await this.c.query<{
      seq: bigint;
      job_id: string;
      task_id: string;
      worker_address: string;
      verdict: StoredResult['verdict'];
      result_hash: string;
      settled_hash: string;
      result: JsonValue;
    }>(
      sql`SELECT seq, job_id, task_id, worker_address, verdict, result_hash, settled_hash, result FROM job_results WHERE job_id = ${jobId} ORDER BY seq`,
    );
    return rows.map((r) => ({
      seq: r.seq,
      jobId: r.job_id,
      taskId: r.task_id,
      workerAddress: r.worker_address,
      verdict: r.verdict,
      resultHash: r.result_hash,
      settledHash: r.settled_hash,
      result: r.result,
    }));
  }

  async insertReceipt(
    r: { key: string; jobId: string; taskId: string; provider: string; receipt: JsonValue },
    now: number,
  ): Promise<boolean> {
    const rows = await this.c.query(sql`
      INSERT INTO market_receipts (idempotency_key, job_id, task_id, provider, receipt, created_at)
      VALUES (${r.key}, ${r.jobId}, ${r.taskId}, ${r.provider}, ${JSON.stringify(r.receipt)}::jsonb, ${now}) ON CONFLICT DO NOTHING RETURNING idempotency_key`);
    return rows.length === 1;
  }

  async receipts(
    provider: string,
    undeliveredOnly: boolean,
  ): Promise<{ key: string; taskId: string; receipt: JsonValue }[]> {
    const rows = await this.c.query<{ idempotency_key: string; task_id: string; receipt: JsonValue }>(sql`
      SELECT idempotency_key, task_id, receipt FROM market_receipts WHERE provider = ${provider} ${undeliveredOnly ? sql`AND delivered_at IS NULL` : sql``} ORDER BY created_at, idempotency_key`);
    return rows.map((r) => ({ key: r.idempotency_key, taskId: r.task_id, receipt: r.receipt }));
  }

  /**
   * Receipts not yet acknowledged for any of `providers`, oldest first, at most `limit`, leaving out
   * the keys in `except` (sent already and awaiting their ack): one statement for every provider
   * connected to an instance, on the partial index of unacknowledged receipts.
   */
  async undeliveredFor(
    providers: readonly string[],
    except: readonly string[],
    limit: number,
  ): Promise<{ key: string; provider: string; taskId: string; receipt: JsonValue }[]> {
    if (providers.length === 0) return [];
    const rows = await this.c.query<{
      idempotency_key: string;
      provider: string;
      task_id: string;
      receipt: JsonValue;
    }>(sql`
      SELECT idempotency_key, provider, task_id, receipt FROM market_receipts
      WHERE delivered_at IS NULL
        AND provider = ANY(${pgArray(providers)}::text[])
        AND idempotency_key <> ALL(${pgArray(except)}::text[])
      ORDER BY created_at, idempotency_key LIMIT ${limit}`);
    return rows.map((r) => ({ key: r.idempotency_key, provider: r.provider, taskId: r.task_id, receipt: r.receipt }));
  }

  /** Marks many providers' receipts delivered in one statement; returns how many were newly marked. */
  async markDeliveredMany(acks: readonly { provider: string; key: string }[], now: number): Promise<number> {
    if (acks.length === 0) return 0;
    const rows = await this.c.query(sql`
      UPDATE market_receipts m SET delivered_at = ${now}
      FROM ${recordset(
        acks.map((a) => ({ key: a.key, provider: a.provider })),
        sql`x(key text, provider text)`,
      )} AS x
      WHERE m.idempotency_key = x.key AND m.provider = x.provider AND m.delivered_at IS NULL
      RETURNING m.idempotency_key`);
    return rows.length;
  }

  /** Accepted results not yet in a batch, oldest first, locked for sealing. */
  async unbatched(limit: number): Promise<{ seq: bigint; result: JsonValue }[]> {
    const rows = await this.c.query<{ seq: bigint; result: JsonValue }>(sql`
      SELECT seq, result FROM job_results WHERE batch_n IS NULL AND verdict = 'accepted' ORDER BY seq LIMIT ${limit} FOR UPDATE SKIP LOCKED`);
    return rows;
  }

  async sealBatch(b: BatchRecord, seqs: readonly bigint[]): Promise<void> {
    await this.c.query(
      sql`INSERT INTO batches (n, compute_root, result_count, transactions, sealed_at) VALUES (${b.n}, ${b.computeRoot}, ${b.resultCount}, ${JSON.stringify(b.transactions)}::jsonb, ${b.sealedAt})`,
    );
    await this.c.query(
      sql`UPDATE job_results SET batch_n = ${b.n} WHERE seq = ANY(${`{${seqs.join(',')}}`}::bigint[])`,
    );
  }

  async latestBatch(): Promise<BatchRecord | undefined> {
    const [r] = await this.c.query<{
      n: number;
      compute_root: string;
      result_count: number;
      transactions: JsonValue;
      sealed_at: bigint;
    }>(sql`SELECT * FROM batches ORDER BY n DESC LIMIT 1`);
    return (
      r && {
        n: r.n,
        computeRoot: r.compute_root,
        resultCount: r.result_count,
        transactions: r.transactions,
        sealedAt: Number(r.sealed_at),
      }
    );
  }

  async batch(n: number): Promise<BatchRecord | undefined> {
    const [r] = await this.c.query<{
      n: number;
      compute_root: string;
      result_count: number;
      transactions: JsonValue;
      sealed_at: bigint;
    }>(sql`SELECT * FROM batches WHERE n = ${n}`);
    return (
      r && {
        n: r.n,
        computeRoot: r.compute_root,
        resultCount: r.result_count,
        transactions: r.transactions,
        sealedAt: Number(r.sealed_at),
      }
    );
  }

  /** Offers of queued jobs per lane, for the prices frame. */
  async queuedOffers(): Promise<{ lane: 'consumer' | 'industrial'; offer: bigint }[]> {
    return this.c.query<{ lane: 'consumer' | 'industrial'; offer: bigint }>(
      sql`SELECT lane, offer FROM jobs WHERE status = 'queued' ORDER BY lane, offer LIMIT 5000`,
    );
  }
}

/**
 * putAssignments' statement (undefined for no rows), for a transaction to send with its COMMIT
 * (MarketTx.atCommit): an upsert whose answer nothing checks.
 */
export function assignmentsStatement(rows: readonly AssignmentRecord[], now: number): PgQuery | undefined {
  if (rows.length === 0) return undefined;
  const json = JSON.stringify(
    rows.map((a) => ({
      job_id: a.jobId,
      provider: a.provider,
      epoch: a.epoch,
      lease: a.lease,
      assignment_key: a.assignmentKey,
      checked: a.checked,
      block_hash: a.blockHash,
    })),
  );
  return sql`
    INSERT INTO job_leases (job_id, provider, epoch, lease, assignment_key, checked, block_hash, updated_at)
    SELECT x.job_id, x.provider, x.epoch, x.lease, x.assignment_key, x.checked, x.block_hash, ${now}::bigint
    FROM jsonb_to_recordset(${json}::jsonb)
      AS x(job_id uuid, provider text, epoch integer, lease jsonb, assignment_key text, checked boolean, block_hash text)
    ON CONFLICT (job_id) DO UPDATE SET provider = EXCLUDED.provider, epoch = EXCLUDED.epoch, lease = EXCLUDED.lease,
      assignment_key = EXCLUDED.assignment_key, checked = EXCLUDED.checked, block_hash = EXCLUDED.block_hash, updated_at = EXCLUDED.updated_at`;
}
