import { join } from 'node:path';
import { makeReceipt, type Receipt } from '../../src/core/ledger/receipt.js';
import { Database } from '../../src/main/db/database.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { createMetricsRegistry } from '../../src/main/metrics.js';
import { SettlementService } from '../../src/main/services/settlement-service.js';
import { signReceipt } from '../../src/node/signing/receipt-signing.js';
import { ed25519SignerFromSeed } from '../../src/node/signing/result-signing.js';

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

/** The market the CLI tests' receipts files come from, and its receipt key (a fixed seed). */
export const TEST_MARKET = 'test-market';
export const testMarketSigner = ed25519SignerFromSeed(new Uint8Array(32).fill(0x5e));

/** A receipt issued and signed by TEST_MARKET (buyer `market:test-market`), as a market sends it. */
export function signedReceipt(job: string, price: bigint, provider = 'provider'): Receipt {
  return signReceipt(receipt(job, price, `market:${TEST_MARKET}`, provider), TEST_MARKET, testMarketSigner);
}
