import { createHash } from 'node:crypto';
import type { SqlDriver } from './driver.js';
import { MarketStoreError } from './errors.js';
import { sql } from './sql.js';

/**
 * The market's numbered, append-only PostgreSQL migrations (the same on PGlite and on a
 * server). Never edit one that has shipped: each is recorded with a hash of its SQL and an
 * edited migration stops the market at start-up. Add a new one.
 *
 * Money is BIGINT micro-CPC; times are BIGINT milliseconds since the Unix epoch.
 */
export interface MarketMigration {
  id: number;
  name: string;
  sql: string;
}

export const MARKET_MIGRATIONS: readonly MarketMigration[] = [
  {
    id: 1,
    name: 'market-foundation',
    sql: `
CREATE TABLE customers (
  customer_id UUID PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  key_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE TABLE accounts (
  account_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('customer', 'escrow', 'burn', 'validator', 'treasury', 'worker', 'mint')),
  balance BIGINT NOT NULL DEFAULT 0,
  CHECK (balance >= 0 OR kind = 'mint')
);
CREATE TABLE postings (
  seq BIGSERIAL PRIMARY KEY,
  event_id TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts(account_id),
  amount BIGINT NOT NULL,
  memo TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX postings_event ON postings(event_id);
CREATE INDEX postings_account ON postings(account_id, seq);
CREATE TABLE tasks (
  task_id UUID PRIMARY KEY,
  customer_id UUID NOT NULL REFERENCES customers(customer_id),
  challenge_type TEXT NOT NULL CHECK (challenge_type IN ('inference', 'training', 'rendering', 'synthetic')),
  payload JSONB NOT NULL,
  reward BIGINT NOT NULL CHECK (reward > 0),
  deadline BIGINT,
  status TEXT NOT NULL CHECK (status IN ('draft', 'pending', 'in_progress', 'completed', 'failed')),
  failure_reason TEXT,
  input_kind TEXT NOT NULL CHECK (input_kind IN ('payload', 'slices')),
  gpu_required BOOLEAN NOT NULL DEFAULT FALSE,
  lane TEXT NOT NULL DEFAULT 'consumer' CHECK (lane IN ('consumer', 'industrial')),
  result_hash TEXT,
  worker_address TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  completed_at BIGINT,
  CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
  CHECK (status <> 'completed' OR (result_hash IS NOT NULL AND completed_at IS NOT NULL))
);
CREATE INDEX tasks_customer_list ON tasks(customer_id, created_at DESC, task_id);
CREATE INDEX tasks_status ON tasks(status, deadline);
CREATE TABLE task_slices (
  task_id UUID NOT NULL REFERENCES tasks(task_id) ON DELETE CASCADE,
  n INTEGER NOT NULL CHECK (n >= 0),
  bytes BIGINT NOT NULL CHECK (bytes >= 0),
  blake3 TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (task_id, n)
);
CREATE TABLE escrows (
  task_id UUID PRIMARY KEY REFERENCES tasks(task_id),
  customer_id UUID NOT NULL REFERENCES customers(customer_id),
  amount BIGINT NOT NULL CHECK (amount > 0),
  status TEXT NOT NULL CHECK (status IN ('held', 'released', 'refunded')),
  created_at BIGINT NOT NULL,
  settled_at BIGINT
);
CREATE TABLE jobs (
  job_id UUID PRIMARY KEY,
  task_id UUID NOT NULL REFERENCES tasks(task_id),
  slice_index INTEGER NOT NULL CHECK (slice_index >= 0),
  lane TEXT NOT NULL CHECK (lane IN ('consumer', 'industrial')),
  gpu_required BOOLEAN NOT NULL DEFAULT FALSE,
  offer BIGINT NOT NULL CHECK (offer >= 0),
  status TEXT NOT NULL CHECK (status IN ('queued', 'leased', 'done', 'failed')),
  lease_owner TEXT,
  lease_until BIGINT,
  attempts INTEGER NOT NULL DEFAULT 0,
  result_hash TEXT,
  failure_reason TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (task_id, slice_index),
  CHECK ((status = 'leased') = (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
);
CREATE INDEX jobs_queue ON jobs(lane, created_at, job_id) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs(lease_until) WHERE status = 'leased';
INSERT INTO accounts (account_id, kind) VALUES
  ('escrow', 'escrow'), ('burn', 'burn'), ('validator', 'validator'), ('treasury', 'treasury'), ('mint', 'mint');
`,
  },
  {
    id: 2,
    name: 'validator',
    sql: `
CREATE TABLE providers (
  address TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,
  bond BIGINT NOT NULL DEFAULT 0 CHECK (bond >= 0),
  reputation INTEGER NOT NULL,
  wrong_results INTEGER NOT NULL DEFAULT 0,
  refused BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE provider_penalties (
  seq BIGSERIAL PRIMARY KEY,
  address TEXT NOT NULL REFERENCES providers(address),
  job_id UUID NOT NULL,
  reason TEXT NOT NULL,
  slashed BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE job_inputs (
  job_id UUID PRIMARY KEY REFERENCES jobs(job_id),
  workload TEXT NOT NULL CHECK (workload IN ('transcode', 'inference', 'gpuhash', 'synthetic')),
  source TEXT NOT NULL CHECK (source IN ('payload', 'slice', 'synthetic')),
  slice_n INTEGER,
  byte_offset BIGINT NOT NULL DEFAULT 0,
  byte_length BIGINT NOT NULL DEFAULT 0,
  matrix_size INTEGER,
  iterations INTEGER
);
CREATE TABLE job_leases (
  job_id UUID PRIMARY KEY REFERENCES jobs(job_id),
  provider TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  lease JSONB NOT NULL,
  assignment_key TEXT NOT NULL,
  checked BOOLEAN NOT NULL,
  block_hash TEXT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX job_leases_provider ON job_leases(provider);
CREATE TABLE result_nonces (
  worker_address TEXT NOT NULL,
  nonce NUMERIC(20, 0) NOT NULL,
  seen_at BIGINT NOT NULL,
  PRIMARY KEY (worker_address, nonce)
);
CREATE TABLE job_results (
  seq BIGSERIAL PRIMARY KEY,
  job_id UUID NOT NULL REFERENCES jobs(job_id),
  task_id UUID NOT NULL,
  worker_address TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'wrong')),
  result_hash TEXT NOT NULL,
  settled_hash TEXT NOT NULL,
  checked BOOLEAN NOT NULL,
  result JSONB NOT NULL,
  batch_n INTEGER,
  received_at BIGINT NOT NULL
);
CREATE INDEX job_results_job ON job_results(job_id);
CREATE INDEX job_results_unbatched ON job_results(seq) WHERE batch_n IS NULL AND verdict = 'accepted';
CREATE TABLE batches (
  n INTEGER PRIMARY KEY,
  compute_root TEXT NOT NULL,
  result_count INTEGER NOT NULL,
  transactions JSONB NOT NULL,
  sealed_at BIGINT NOT NULL
);
CREATE TABLE market_receipts (
  idempotency_key TEXT PRIMARY KEY,
  job_id UUID NOT NULL,
  task_id UUID NOT NULL,
  provider TEXT NOT NULL,
  receipt JSONB NOT NULL,
  delivered_at BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX market_receipts_undelivered ON market_receipts(provider, created_at) WHERE delivered_at IS NULL;
CREATE TABLE market_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  },
  {
    id: 3,
    name: 'job admission',
    sql: `
ALTER TABLE jobs ADD COLUMN admission TEXT NOT NULL DEFAULT 'admitted' CHECK (admission IN ('pending', 'admitted', 'deferred'));
ALTER TABLE jobs ADD COLUMN deferred_at BIGINT;
ALTER TABLE jobs ADD COLUMN defer_code TEXT;
ALTER TABLE jobs ADD COLUMN defer_reason TEXT;
CREATE INDEX jobs_admission_wait ON jobs(deferred_at, created_at, slice_index, job_id) WHERE status = 'queued' AND admission <> 'admitted';
`,
  },
  {
    id: 4,
    name: 'second provider',
    sql: `
ALTER TABLE jobs ADD COLUMN twin_of UUID REFERENCES jobs(job_id);
ALTER TABLE jobs DROP CONSTRAINT jobs_task_id_slice_index_key;
CREATE UNIQUE INDEX jobs_task_slice ON jobs(task_id, slice_index) WHERE twin_of IS NULL;
CREATE UNIQUE INDEX jobs_twin ON jobs(twin_of) WHERE twin_of IS NOT NULL;
ALTER TABLE job_results DROP CONSTRAINT job_results_verdict_check;
ALTER TABLE job_results ADD CONSTRAINT job_results_verdict_check CHECK (verdict IN ('accepted', 'wrong', 'held'));
CREATE INDEX job_results_held ON job_results(task_id) WHERE verdict = 'held';
`,
  },
  {
    id: 5,
    name: 'courier inbox',
    sql: `
CREATE TABLE courier_receipts (
  receipt_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  address TEXT NOT NULL,
  bundle_hash TEXT NOT NULL,
  bytes BIGINT NOT NULL CHECK (bytes >= 0),
  sender TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  signature TEXT NOT NULL,
  reward BIGINT NOT NULL CHECK (reward >= 0),
  received_at BIGINT NOT NULL
);
CREATE INDEX courier_receipts_address ON courier_receipts(address, received_at);
`,
  },
  {
    id: 6,
    name: 'settlement by task',
    sql: `
CREATE INDEX jobs_task ON jobs(task_id, status);
`,
  },
  {
    id: 7,
    name: 'slice bytes in the store',
    // Chunks are stored uncompressed (STORAGE EXTERNAL): slice input is mostly incompressible, and
    // a job reads a range of a chunk, which PostgreSQL then fetches without reading the whole value.
    // A slice recorded before this (upload_id NULL) has its bytes in a data dir until imported at start.
    sql: `
CREATE TABLE task_slice_chunks (
  upload_id UUID NOT NULL,
  chunk_no INTEGER NOT NULL CHECK (chunk_no >= 0),
  task_id UUID NOT NULL,
  n INTEGER NOT NULL CHECK (n >= 0),
  byte_offset BIGINT NOT NULL CHECK (byte_offset >= 0),
  data BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (upload_id, chunk_no)
);
ALTER TABLE task_slice_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX task_slice_chunks_task ON task_slice_chunks(task_id);
CREATE INDEX task_slice_chunks_age ON task_slice_chunks(created_at);
ALTER TABLE task_slices ADD COLUMN upload_id UUID UNIQUE;
`,
  },
  {
    id: 8,
    name: 'presence',
    sql: `
CREATE TABLE market_instances (
  instance_id TEXT PRIMARY KEY,
  url TEXT,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL
);
CREATE TABLE provider_presence (
  address TEXT PRIMARY KEY,
  instance_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  joined_at BIGINT NOT NULL,
  industrial BOOLEAN NOT NULL,
  max_jobs INTEGER NOT NULL CHECK (max_jobs >= 0)
);
CREATE INDEX provider_presence_instance ON provider_presence(instance_id);
`,
  },
  {
    id: 9,
    name: 'escrow per customer',
    // The single escrow account was one row that every task post and every payout updated (a
    // lock all posts queued on). Each customer gets its own, and the old account's balance moves
    // into them as one balanced posting: each customer's escrow becomes the sum of its held
    // escrows. The old row stays (postings reference it), at 0 when the books were equal; an
    // upgrade of a store whose old account cannot cover the held escrows stops with a message
    // and changes nothing.
    sql: `
INSERT INTO accounts (account_id, kind)
  SELECT 'escrow:' || customer_id::text, 'escrow' FROM customers
  ON CONFLICT (account_id) DO NOTHING;
DO $$
DECLARE
  held BIGINT;
  legacy BIGINT;
BEGIN
  SELECT COALESCE(sum(amount), 0) INTO held FROM escrows WHERE status = 'held';
  SELECT COALESCE(max(balance), 0) INTO legacy FROM accounts WHERE account_id = 'escrow';
  IF legacy < held THEN
    RAISE EXCEPTION 'market migration 9: the escrow account holds % micro-CPC but the held escrows add up to %; the books were unequal before the upgrade, nothing was changed', legacy, held;
  END IF;
END
$$;
WITH held AS (
  SELECT 'escrow:' || customer_id::text AS account_id, sum(amount)::bigint AS amount
  FROM escrows WHERE status = 'held' GROUP BY customer_id
), legs AS (
  SELECT account_id, amount FROM held
  UNION ALL
  SELECT 'escrow', -sum(amount)::bigint FROM held HAVING count(*) > 0
), moved AS (
  UPDATE accounts a SET balance = a.balance + l.amount FROM legs l WHERE a.account_id = l.account_id RETURNING 1
)
INSERT INTO postings (event_id, account_id, amount, memo, created_at)
  SELECT 'escrow-per-customer', account_id, amount, 'escrow moved to the customer''s escrow account',
    (extract(epoch FROM now()) * 1000)::bigint
  FROM legs ORDER BY amount, account_id;
`,
  },
  {
    id: 10,
    name: 'funded bonds and probation',
    // A provider's bond becomes credits in its `bond:<address>` account, funded from its own
    // earnings (docs/verification.md). The old `providers.bond` numbers were credited at first
    // join and funded by no one (no postings back them), so they are set to 0 and read no more:
    // every existing provider starts with an unfunded bond, funded from its next payouts like a
    // new one. Each provider's checks are counted: passed, failed, and passed since the last
    // failure (the clean streak its checked fraction follows); existing providers start at 0,
    // so on probation.
    sql: `
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
  CHECK (kind IN ('customer', 'escrow', 'burn', 'validator', 'treasury', 'worker', 'mint', 'bond'));
UPDATE providers SET bond = 0;
ALTER TABLE providers ADD COLUMN checks_passed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE providers ADD COLUMN checks_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE providers ADD COLUMN clean_streak INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    id: 11,
    name: 'reach-back and verification guarantees',
    sql: `
ALTER TABLE tasks ADD COLUMN verification TEXT NOT NULL DEFAULT 'sampled' CHECK (verification IN ('sampled', 'all', 'two_providers'));
ALTER TABLE tasks ADD COLUMN surcharge BIGINT NOT NULL DEFAULT 0 CHECK (surcharge >= 0);
ALTER TABLE tasks ADD COLUMN corrections INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN ('draft', 'pending', 'in_progress', 'completed', 'failed', 'reopened'));
CREATE TABLE reach_back_watch (
  address TEXT PRIMARY KEY,
  since BIGINT NOT NULL,
  until BIGINT NOT NULL,
  failed_at BIGINT NOT NULL
);
CREATE TABLE reach_back_checks (
  result_seq BIGINT PRIMARY KEY REFERENCES job_results(seq),
  job_id UUID NOT NULL REFERENCES jobs(job_id),
  task_id UUID NOT NULL REFERENCES tasks(task_id),
  address TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'wrong', 'skipped')),
  expected_hash TEXT,
  expected_proof TEXT,
  paid BIGINT NOT NULL DEFAULT 0 CHECK (paid >= 0),
  clawed BIGINT NOT NULL DEFAULT 0 CHECK (clawed >= 0),
  redo TEXT CHECK (redo IN ('open', 'paid')),
  queued_at BIGINT NOT NULL,
  done_at BIGINT
);
CREATE INDEX reach_back_pending ON reach_back_checks(queued_at, result_seq) WHERE state = 'pending';
CREATE INDEX reach_back_task ON reach_back_checks(task_id);
CREATE INDEX job_results_worker ON job_results(worker_address, seq);
`,
  },
  {
    id: 12,
    name: 'dispatch order index',
    // The lease walks the queue in dispatch order (created_at, slice_index, job_id) and stops at
    // the first job that fits; without an index in that order every lease sorted the whole queue.
    sql: `
CREATE INDEX jobs_dispatch ON jobs (created_at, slice_index, job_id) WHERE status = 'queued' AND admission = 'admitted';
`,
  },
];

/** Key of the advisory lock that serialises migrations between market instances. */
const MIGRATION_LOCK = 0x7e55e7a;

/** Content hash recorded for each applied migration. */
export function marketMigrationHash(m: MarketMigration): string {
  return createHash('sha256').update(`${m.id}\n${m.name}\n${m.sql}`).digest('hex');
}

/**
 * Applies missing migrations, each in its own transaction under an advisory lock (so two
 * instances starting on one server never both apply one), after checking that every applied
 * migration is known and unedited.
 */
export async function migrateMarket(
  driver: SqlDriver,
  migrations: readonly MarketMigration[] = MARKET_MIGRATIONS,
): Promise<void> {
  await driver.transaction(async (c) => {
    await c.query(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await c.exec(`CREATE TABLE IF NOT EXISTS market_migrations (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    checkApplied(
      driver,
      await c.query<{ id: number; name: string; hash: string }>(
        sql`SELECT id, name, hash FROM market_migrations ORDER BY id`,
      ),
      migrations,
    );
  });
  for (const m of migrations) {
    await driver.transaction(async (c) => {
      await c.query(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      const rows = await c.query<{ id: number; name: string; hash: string }>(
        sql`SELECT id, name, hash FROM market_migrations ORDER BY id`,
      );
      checkApplied(driver, rows, migrations);
      if (rows.some((r) => r.id === m.id)) return;
      await c.exec(m.sql);
      await c.query(
        sql`INSERT INTO market_migrations (id, name, hash, applied_at) VALUES (${m.id}, ${m.name}, ${marketMigrationHash(m)}, ${Date.now()})`,
      );
    });
  }
}

function checkApplied(
  driver: SqlDriver,
  rows: { id: number; name: string; hash: string }[],
  migrations: readonly MarketMigration[],
): void {
  const known = new Map(migrations.map((m) => [m.id, m]));
  for (const row of rows) {
    const m = known.get(row.id);
    if (!m) {
      throw new MarketStoreError(
        'STORE_TOO_NEW',
        `the market store ${driver.location} was written by a newer Tessera (migration ${row.id} "${row.name}" is unknown to this version); update Tessera`,
      );
    }
    if (marketMigrationHash(m) !== row.hash) {
      throw new MarketStoreError(
        'MIGRATION_EDITED',
        `market migration ${m.id} "${m.name}" differs from the one applied to ${driver.location}; migrations are append-only — restore the original and add a new migration`,
      );
    }
  }
}
