import { ACCOUNTS } from './accounts-repo.js';
import type { SqlConn } from './driver.js';
import { sql } from './sql.js';

export interface CustomerRecord {
  customerId: string;
  name: string;
  createdAt: number;
}

interface Row {
  customer_id: string;
  name: string;
  created_at: bigint;
  [k: string]: unknown;
}

const toRecord = (r: Row): CustomerRecord => ({
  customerId: r.customer_id,
  name: r.name,
  createdAt: Number(r.created_at),
});

/** Customers and their API key hashes (the key itself is never stored). */
export class CustomersRepo {
  constructor(private readonly c: SqlConn) {}

  /** Inserts a customer with its two accounts (`customer:<id>`, `escrow:<id>`); false when the name is taken. */
  async insert(c: CustomerRecord & { keyHash: string }): Promise<boolean> {
    const rows = await this.c.query(sql`
      INSERT INTO customers (customer_id, name, key_hash, created_at) VALUES (${c.customerId}, ${c.name}, ${c.keyHash}, ${c.createdAt})
      ON CONFLICT DO NOTHING RETURNING customer_id`);
    if (rows.length !== 1) return false;
    await this.c.query(sql`
      INSERT INTO accounts (account_id, kind) VALUES (${ACCOUNTS.customer(c.customerId)}, 'customer'), (${ACCOUNTS.escrow(c.customerId)}, 'escrow')
      ON CONFLICT (account_id) DO NOTHING`);
    return true;
  }

  async byKeyHash(keyHash: string): Promise<CustomerRecord | undefined> {
    const [r] = await this.c.query<Row>(
      sql`SELECT customer_id, name, created_at FROM customers WHERE key_hash = ${keyHash}`,
    );
    return r && toRecord(r);
  }

  async byName(name: string): Promise<CustomerRecord | undefined> {
    const [r] = await this.c.query<Row>(sql`SELECT customer_id, name, created_at FROM customers WHERE name = ${name}`);
    return r && toRecord(r);
  }

  async list(): Promise<CustomerRecord[]> {
    return (await this.c.query<Row>(sql`SELECT customer_id, name, created_at FROM customers ORDER BY name`)).map(
      toRecord,
    );
  }
}
