import type { SqlConn } from './driver.js';
import { sql } from './sql.js';

/** A courier receipt the market accepted (and credited once). */
export interface CourierInboxRecord {
  receiptId: string;
  /** The forwarding node's Ed25519 public key, hex. */
  nodeId: string;
  /** The node's `cpc1…` address: its worker account was credited `reward`. */
  address: string;
  bundleHash: string;
  bytes: number;
  sender: string;
  createdAt: number;
  signature: string;
  /** micro-CPC credited when the receipt was first accepted. */
  reward: bigint;
  receivedAt: number;
}

interface Row {
  receipt_id: string;
  node_id: string;
  address: string;
  bundle_hash: string;
  bytes: bigint;
  sender: string;
  created_at: bigint;
  signature: string;
  reward: bigint;
  received_at: bigint;
}

const fromRow = (r: Row): CourierInboxRecord => ({
  receiptId: r.receipt_id,
  nodeId: r.node_id,
  address: r.address,
  bundleHash: r.bundle_hash,
  bytes: Number(r.bytes),
  sender: r.sender,
  createdAt: Number(r.created_at),
  signature: r.signature,
  reward: BigInt(r.reward),
  receivedAt: Number(r.received_at),
});

/** The market's courier inbox: one row per receipt id, so a retried flush never credits twice. */
export class CourierInboxRepo {
  constructor(private readonly c: SqlConn) {}

  /**
   * Inserts the receipt unless its id is already known; true when this call inserted it. A
   * concurrent insert of the same id waits for the other transaction and then inserts nothing.
   */
  async insert(r: CourierInboxRecord): Promise<boolean> {
    const rows = await this.c.query(sql`
      INSERT INTO courier_receipts (receipt_id, node_id, address, bundle_hash, bytes, sender, created_at, signature, reward, received_at)
      VALUES (${r.receiptId}, ${r.nodeId}, ${r.address}, ${r.bundleHash}, ${r.bytes}, ${r.sender}, ${r.createdAt}, ${r.signature}, ${r.reward}, ${r.receivedAt})
      ON CONFLICT (receipt_id) DO NOTHING
      RETURNING receipt_id`);
    return rows.length === 1;
  }

  async get(receiptId: string): Promise<CourierInboxRecord | undefined> {
    const [r] = await this.c.query<Row & Record<string, unknown>>(
      sql`SELECT * FROM courier_receipts WHERE receipt_id = ${receiptId}`,
    );
    return r ? fromRow(r) : undefined;
  }

  /** Postings legs whose event id starts with `eventPrefix` (audit: each credited receipt has two). */
  async postingLegs(eventPrefix: string): Promise<number> {
    const [r] = await this.c.query<{ n: bigint }>(
      sql`SELECT count(*)::BIGINT AS n FROM postings WHERE starts_with(event_id, ${eventPrefix})`,
    );
    return Number(r?.n ?? 0n);
  }

  async count(): Promise<number> {
    const [r] = await this.c.query<{ n: bigint }>(sql`SELECT count(*)::BIGINT AS n FROM courier_receipts`);
    return Number(r?.n ?? 0n);
  }
}
