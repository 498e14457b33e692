import type { LogLine } from '../../shared/contract.js';
import type { Logger, LogLevel } from '../../node/log.js';

/** Keeps the last `capacity` log lines for `logs:recent` and reports each one (the `log:line` event). */
export class LogBuffer {
  private readonly lines: LogLine[] = [];
  private readonly listeners = new Set<(line: LogLine) => void>();

  constructor(
    private readonly capacity = 2000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** A logger that writes here and to `next`; `module` names the writer in every line. */
  logger(module: string | null, next?: Logger): Logger {
    const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      next?.log(level, msg, { ...(module ? { module } : {}), ...fields });
      this.push({ time: this.now(), level, msg, module, fields: jsonFields(fields) });
    };
    return {
      log,
      info: (m, f) => log('info', m, f),
      warn: (m, f) => log('warn', m, f),
      error: (m, f) => log('error', m, f),
    };
  }

  recent(limit: number): LogLine[] {
    return this.lines.slice(-limit);
  }

  onDidLog(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private push(line: LogLine): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
    for (const l of [...this.listeners]) l(line);
  }
}

function jsonFields(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  return JSON.parse(
    JSON.stringify(fields, (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v,
    ),
  ) as Record<string, unknown>;
}
