/**
 * Numbered, append-only schema migrations. Never edit one that has shipped: each is recorded
 * with a hash of its SQL and an edited migration stops the node at start-up. Add a new one.
 *
 * Money columns are INTEGER credits (read as bigint); ids are text.
 */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'ledger',
    sql: `
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  balance INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE postings (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  account TEXT NOT NULL REFERENCES accounts(id),
  amount INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('transfer', 'mint', 'burn')),
  memo TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX postings_event ON postings(event_id);
CREATE INDEX postings_account ON postings(account);
CREATE TABLE counters (
  name TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '',
  value INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, labels)
) STRICT;
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`,
  },
  {
    id: 2,
    name: 'receipts',
    sql: `
CREATE TABLE receipts (
  idempotency_key TEXT PRIMARY KEY,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('recorded', 'applied', 'archived')),
  reason TEXT,
  recorded_at INTEGER NOT NULL,
  applied_at INTEGER
) STRICT;
CREATE INDEX receipts_status ON receipts(status);
`,
  },
  {
    id: 3,
    name: 'courier',
    sql: `
CREATE TABLE courier_receipts (
  id TEXT PRIMARY KEY,
  bundle_hash TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  sender TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'acknowledged', 'rejected')),
  acknowledged INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  reward INTEGER,
  acked_at INTEGER,
  lease_owner TEXT,
  lease_until INTEGER
) STRICT;
CREATE INDEX courier_pending ON courier_receipts(status, id);
`,
  },
  {
    id: 4,
    name: 'pending movements and failed courier receipts',
    // Credit movements made while settlement is dry-run are recorded here and applied, in seq
    // order and once each, when the mode turns real. Receipts recorded in dry-run by earlier
    // versions become pending movements. courier_receipts is rebuilt (SQLite cannot alter a
    // CHECK) to allow the `failed` status and to count failures of a receipt of its own.
    sql: `
CREATE TABLE pending_movements (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL CHECK (source IN ('receipt', 'courier', 'slash')),
  ref TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('transfer', 'burn')),
  from_account TEXT NOT NULL,
  to_account TEXT,
  amount INTEGER NOT NULL CHECK (amount >= 0),
  memo TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'failed')),
  reason TEXT,
  applied_at INTEGER,
  CHECK ((kind = 'transfer') = (to_account IS NOT NULL))
) STRICT;
CREATE INDEX pending_movements_status ON pending_movements(status, seq);
INSERT INTO pending_movements (event_id, source, ref, kind, from_account, to_account, amount, memo, created_at)
  SELECT 'receipt:' || idempotency_key, 'receipt', idempotency_key, 'transfer',
    json_extract(payload, '$.buyer'), json_extract(payload, '$.provider'),
    CAST(json_extract(payload, '$.quote_price') AS INTEGER), 'job ' || json_extract(payload, '$.job_id'), recorded_at
  FROM receipts
  WHERE status = 'recorded' AND json_valid(payload)
    AND json_type(payload, '$.buyer') = 'text' AND json_type(payload, '$.provider') = 'text'
    AND json_type(payload, '$.job_id') = 'text' AND json_type(payload, '$.quote_price') = 'text'
  ORDER BY recorded_at, idempotency_key;
CREATE TABLE courier_receipts_v4 (
  id TEXT PRIMARY KEY,
  bundle_hash TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  sender TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'acknowledged', 'rejected', 'failed')),
  acknowledged INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  reward INTEGER,
  acked_at INTEGER,
  lease_owner TEXT,
  lease_until INTEGER
) STRICT;
INSERT INTO courier_receipts_v4 (id, bundle_hash, bytes, sender, created_at, status, acknowledged, attempts, last_error, reward, acked_at, lease_owner, lease_until)
  SELECT id, bundle_hash, bytes, sender, created_at, status, acknowledged, attempts, last_error, reward, acked_at, lease_owner, lease_until FROM courier_receipts;
DROP TABLE courier_receipts;
ALTER TABLE courier_receipts_v4 RENAME TO courier_receipts;
CREATE INDEX courier_pending ON courier_receipts(status, id);
`,
  },
  {
    id: 5,
    name: 'sla_deadlines',
    sql: `
CREATE TABLE sla_deadlines (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL UNIQUE,
  provider TEXT NOT NULL,
  bond INTEGER NOT NULL CHECK (bond >= 0),
  deadline INTEGER NOT NULL
) STRICT;
`,
  },
  {
    id: 6,
    name: 'provider_jobs',
    sql: `
CREATE TABLE provider_jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  market_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  workload TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  result_hash TEXT,
  proof TEXT,
  backend TEXT,
  duration_ms REAL,
  status TEXT NOT NULL CHECK (status IN ('running', 'submitted', 'accepted', 'rejected', 'lost')),
  code TEXT,
  result TEXT,
  credits INTEGER NOT NULL DEFAULT 0,
  receipt_key TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  UNIQUE (market_id, job_id, epoch)
) STRICT;
CREATE INDEX provider_jobs_day ON provider_jobs(finished_at);
CREATE TABLE provider_earnings (
  receipt_key TEXT PRIMARY KEY,
  market_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount >= 0),
  settlement TEXT NOT NULL,
  received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX provider_earnings_day ON provider_earnings(received_at);
`,
  },
  {
    id: 7,
    name: 'market keys and signed receipts',
    // market_keys: each market's receipt key, pinned at the first welcome (like an SSH host key),
    // and whether it is the practice market (its credits are practice, not money).
    // receipts.signature: the market's signature (NULL on receipts stored before markets signed).
    // The UPDATEs repair earnings rows written apart from their receipt's settlement (a crash
    // between the two commits recorded a re-sent receipt as 'duplicate'; a receipt applied when
    // settlement turned real kept 'recorded').
    sql: `
CREATE TABLE market_keys (
  market_id TEXT PRIMARY KEY,
  public_key TEXT NOT NULL CHECK (length(public_key) = 64),
  practice INTEGER NOT NULL DEFAULT 0 CHECK (practice IN (0, 1)),
  pinned_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL
) STRICT;
ALTER TABLE receipts ADD COLUMN signature TEXT;
UPDATE provider_earnings SET settlement = 'applied'
  WHERE settlement <> 'applied' AND receipt_key IN (SELECT idempotency_key FROM receipts WHERE status = 'applied');
UPDATE provider_earnings SET settlement = 'recorded'
  WHERE settlement = 'duplicate' AND receipt_key IN (SELECT idempotency_key FROM receipts WHERE status = 'recorded');
UPDATE provider_earnings SET settlement = 'failed'
  WHERE settlement = 'duplicate' AND receipt_key IN (SELECT idempotency_key FROM receipts WHERE status = 'archived');
`,
  },
  {
    id: 8,
    name: 'provider_jobs offer',
    // What the market offered for each job: shown as "on the way" (not earned) until a receipt pays it.
    sql: `
ALTER TABLE provider_jobs ADD COLUMN offer INTEGER CHECK (offer IS NULL OR offer >= 0);
CREATE INDEX provider_earnings_market ON provider_earnings(market_id, received_at);
`,
  },
];
