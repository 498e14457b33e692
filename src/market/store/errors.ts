import { TesseraError } from '../../core/errors.js';

/** The store cannot be opened or its schema does not match this version (user-fixable). */
export class MarketStoreError extends TesseraError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'MarketStoreError';
  }
}
