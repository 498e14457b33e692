/**
 * Structured logging: one JSON object per line, the message first.
 *
 * The convention: a module names its logger — `const log = createLogger('courier')` — and every
 * line it writes carries `module: 'courier'`. Lines go to one process-wide sink that the host sets
 * once (`setLogSink`; JSON lines on stderr until then). A service handed a logger by its host
 * names itself with `childLogger(logger, 'validator')`. An internal error is logged once, with
 * `errorFields(err)` (its message and stack).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** One log line before it is written: the message, its level and time, then its fields. */
export interface LogRecord {
  msg: string;
  level: LogLevel;
  time: string;
  [field: string]: unknown;
}

/** Where log records go (the process-wide one is set with `setLogSink`). */
export type LogSink = (record: LogRecord) => void;

/** A sink writing each record as one JSON line (bigints as strings, Errors as message + stack). */
export function jsonLineSink(write: (line: string) => void = (l) => process.stderr.write(l)): LogSink {
  return (record) => write(JSON.stringify(record, jsonSafe) + '\n');
}

let processSink: LogSink = jsonLineSink();

/** Sets the process-wide sink every `createLogger(module)` logger writes to; returns a function restoring the previous one. */
export function setLogSink(sink: LogSink): () => void {
  const previous = processSink;
  processSink = sink;
  return () => {
    processSink = previous;
  };
}

/** A logger whose every line goes to `sink` with `base` fields (a test capture, a worker's port). */
export function sinkLogger(sink: LogSink, base: Record<string, unknown> = {}): Logger {
  return fromLog((level, msg, fields) => sink({ msg, level, time: new Date().toISOString(), ...base, ...fields }));
}

/** The logger of one module: its lines carry `module` and go to the process-wide sink (read at each line, so a host may set it after import). */
export function createLogger(module: string, base: Record<string, unknown> = {}): Logger {
  const fixed = { module, ...base };
  return fromLog((level, msg, fields) =>
    processSink({ msg, level, time: new Date().toISOString(), ...fixed, ...fields }),
  );
}

/** A logger writing through `parent` with `module` on every line (for a service given its host's logger). */
export function childLogger(parent: Logger, module: string): Logger {
  return fromLog((level, msg, fields) => parent.log(level, msg, { module, ...fields }));
}

/** The fields an internal error is logged with: its one-line message and its stack (and code, when it has one). */
export function errorFields(err: unknown): { error: string; stack?: string; code?: string } {
  if (!(err instanceof Error)) return { error: String(err) };
  const code = (err as { code?: unknown }).code;
  return {
    error: err.message,
    ...(err.stack ? { stack: err.stack } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/** A logger that drops everything (tests, quiet CLI). */
export const silentLogger: Logger = { log() {}, info() {}, warn() {}, error() {} };

function fromLog(log: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void): Logger {
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
  return value;
}
