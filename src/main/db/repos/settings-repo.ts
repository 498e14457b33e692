import type { Database } from '../database.js';
import { sql } from '../sql.js';

/** Small key/value settings persisted with the ledger (e.g. the settlement mode). */
export class SettingsRepo {
  constructor(private readonly db: Database) {}

  get(key: string): string | undefined {
    return this.db.get<{ value: string }>(sql`SELECT value FROM settings WHERE key = ${key}`)?.value;
  }

  set(key: string, value: string): void {
    this.db.run(
      sql`INSERT INTO settings (key, value) VALUES (${key}, ${value}) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    );
  }
}
