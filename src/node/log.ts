/** Structured logging: one JSON object per line, the message first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger writing JSON lines to `write` (stderr by default, so stdout stays for results). */
export function createLogger(write: (line: string) => void = (l) => process.stderr.write(l), base: Record<string, unknown> = {}): Logger {
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    write(JSON.stringify({ msg, level, time: new Date().toISOString(), ...base, ...fields }, bigintSafe) + '\n');
  };
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

/** A logger that drops everything (tests, quiet CLI). */
export const silentLogger: Logger = { log() {}, info() {}, warn() {}, error() {} };

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
