import { TesseraError } from '../../core/errors.js';
import type { PublicErrorCode } from '../../shared/contract.js';

/**
 * Stable codes for storage problems. Each names one kind of cause, so the advice fits it:
 * only DB_DAMAGED says "damaged" (a permission, lock or I/O problem never does).
 */
export type StorageErrorCode =
  /** The file's contents are not a readable SQLite database (SQLITE_CORRUPT, SQLITE_NOTADB, quick_check failed). */
  | 'DB_DAMAGED'
  /** A SQLite database that is not a Tessera ledger (application_id differs, or foreign tables). */
  | 'DB_FOREIGN'
  /** Another process holds the write lock longer than the busy timeout (SQLITE_BUSY, SQLITE_LOCKED). */
  | 'DB_LOCKED'
  /** The operating system refused access (EACCES, EPERM, SQLITE_PERM). */
  | 'DB_PERMISSION'
  /** The disk or file system failed a read or write (SQLITE_IOERR*). */
  | 'DB_IO'
  /** No space left for the database (SQLITE_FULL). */
  | 'DB_FULL'
  /** No space (or quota) left for a file the node writes beside the ledger, e.g. a courier bundle (ENOSPC, EDQUOT). */
  | 'DISK_FULL'
  /** A write was attempted on a read-only file, file system or connection (SQLITE_READONLY*). */
  | 'DB_READONLY'
  /** The path cannot hold a database (a directory, a parent that is a file, …). */
  | 'DB_UNREADABLE'
  | 'DB_TOO_NEW'
  /** A read-only open found a schema older than this version's (pending migrations). */
  | 'DB_OUTDATED'
  | 'MIGRATION_EDITED'
  | 'DATA_DIR'
  /** Inspection of a data directory that does not exist. */
  | 'NO_DATA_DIR'
  /** No ledger.db (or an empty one) where a ledger is expected. */
  | 'LEDGER_MISSING';

/** Every storage code is a public contract code, so it reaches the UI as itself, not as INTERNAL (a compile error otherwise). */
export const STORAGE_CODES_ARE_PUBLIC: StorageErrorCode extends PublicErrorCode ? true : never = true;

/** A storage problem a person must act on: names the file and what to do. Never auto-repaired. */
export class StorageError extends TesseraError {
  constructor(
    override readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown; exitCode?: number; sqliteCode?: string },
  ) {
    super(code, message, options);
    this.name = 'StorageError';
    this.sqliteCode = options?.sqliteCode;
  }

  /** The SQLite result code behind this error (`SQLITE_BUSY`, …), when there was one. */
  readonly sqliteCode: string | undefined;
}
