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
];
