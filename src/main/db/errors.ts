import { TesseraError } from '../../core/errors.js';
/** A storage problem a person must act on: names the file and what to do. Never auto-repaired. */
export class StorageError extends TesseraError {
  constructor(
    override readonly code: 'DB_UNREADABLE' | 'DB_DAMAGED' | 'DB_TOO_NEW' | 'MIGRATION_EDITED' | 'DATA_DIR',
    message: string,
  ) {
    super(code, message);
    this.name = 'StorageError';
  }
}
