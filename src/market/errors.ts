import { TesseraError } from '../core/errors.js';

/** A request the market refuses: a stable code, an HTTP status and extra fields for the JSON body. */
export class MarketError extends TesseraError {
  constructor(
    code: string,
    readonly status: number,
    message: string,
    readonly details: Record<string, string | number | { field: string; message: string }[]> = {},
  ) {
    super(code, message);
    this.name = 'MarketError';
  }
}

export const invalidField = (field: string, message: string): MarketError =>
  new MarketError('INVALID_FIELD', 400, `${field}: ${message}`, { field });
export const taskNotFound = (taskId: string): MarketError =>
  new MarketError('TASK_NOT_FOUND', 404, `no task ${taskId} for this customer; check the task_id`);
