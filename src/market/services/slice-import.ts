import { createReadStream, existsSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../node/log.js';
import type { SliceRecord } from '../store/slices-repo.js';
import { writeSliceChunks, type SliceChunkDeps } from './slice-chunks.js';

/** What one import pass did. */
export interface SliceImport {
  /** Slices whose file was moved into the store. */
  imported: number;
  /** Slices without bytes in the store whose file is not in this data dir (another instance's, or lost). */
  notHere: number;
  /** Files that did not match their recorded size and BLAKE3 (left in place). */
  mismatched: number;
}

/**
 * Moves into the store the slices that a market before slice bytes moved into the store wrote to
 * `<slicesDir>/<task_id>/<n>.slice`: each file is streamed in as chunks, checked against the
 * size and BLAKE3 recorded at upload, attached to its slice, and then deleted (empty folders
 * too). Runs at start, before the market serves; idempotent, and safe when several instances
 * run it on one store (a slice is attached once; the loser drops its copy). A file that does not
 * match is left where it is and logged; a slice whose file is in no data dir is reported by the
 * validator when it would be leased (its task fails and is refunded).
 */
export async function importSliceFiles(deps: SliceChunkDeps, slicesDir: string, logger: Logger): Promise<SliceImport> {
  const out: SliceImport = { imported: 0, notHere: 0, mismatched: 0 };
  if (!existsSync(slicesDir)) return out;
  const pending = await deps.store.transaction((tx) => tx.slices.withoutBytes());
  for (const s of pending) {
    const file = join(slicesDir, s.taskId, `${s.n}.slice`);
    if (!existsSync(file)) {
      out.notHere++;
      continue;
    }
    if (await importOne(deps, s, file, logger)) out.imported++;
    else out.mismatched++;
  }
  await removeEmptyDirs(slicesDir);
  if (out.imported > 0 || out.mismatched > 0 || out.notHere > 0)
    logger.info('moved uploaded slices from the data dir into the store', { dir: slicesDir, ...out });
  return out;
}

async function importOne(deps: SliceChunkDeps, s: SliceRecord, file: string, logger: Logger): Promise<boolean> {
  const tooLong = new Error(`longer than the ${s.bytes} bytes recorded`);
  let written;
  try {
    written = await writeSliceChunks(deps, s, createReadStream(file), (bytes) =>
      bytes > s.bytes ? tooLong : undefined,
    );
  } catch (err) {
    if (err !== tooLong) throw err;
    written = undefined;
  }
  if (!written || written.bytes !== s.bytes || written.blake3 !== s.blake3) {
    if (written) await deps.store.transaction((tx) => tx.slices.dropUpload(written.uploadId));
    logger.warn('a slice file does not match its upload; left in place, its task fails when its job is leased', {
      file,
      recordedBytes: s.bytes,
      recordedBlake3: s.blake3,
      ...(written ? { fileBytes: written.bytes, fileBlake3: written.blake3 } : {}),
    });
    return false;
  }
  const uploadId = written.uploadId;
  await deps.store.transaction(async (tx) => {
    // Another instance with a copy of the same file may have attached its own already.
    if (!(await tx.slices.attachImported(s, uploadId))) await tx.slices.dropUpload(uploadId);
  });
  await rm(file, { force: true });
  return true;
}

/** Removes the task folders left empty (and upload leftovers `*.part`), then the folder itself if empty. */
async function removeEmptyDirs(slicesDir: string): Promise<void> {
  for (const entry of await readdir(slicesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(slicesDir, entry.name);
    for (const f of await readdir(dir)) if (f.endsWith('.part')) await rm(join(dir, f), { force: true });
    await rmdir(dir).catch(() => undefined); // not empty: a file that did not match stays
  }
  await rmdir(slicesDir).catch(() => undefined);
}
