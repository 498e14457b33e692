/**
 * The one error type for problems a person can fix: a stable `code` (machine-readable, kept
 * across releases) and a one-line `message` naming what was wrong and what to do. The CLI
 * prints `message` and exits with `exitCode`; the app contract and the market map `code`.
 * Anything that is not a TesseraError is a bug and keeps its stack.
 */
export class TesseraError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; exitCode?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TesseraError';
    this.exitCode = options?.exitCode ?? 2;
  }

  /** Process exit status the CLI uses for this error (2 = bad input unless a command says otherwise). */
  readonly exitCode: number;
}

/** True for a user-fixable error (any TesseraError subclass). */
export function isTesseraError(err: unknown): err is TesseraError {
  return err instanceof TesseraError;
}

/** The message of anything thrown: an Error's message, else the value as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
