/**
 * Cost of the `PRAGMA quick_check` that Database.open runs at every open (issue 8, defect 13),
 * on a ledger of N applied receipts (default 1,000,000; `npx tsx bench/quick-check.ts 200000`).
 * Builds the ledger with batched inserts (each receipt: its row plus the two postings of its
 * transfer), then times opening it with and without the check, and the full integrity_check.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeReceipt } from '../src/core/ledger/receipt.js';
import { Database } from '../src/main/db/database.js';
import { receiptPayload } from '../src/main/db/repos/receipt-repo.js';
import { sql } from '../src/main/db/sql.js';
import { loadBlake3 } from '../src/node/hash/node-hasher.js';
import { benchDir } from './common.js';

const n = Number(process.argv[2] ?? 1_000_000);
const path = join(benchDir, `quick-check-${n}.db`);
for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
const blake3 = await loadBlake3();

const build = Database.open(path);
build.run(sql`INSERT INTO accounts (id, balance) VALUES ('buyer', 0), ('provider', 0)`);
const t0 = performance.now();
const BATCH = 20_000;
for (let start = 0; start < n; start += BATCH) {
  build.transaction(() => {
    for (let i = start; i < Math.min(n, start + BATCH); i++) {
      const r = makeReceipt(
        {
          job_id: `job-${i}`,
          buyer: 'buyer',
          provider: 'provider',
          quote_price: BigInt(1 + (i % 9)),
          issued_at: 1_700_000_000_000 + i,
        },
        blake3,
      );
      build.run(
        sql`INSERT INTO receipts (idempotency_key, payload, status, recorded_at, applied_at) VALUES (${r.idempotency_key}, ${receiptPayload(r)}, 'applied', ${i}, ${i})`,
      );
      const event = `receipt:${r.idempotency_key}`;
      build.run(
        sql`INSERT INTO postings (event_id, account, amount, kind, memo, created_at) VALUES (${event}, 'buyer', ${-r.quote_price}, 'transfer', ${`job ${r.job_id}`}, ${i})`,
      );
      build.run(
        sql`INSERT INTO postings (event_id, account, amount, kind, memo, created_at) VALUES (${event}, 'provider', ${r.quote_price}, 'transfer', ${`job ${r.job_id}`}, ${i})`,
      );
    }
  });
}
build.close();
const mib = statSync(path).size / 2 ** 20;
console.log(
  `built ${n} receipts (${(n * 2).toLocaleString()} postings), ${mib.toFixed(0)} MiB, in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

function median(fn: () => void, reps = 5): number {
  fn(); // warm the page cache, as a second command in a row would find it
  const times = Array.from({ length: reps }, () => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  }).sort((a, b) => a - b);
  return times[Math.floor(reps / 2)] as number;
}
const open = (quickCheck: boolean) => () => Database.open(path, { readonly: true, quickCheck }).close();
const without = median(open(false));
const withCheck = median(open(true));
const integrity = median(() => {
  const db = Database.open(path, { readonly: true, quickCheck: false });
  db.integrityCheck();
  db.close();
}, 3);
console.log(`open without quick_check: ${without.toFixed(1)} ms`);
console.log(
  `open with quick_check:    ${withCheck.toFixed(1)} ms  (the check: ${(withCheck - without).toFixed(0)} ms, ${((withCheck - without) / mib).toFixed(2)} ms/MiB)`,
);
console.log(`integrity_check (doctor): ${integrity.toFixed(0)} ms`);
for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
