import { parseReceipt, ReceiptError } from '../core/ledger/receipt.js';
import type { Blake3Hasher } from '../core/hash/hasher.js';
import { dataDirPaths, ledgerPresence, requireDataDir } from './data-dir.js';
import { Database } from './db/database.js';
import { StorageError } from './db/errors.js';
import { LedgerRepo } from './db/repos/ledger-repo.js';
import { ReceiptRepo } from './db/repos/receipt-repo.js';
import { loadBlake3 } from '../node/hash/node-hasher.js';
import { errorMessage } from '../core/errors.js';
import { existsSync } from 'node:fs';
import { CourierRepo } from './db/repos/courier-repo.js';
import { BundleStore } from './services/bundle-store.js';

/** `tessera doctor` exit status when it found damage (0 healthy; 2 could not check: bad input, locked, unreadable). */
export const DOCTOR_EXIT_DAMAGED = 3;

export interface DoctorCheck {
  name: 'ledger file' | 'integrity_check' | 'receipts' | 'conservation' | 'bundles';
  ok: boolean;
  /** One line: what was checked, or what is wrong. */
  detail: string;
}

export interface DoctorReport {
  dataDir: string;
  dbPath: string;
  healthy: boolean;
  checks: DoctorCheck[];
}

export interface DoctorDeps {
  blake3?: Blake3Hasher;
}

/** How many damaged receipts a report names (all are counted). */
const MAX_NAMED = 5;

/**
 * The full health check of a data directory's ledger, read-only: opens the ledger without
 * writing, runs `PRAGMA integrity_check` (every page and index, unlike the quick_check at
 * open), re-verifies every stored receipt (its key recomputed from its fields) and checks the
 * ledger's conservation (every transfer nets to zero, balances equal their postings), and
 * re-hashes every stored courier bundle.
 *
 * Damage is reported, not thrown. Problems that stop the check itself (no data dir, a lock,
 * a permission or I/O error) throw their one-line StorageError.
 */
export async function runDoctor(dataDirArg: string | undefined, deps: DoctorDeps = {}): Promise<DoctorReport> {
  const dataDir = requireDataDir(dataDirPaths(dataDirArg));
  const report: DoctorReport = { dataDir: dataDir.root, dbPath: dataDir.dbPath, healthy: true, checks: [] };
  const add = (c: DoctorCheck) => {
    report.checks.push(c);
    if (!c.ok) report.healthy = false;
  };
  const presence = ledgerPresence(dataDir);
  if (presence.ledgerAbsent) {
    if (presence.traces.length === 0)
      throw new StorageError(
        'LEDGER_MISSING',
        `no ledger at ${dataDir.dbPath}; nothing has been stored in ${dataDir.root} yet`,
      );
    add({
      name: 'ledger file',
      ok: false,
      detail: `${dataDir.dbPath} ${presence.ledgerBytes === undefined ? 'is missing' : 'is empty'} but the data directory has ${presence.traces.join(', ')}`,
    });
    return report;
  }
  let db: Database;
  try {
    db = Database.open(dataDir.dbPath, { readonly: true, quickCheck: false });
  } catch (err) {
    if (err instanceof StorageError && (err.code === 'DB_DAMAGED' || err.code === 'DB_FOREIGN')) {
      add({ name: 'ledger file', ok: false, detail: err.message });
      return report;
    }
    throw err;
  }
  try {
    add({ name: 'ledger file', ok: true, detail: `${dataDir.dbPath} is a Tessera ledger with this version's schema` });
    const integrity = damageOf(() => db.integrityCheck());
    const integrityOk = Array.isArray(integrity) && integrity.length === 1 && integrity[0] === 'ok';
    add({
      name: 'integrity_check',
      ok: integrityOk,
      detail: integrityOk
        ? 'ok'
        : Array.isArray(integrity)
          ? `${integrity.length} problem${integrity.length === 1 ? '' : 's'}, first: ${oneLine(integrity[0] ?? '')}`
          : integrity,
    });
    const blake3 = deps.blake3 ?? (await loadBlake3());
    const receipts = damageOf(() => verifyReceipts(db, blake3));
    if (typeof receipts === 'string')
      add({ name: 'receipts', ok: false, detail: `could not read every receipt: ${receipts}` });
    else {
      add({
        name: 'receipts',
        ok: receipts.damaged.length === 0,
        detail:
          receipts.damaged.length === 0
            ? `${receipts.checked} re-verified`
            : `${receipts.damaged.length} of ${receipts.checked} fail re-verification: ${receipts.damaged
                .slice(0, MAX_NAMED)
                .map((d) => `${d.key} (${d.reason})`)
                .join('; ')}${receipts.damaged.length > MAX_NAMED ? '; …' : ''}`,
      });
    }
    const conservation = damageOf(() => new LedgerRepo(db).checkConservation());
    if (typeof conservation === 'string')
      add({ name: 'conservation', ok: false, detail: `could not read the ledger: ${conservation}` });
    else {
      add({
        name: 'conservation',
        ok: conservation.ok,
        detail: conservation.ok
          ? `balances total ${conservation.total} = minted ${conservation.minted} − burned ${conservation.burned}`
          : conservation.problems.slice(0, MAX_NAMED).join('; '),
      });
    }
    const bundles = damageOf(() => verifyBundles(db, dataDir.bundlesDir, blake3));
    if (typeof bundles === 'string')
      add({ name: 'bundles', ok: false, detail: `could not read the courier receipts: ${bundles}` });
    else {
      add({
        name: 'bundles',
        ok: bundles.damaged.length === 0,
        detail:
          bundles.damaged.length === 0
            ? `${bundles.checked} courier bundle${bundles.checked === 1 ? '' : 's'} verified`
            : `${bundles.damaged.length} courier bundle${bundles.damaged.length === 1 ? '' : 's'} damaged or missing: ${bundles.damaged
                .slice(0, MAX_NAMED)
                .map((d) => `${d.hash} (${d.reason})`)
                .join('; ')}${bundles.damaged.length > MAX_NAMED ? '; …' : ''}`,
      });
    }
  } finally {
    db.close();
  }
  return report;
}

function verifyReceipts(
  db: Database,
  blake3: Blake3Hasher,
): { checked: number; damaged: { key: string; reason: string }[] } {
  let checked = 0;
  const damaged: { key: string; reason: string }[] = [];
  for (const row of new ReceiptRepo(db).iterateAll()) {
    checked++;
    try {
      const r = parseReceipt(JSON.parse(row.payload), blake3);
      if (r.idempotency_key !== row.idempotency_key) throw new ReceiptError('stored under a different key');
    } catch (err) {
      damaged.push({ key: row.idempotency_key, reason: oneLine(errorMessage(err)) });
    }
  }
  return { checked, damaged };
}

/**
 * Every stored courier bundle re-hashed (its BLAKE3 must equal its name), and every pending
 * receipt's bundle present: a damaged or missing one cannot be forwarded.
 */
function verifyBundles(
  db: Database,
  dir: string,
  blake3: Blake3Hasher,
): { checked: number; damaged: { hash: string; reason: string }[] } {
  const store = new BundleStore(dir, blake3);
  const { checked, damaged } = store.verifyAll();
  const seen = new Set(damaged.map((d) => d.hash));
  for (const r of new CourierRepo(db).iterate(true)) {
    if (seen.has(r.bundle_hash) || existsSync(store.pathFor(r.bundle_hash))) continue;
    seen.add(r.bundle_hash);
    damaged.push({ hash: r.bundle_hash, reason: `missing; pending receipt ${r.id} needs it` });
  }
  return { checked, damaged };
}

/** Runs a read; a DB_DAMAGED failure becomes its message (reported), anything else is thrown. */
function damageOf<T>(read: () => T): T | string {
  try {
    return read();
  } catch (err) {
    if (err instanceof StorageError && err.code === 'DB_DAMAGED') return err.message;
    throw err;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').slice(0, 200);
}
