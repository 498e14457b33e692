import type { SqlConn } from './driver.js';
import { sql } from './sql.js';

export interface SliceRecord {
  taskId: string;
  n: number;
  bytes: number;
  blake3: string;
}

/** Uploaded input slices of a task (the bytes live on disk under the market data dir). */
export class SlicesRepo {
  constructor(private readonly c: SqlConn) {}

  /** Records slice n (replacing an earlier upload of the same n). */
  async put(s: SliceRecord, now: number): Promise<void> {
    await this.c.query(sql`
      INSERT INTO task_slices (task_id, n, bytes, blake3, created_at) VALUES (${s.taskId}, ${s.n}, ${s.bytes}, ${s.blake3}, ${now})
      ON CONFLICT (task_id, n) DO UPDATE SET bytes = EXCLUDED.bytes, blake3 = EXCLUDED.blake3, created_at = EXCLUDED.created_at`);
  }

  async list(taskId: string): Promise<SliceRecord[]> {
    const rows = await this.c.query<{ n: number; bytes: bigint; blake3: string }>(
      sql`SELECT n, bytes, blake3 FROM task_slices WHERE task_id = ${taskId} ORDER BY n`,
    );
    return rows.map((r) => ({ taskId, n: r.n, bytes: Number(r.bytes), blake3: r.blake3 }));
  }
}
