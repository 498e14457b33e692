import { join } from 'node:path';
import { makeReceipt, type Receipt } from '../../src/core/ledger/receipt.js';
import { Database } from '../../src/main/db/database.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { createMetricsRegistry } from '../../src/main/metrics.js';
import { SettlementService } from '../../src/main/services/settlement-service.js';

export const blake3 = loadNativeBlake3();

/** A settlement service on a real SQLite file, with a controllable clock. */
export function openSettlement(dir: string, clock: { now: number }) {
  const db = Database.open(join(dir, 'ledger.db'));
  const registry = createMetricsRegistry();
  const service = new SettlementService({ db, blake3, registry, clock: { now: () => clock.now } });
  return { db, registry, service, close: () => db.close() };
}

export function receipt(job: string, price: bigint, buyer = 'buyer', provider = 'provider'): Receipt {
  return makeReceipt({ job_id: job, buyer, provider, quote_price: price, issued_at: 1_700_000_000_000 }, blake3);
}
