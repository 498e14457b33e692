import type { SqlConn } from './driver.js';
import { sql } from './sql.js';

export interface SliceRecord {
  taskId: string;
  n: number;
  bytes: number;
  blake3: string;
}

/** One stored piece of an upload's bytes (`task_slice_chunks`). */
export interface SliceChunk {
  uploadId: string;
  taskId: string;
  n: number;
  chunkNo: number;
  byteOffset: number;
  data: Uint8Array;
}

/**
 * Uploaded input slices of a task. The bytes live in the store, in chunks (`task_slice_chunks`)
 * under an upload id, so every market instance sharing the store reads them. An upload writes
 * its chunks first; `put` then points the slice at them in one transaction, so a failed upload
 * leaves the slice it would have replaced as it was.
 */
export class SlicesRepo {
  constructor(private readonly c: SqlConn) {}

  /**
   * Records slice n stored under `uploadId` (replacing an earlier upload of the same n); returns
   * the upload it replaced, whose chunks the caller drops in the same transaction.
   */
  async put(s: SliceRecord & { uploadId: string }, now: number): Promise<string | undefined> {
    const [old] = await this.c.query<{ upload_id: string | null }>(
      sql`SELECT upload_id FROM task_slices WHERE task_id = ${s.taskId} AND n = ${s.n} FOR UPDATE`,
    );
    await this.c.query(sql`
      INSERT INTO task_slices (task_id, n, bytes, blake3, created_at, upload_id)
      VALUES (${s.taskId}, ${s.n}, ${s.bytes}, ${s.blake3}, ${now}, ${s.uploadId})
      ON CONFLICT (task_id, n) DO UPDATE SET bytes = EXCLUDED.bytes, blake3 = EXCLUDED.blake3,
        created_at = EXCLUDED.created_at, upload_id = EXCLUDED.upload_id`);
    return old?.upload_id ?? undefined;
  }

  async list(taskId: string): Promise<SliceRecord[]> {
    const rows = await this.c.query<{ n: number; bytes: bigint; blake3: string }>(
      sql`SELECT n, bytes, blake3 FROM task_slices WHERE task_id = ${taskId} ORDER BY n`,
    );
    return rows.map((r) => ({ taskId, n: r.n, bytes: Number(r.bytes), blake3: r.blake3 }));
  }

  /**
   * Stores one chunk of an upload (not yet part of any slice until `put` names its upload). Its
   * transaction commits without waiting for the WAL flush: a chunk matters only once `put`
   * commits, and that (synchronous) commit flushes the WAL of every chunk before it; a crash
   * before then loses chunks of an upload that was never answered 201.
   */
  async putChunk(chunk: SliceChunk, now: number): Promise<void> {
    await this.c.query(sql`SET LOCAL synchronous_commit TO off`);
    await this.c.query(sql`
      INSERT INTO task_slice_chunks (upload_id, chunk_no, task_id, n, byte_offset, data, created_at)
      VALUES (${chunk.uploadId}, ${chunk.chunkNo}, ${chunk.taskId}, ${chunk.n}, ${chunk.byteOffset}, ${chunk.data}, ${now})`);
  }

  /** How many bytes are stored under an upload (read from the chunks' headers, not their data). */
  async uploadBytes(uploadId: string): Promise<number> {
    const [r] = await this.c.query<{ b: bigint }>(
      sql`SELECT COALESCE(sum(octet_length(data)), 0)::bigint AS b FROM task_slice_chunks WHERE upload_id = ${uploadId}`,
    );
    return Number(r?.b ?? 0n);
  }

  /** How many bytes are stored in chunks for a task, whether or not a slice points at them yet. */
  async taskBytes(taskId: string): Promise<number> {
    const [r] = await this.c.query<{ b: bigint }>(
      sql`SELECT COALESCE(sum(octet_length(data)), 0)::bigint AS b FROM task_slice_chunks WHERE task_id = ${taskId}`,
    );
    return Number(r?.b ?? 0n);
  }

  /** Drops the chunks of one upload (a refused or replaced one). */
  async dropUpload(uploadId: string): Promise<void> {
    await this.c.query(sql`DELETE FROM task_slice_chunks WHERE upload_id = ${uploadId}`);
  }

  /** Drops every chunk of a task (its draft is deleted). */
  async dropTask(taskId: string): Promise<void> {
    await this.c.query(sql`DELETE FROM task_slice_chunks WHERE task_id = ${taskId}`);
  }

  /**
   * Bytes [offset, offset + length) of slice n; undefined when the slice's bytes are not in the
   * store (no such slice, a slice recorded before the bytes moved into the store and not yet
   * imported, or fewer bytes stored than asked for).
   */
  async read(taskId: string, n: number, offset: number, length: number): Promise<Uint8Array | undefined> {
    const end = offset + length;
    // Only the asked-for part of each chunk travels (chunks are stored uncompressed, so PostgreSQL reads only that part).
    const rows = await this.c.query<{ upload_id: string | null; part: Uint8Array | null }>(sql`
      SELECT s.upload_id,
        substring(c.data FROM (greatest(${offset}::bigint, c.byte_offset) - c.byte_offset + 1)::int
          FOR (least(${end}::bigint, c.byte_offset + octet_length(c.data)) - greatest(${offset}::bigint, c.byte_offset))::int) AS part
      FROM task_slices s
      LEFT JOIN task_slice_chunks c ON c.upload_id = s.upload_id
        AND c.byte_offset < ${end}::bigint AND c.byte_offset + octet_length(c.data) > ${offset}::bigint
      WHERE s.task_id = ${taskId} AND s.n = ${n}
      ORDER BY c.chunk_no`);
    const uploadId = rows[0]?.upload_id;
    if (uploadId === undefined || uploadId === null) return undefined;
    const parts = rows.flatMap((r) => (r.part ? [r.part] : []));
    const total = parts.reduce((sum, p) => sum + p.length, 0);
    if (total !== length) return undefined;
    return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
  }

  /** Slices recorded without their bytes in the store (written to a data dir before the bytes moved into the store). */
  async withoutBytes(): Promise<SliceRecord[]> {
    const rows = await this.c.query<{ task_id: string; n: number; bytes: bigint; blake3: string }>(
      sql`SELECT task_id, n, bytes, blake3 FROM task_slices WHERE upload_id IS NULL ORDER BY task_id, n`,
    );
    return rows.map((r) => ({ taskId: r.task_id, n: r.n, bytes: Number(r.bytes), blake3: r.blake3 }));
  }

  /** Points a slice recorded without bytes at an imported upload of the same bytes; false when it has bytes already (or changed). */
  async attachImported(s: SliceRecord, uploadId: string): Promise<boolean> {
    const rows = await this.c.query(sql`
      UPDATE task_slices SET upload_id = ${uploadId}
      WHERE task_id = ${s.taskId} AND n = ${s.n} AND upload_id IS NULL AND blake3 = ${s.blake3} AND bytes = ${s.bytes}
      RETURNING n`);
    return rows.length === 1;
  }

  /**
   * Drops chunks older than `before` that no slice points at: what an upload left when its
   * process died mid-stream (a live upload's chunks are younger). Returns how many.
   */
  async dropAbandoned(before: number): Promise<number> {
    const rows = await this.c.query(sql`
      DELETE FROM task_slice_chunks c WHERE c.created_at < ${before}
        AND NOT EXISTS (SELECT 1 FROM task_slices s WHERE s.upload_id = c.upload_id)
      RETURNING c.upload_id`);
    return rows.length;
  }
}
