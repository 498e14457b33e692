import type { Database } from '../database.js';
import { sql, type SqlQuery } from '../sql.js';

export type ProviderJobStatus = 'running' | 'submitted' | 'accepted' | 'rejected' | 'lost';

/** One job the provider ran (migration 6). */
export interface ProviderJob {
  marketId: string;
  taskId: string;
  jobId: string;
  epoch: number;
  workload: string;
  bytes: number;
  resultHash: string | null;
  proof: string | null;
  backend: string | null;
  durationMs: number | null;
  status: ProviderJobStatus;
  code: string | null;
  /** The signed ComputeResult JSON, kept until the market answers (resent after a reconnect). */
  result: string | null;
  /** micro-CPC the market paid for it (from its receipt). */
  credits: bigint;
  /** micro-CPC the market offered for it (null for jobs recorded before offers were kept). */
  offer: bigint | null;
  /** The receipt that paid it (null: not paid yet), and whether the ledger applied that receipt. */
  receiptKey: string | null;
  settled: boolean;
  startedAt: number;
  finishedAt: number | null;
}

type Row = {
  market_id: string;
  task_id: string;
  job_id: string;
  epoch: number | bigint;
  workload: string;
  bytes: number | bigint;
  result_hash: string | null;
  proof: string | null;
  backend: string | null;
  duration_ms: number | null;
  status: ProviderJobStatus;
  code: string | null;
  result: string | null;
  credits: number | bigint;
  offer: number | bigint | null;
  receipt_key: string | null;
  /** provider_earnings.settlement of the receipt (joined in by SELECT_JOBS). */
  receipt_settlement: string | null;
  started_at: number | bigint;
  finished_at: number | bigint | null;
};

/** Job rows with the settlement of the receipt that paid each (null: not paid). */
const SELECT_JOBS = sql`SELECT j.*, e.settlement AS receipt_settlement FROM provider_jobs j LEFT JOIN provider_earnings e ON e.receipt_key = j.receipt_key`;

const toJob = (r: Row): ProviderJob => ({
  marketId: r.market_id,
  taskId: r.task_id,
  jobId: r.job_id,
  epoch: Number(r.epoch),
  workload: r.workload,
  bytes: Number(r.bytes),
  resultHash: r.result_hash,
  proof: r.proof,
  backend: r.backend,
  durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  status: r.status,
  code: r.code,
  result: r.result,
  credits: BigInt(r.credits),
  offer: r.offer === null || r.offer === undefined ? null : BigInt(r.offer),
  receiptKey: r.receipt_key,
  settled: r.receipt_settlement === 'applied',
  startedAt: Number(r.started_at),
  finishedAt: r.finished_at === null ? null : Number(r.finished_at),
});

/** A day of earnings: what the market paid for verified jobs, and how much of it the local ledger settled. */
export interface EarningsDay {
  /** UTC date, YYYY-MM-DD. */
  day: string;
  /** Receipts (paid jobs) that day. */
  jobs: number;
  paid: bigint;
  settled: bigint;
  /** Receipts of that day the ledger applied (`jobs − settledJobs` are recorded only: dry-run). */
  settledJobs: number;
}

/** The outcomes of the jobs started on one UTC day. */
export interface JobOutcomesDay {
  /** UTC date, YYYY-MM-DD. */
  day: string;
  /** Results sent to the market (submitted, accepted or rejected). */
  submitted: number;
  verified: number;
  rejected: number;
  lost: number;
}

/** Which jobs of the history a page holds (all of them when empty). */
export interface JobsFilter {
  status?: ProviderJobStatus;
  workload?: string;
  /** Started at or after this time (ms). */
  since?: number;
  marketId?: string;
}

/** One page of the history, newest first. */
export interface JobsPageRows {
  jobs: ProviderJob[];
  /** The sequence number to pass as `before` for the next page; null on the last page. */
  next: bigint | null;
  /** Jobs matching the filter, over all pages. */
  total: number;
}

/** The provider's job history and earnings (receipts from the market). */
export class ProviderJobsRepo {
  constructor(private readonly db: Database) {}

  start(
    j: Pick<ProviderJob, 'marketId' | 'taskId' | 'jobId' | 'epoch' | 'workload' | 'bytes' | 'startedAt'> & {
      offer?: bigint;
    },
  ): void {
    this.db.run(sql`
      INSERT INTO provider_jobs (market_id, task_id, job_id, epoch, workload, bytes, status, started_at, offer)
      VALUES (${j.marketId}, ${j.taskId}, ${j.jobId}, ${j.epoch}, ${j.workload}, ${j.bytes}, 'running', ${j.startedAt}, ${j.offer ?? null})
      ON CONFLICT (market_id, job_id, epoch) DO NOTHING`);
  }

  finished(
    marketId: string,
    jobId: string,
    epoch: number,
    f: {
      resultHash: string;
      proof: string;
      backend: string;
      durationMs: number;
      result: string;
      bytes: number;
      at: number;
    },
  ): void {
    this.db.run(sql`
      UPDATE provider_jobs SET status = 'submitted', result_hash = ${f.resultHash}, proof = ${f.proof}, backend = ${f.backend}, duration_ms = ${f.durationMs},
        result = ${f.result}, bytes = ${f.bytes}, finished_at = ${f.at}
      WHERE market_id = ${marketId} AND job_id = ${jobId} AND epoch = ${epoch}`);
  }

  /** The market's answer to the result of one assignment (epoch) of a job; other assignments keep their status. */
  answered(marketId: string, jobId: string, epoch: number, accepted: boolean, code: string | null, at: number): void {
    this.db.run(sql`
      UPDATE provider_jobs SET status = ${accepted ? 'accepted' : 'rejected'}, code = ${code}, finished_at = COALESCE(finished_at, ${at})
      WHERE market_id = ${marketId} AND job_id = ${jobId} AND epoch = ${epoch} AND status IN ('submitted', 'running')`);
  }

  /** Marks a job's open assignments lost: all of them, or only the one of `epoch`. */
  lost(marketId: string, jobId: string, code: string, at: number, epoch?: number): void {
    this.db.run(sql`
      UPDATE provider_jobs SET status = 'lost', code = ${code}, finished_at = COALESCE(finished_at, ${at})
      WHERE market_id = ${marketId} AND job_id = ${jobId} AND status IN ('running', 'submitted') AND (${epoch ?? null} IS NULL OR epoch = ${epoch ?? null})`);
  }

  /** Jobs whose result the market has not answered yet (running or submitted). */
  open(marketId: string): ProviderJob[] {
    return this.db
      .all<Row>(
        sql`${SELECT_JOBS} WHERE j.market_id = ${marketId} AND j.status IN ('running', 'submitted') ORDER BY j.seq`,
      )
      .map(toJob);
  }

  /** The newest `limit` jobs, newest first. */
  recent(limit: number): ProviderJob[] {
    return this.db.all<Row>(sql`${SELECT_JOBS} ORDER BY j.seq DESC LIMIT ${limit}`).map(toJob);
  }

  /** A page of the jobs matching `filter`, newest first: up to `limit` with a sequence number below `before`. */
  page(filter: JobsFilter, limit: number, before?: bigint): JobsPageRows {
    const where: SqlQuery = sql`WHERE 1 = 1${filter.status !== undefined ? sql` AND j.status = ${filter.status}` : sql``}${filter.workload !== undefined ? sql` AND j.workload = ${filter.workload}` : sql``}${filter.since !== undefined ? sql` AND j.started_at >= ${filter.since}` : sql``}${filter.marketId !== undefined ? sql` AND j.market_id = ${filter.marketId}` : sql``}`;
    const total = Number(
      this.db.get<{ n: number | bigint }>(sql`SELECT count(*) AS n FROM provider_jobs j ${where}`)?.n ?? 0,
    );
    const rows = this.db.all<Row & { seq: number | bigint }>(
      sql`${SELECT_JOBS} ${where}${before !== undefined ? sql` AND j.seq < ${before}` : sql``} ORDER BY j.seq DESC LIMIT ${limit + 1}`,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { jobs: page.map(toJob), next: rows.length > limit && last ? BigInt(last.seq) : null, total };
  }

  /** The distinct workloads in the history, sorted, at most `limit`. */
  workloads(limit = 1000): string[] {
    return this.db
      .all<{ workload: string }>(sql`SELECT DISTINCT workload FROM provider_jobs ORDER BY workload LIMIT ${limit}`)
      .map((r) => r.workload);
  }

  /** Jobs the market accepted and rejected, over the whole history. */
  answeredCounts(): { accepted: number; rejected: number } {
    const r = this.db.get<{ accepted: number | bigint | null; rejected: number | bigint | null }>(
      sql`SELECT sum(status = 'accepted') AS accepted, sum(status = 'rejected') AS rejected FROM provider_jobs`,
    );
    return { accepted: Number(r?.accepted ?? 0), rejected: Number(r?.rejected ?? 0) };
  }

  /** Per UTC day the jobs started since `sinceMs`: how many were submitted, verified, rejected, lost (days without jobs absent, in no order). */
  outcomesByDay(sinceMs: number): JobOutcomesDay[] {
    return this.db
      .all<{
        day: string;
        submitted: number | bigint;
        verified: number | bigint;
        rejected: number | bigint;
        lost: number | bigint;
      }>(
        sql`
        SELECT strftime('%Y-%m-%d', started_at / 1000, 'unixepoch') AS day,
               sum(status IN ('submitted', 'accepted', 'rejected')) AS submitted, sum(status = 'accepted') AS verified,
               sum(status = 'rejected') AS rejected, sum(status = 'lost') AS lost
        FROM provider_jobs WHERE started_at >= ${sinceMs} GROUP BY day`,
      )
      .map((r) => ({
        day: r.day,
        submitted: Number(r.submitted),
        verified: Number(r.verified),
        rejected: Number(r.rejected),
        lost: Number(r.lost),
      }));
  }

  /** Rejected and lost jobs started since `sinceMs`, counted by code, most frequent first. */
  failuresByCode(sinceMs: number): { code: string | null; count: number }[] {
    return this.db
      .all<{ code: string | null; n: number | bigint }>(
        sql`
        SELECT code, count(*) AS n FROM provider_jobs WHERE status IN ('rejected', 'lost') AND started_at >= ${sinceMs} GROUP BY code ORDER BY n DESC`,
      )
      .map((r) => ({ code: r.code, count: Number(r.n) }));
  }

  /** Records a receipt's payment once (false for a duplicate) and credits the job's history row. */
  recordEarning(e: {
    receiptKey: string;
    marketId: string;
    jobId: string;
    taskId: string;
    amount: bigint;
    settlement: string;
    at: number;
  }): boolean {
    const changed = this.db.run(sql`
      INSERT INTO provider_earnings (receipt_key, market_id, job_id, task_id, amount, settlement, received_at)
      VALUES (${e.receiptKey}, ${e.marketId}, ${e.jobId}, ${e.taskId}, ${e.amount}, ${e.settlement}, ${e.at}) ON CONFLICT (receipt_key) DO NOTHING`);
    if (changed === 0) return false;
    this.db.run(sql`
      UPDATE provider_jobs SET credits = ${e.amount}, receipt_key = ${e.receiptKey}, status = 'accepted', code = NULL
      WHERE seq = (SELECT max(seq) FROM provider_jobs WHERE market_id = ${e.marketId} AND job_id = ${e.jobId})`);
    return true;
  }

  /** Earnings per UTC day since `sinceMs` (of one market, or all), newest first; `settled` counts receipts the ledger applied. */
  earningsByDay(sinceMs: number, marketId?: string): EarningsDay[] {
    const rows = this.db.all<{
      day: string;
      jobs: number | bigint;
      paid: number | bigint;
      settled: number | bigint;
      settled_jobs: number | bigint;
    }>(sql`
      SELECT strftime('%Y-%m-%d', received_at / 1000, 'unixepoch') AS day, count(*) AS jobs, sum(amount) AS paid,
             sum(CASE WHEN settlement = 'applied' THEN amount ELSE 0 END) AS settled, sum(settlement = 'applied') AS settled_jobs
      FROM provider_earnings WHERE received_at >= ${sinceMs}${marketId !== undefined ? sql` AND market_id = ${marketId}` : sql``} GROUP BY day ORDER BY day DESC`);
    return rows.map((r) => ({
      day: r.day,
      jobs: Number(r.jobs),
      paid: BigInt(r.paid),
      settled: BigInt(r.settled),
      settledJobs: Number(r.settled_jobs),
    }));
  }

  /**
   * One market's receipts in one pass: count and sum all time, since `todayStart` and since
   * `weekStart`, and the count and sum the ledger applied (all time).
   */
  receiptTotals(marketId: string, todayStart: number, weekStart: number): ReceiptTotals {
    const r = this.db.get<Record<keyof ReceiptTotalsRow, number | bigint | null>>(sql`
      SELECT count(*) AS receipts, coalesce(sum(amount), 0) AS paid,
             coalesce(sum(settlement = 'applied'), 0) AS settled_receipts,
             coalesce(sum(CASE WHEN settlement = 'applied' THEN amount ELSE 0 END), 0) AS settled,
             coalesce(sum(received_at >= ${todayStart}), 0) AS today_receipts,
             coalesce(sum(CASE WHEN received_at >= ${todayStart} THEN amount ELSE 0 END), 0) AS today_paid,
             coalesce(sum(received_at >= ${weekStart}), 0) AS week_receipts,
             coalesce(sum(CASE WHEN received_at >= ${weekStart} THEN amount ELSE 0 END), 0) AS week_paid
      FROM provider_earnings WHERE market_id = ${marketId}`);
    const n = (k: keyof ReceiptTotalsRow) => Number(r?.[k] ?? 0);
    const b = (k: keyof ReceiptTotalsRow) => BigInt(r?.[k] ?? 0);
    return {
      all: { receipts: n('receipts'), paid: b('paid') },
      settled: { receipts: n('settled_receipts'), paid: b('settled') },
      today: { receipts: n('today_receipts'), paid: b('today_paid') },
      week: { receipts: n('week_receipts'), paid: b('week_paid') },
    };
  }

  /**
   * One market's jobs not paid yet, and those that will not be: verified without a receipt,
   * pending (submitted, awaiting the verdict) with the offers made for them, running, rejected, lost.
   */
  jobStages(marketId: string): JobStages {
    const r = this.db.get<Record<string, number | bigint | null>>(sql`
      SELECT coalesce(sum(status = 'accepted' AND receipt_key IS NULL), 0) AS verified,
             coalesce(sum(CASE WHEN status = 'accepted' AND receipt_key IS NULL THEN coalesce(offer, 0) ELSE 0 END), 0) AS verified_offered,
             coalesce(sum(status = 'submitted'), 0) AS pending,
             coalesce(sum(CASE WHEN status = 'submitted' THEN coalesce(offer, 0) ELSE 0 END), 0) AS pending_offered,
             coalesce(sum(status = 'running'), 0) AS running,
             coalesce(sum(status = 'rejected'), 0) AS rejected,
             coalesce(sum(status = 'lost'), 0) AS lost
      FROM provider_jobs WHERE market_id = ${marketId}`);
    const n = (k: string) => Number(r?.[k] ?? 0);
    return {
      verified: { jobs: n('verified'), offered: BigInt(r?.verified_offered ?? 0) },
      pending: { jobs: n('pending'), offered: BigInt(r?.pending_offered ?? 0) },
      running: n('running'),
      rejected: n('rejected'),
      lost: n('lost'),
    };
  }

  /** The market of the newest job (else of the newest receipt); null with no history. */
  newestMarketId(): string | null {
    const job = this.db.get<{ market_id: string }>(sql`SELECT market_id FROM provider_jobs ORDER BY seq DESC LIMIT 1`);
    if (job) return job.market_id;
    return (
      this.db.get<{ market_id: string }>(sql`SELECT market_id FROM provider_earnings ORDER BY received_at DESC LIMIT 1`)
        ?.market_id ?? null
    );
  }

  /** Mean size (bytes), run time (ms) and offer (micro-CPC, rounded down) of the newest `limit` finished jobs; nulls when none. */
  /**
   * How fast jobs have been reaching this node: jobs started since `sinceMs` per hour, over the
   * span from the first of them to `now` (at least a minute); null with fewer than 3 jobs.
   */
  arrivalsPerHour(sinceMs: number, now: number): number | null {
    const r = this.db.get<{ n: number | bigint; first: number | bigint | null }>(
      sql`SELECT count(*) AS n, min(started_at) AS first FROM provider_jobs WHERE started_at >= ${sinceMs}`,
    );
    const n = Number(r?.n ?? 0);
    if (n < 3 || r?.first === null || r?.first === undefined) return null;
    const spanMs = Math.max(60_000, now - Number(r.first));
    return (n * 3_600_000) / spanMs;
  }

  meanJob(limit = 100): { bytes: number | null; ms: number | null; offer: bigint | null } {
    const r = this.db.get<{ bytes: number | null; ms: number | null; offer: number | bigint | null }>(sql`
      SELECT avg(bytes) AS bytes, avg(duration_ms) AS ms, sum(offer) / count(offer) AS offer FROM (SELECT bytes, duration_ms, offer FROM provider_jobs
        WHERE finished_at IS NOT NULL AND duration_ms IS NOT NULL AND status <> 'lost' ORDER BY seq DESC LIMIT ${limit})`);
    const num = (v: number | null | undefined) => (v === null || v === undefined ? null : Number(v));
    return {
      bytes: num(r?.bytes),
      ms: num(r?.ms),
      offer: r?.offer === null || r?.offer === undefined ? null : BigInt(r.offer),
    };
  }
}

interface ReceiptTotalsRow {
  receipts: unknown;
  paid: unknown;
  settled_receipts: unknown;
  settled: unknown;
  today_receipts: unknown;
  today_paid: unknown;
  week_receipts: unknown;
  week_paid: unknown;
}

/** A number of receipts and what they paid (micro-CPC). */
export interface PaidCount {
  receipts: number;
  paid: bigint;
}

/** One market's receipts: all, applied by the ledger, since today's start, since the week's start. */
export interface ReceiptTotals {
  all: PaidCount;
  settled: PaidCount;
  today: PaidCount;
  week: PaidCount;
}

/** One market's jobs by where they stand (see ProviderJobsRepo.jobStages). */
export interface JobStages {
  verified: { jobs: number; offered: bigint };
  pending: { jobs: number; offered: bigint };
  running: number;
  rejected: number;
  lost: number;
}
