import { TesseraError } from '../core/errors.js';

/** A user error in the command line itself: printed as one line on stderr, exit code 2 by default. */
export class CliError extends TesseraError {
  constructor(message: string, exitCode = 2, code = 'USAGE') {
    super(code, message, { exitCode });
    this.name = 'CliError';
  }
}

/** Parses a positive integer option, naming the flag in the error. */
export function parsePositiveInt(
  value: string | undefined,
  flag: string,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new CliError(`${flag} must be an integer from 1 to ${max}, got "${value}"`);
  }
  return Number(value);
}
