export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LEVELS)[number];

/** Whether a line at `level` shows under the filter `min`. */
export function atLeast(level: Level, min: Level): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(min);
}

/** The fields of a line as one string ("{"job_id":"…"}"); empty when it has none. */
function fieldsText(fields: Record<string, unknown>): string {
  return Object.keys(fields).length > 0 ? JSON.stringify(fields) : '';
}

/** Whether a line matches the search box: every word (case-insensitive) in its message, module, level or fields. */
export function matchesSearch(
  line: { msg: string; module: string | null; level: string; fields: Record<string, unknown> },
  query: string,
): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const text = `${line.level} ${line.module ?? ''} ${line.msg} ${fieldsText(line.fields)}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

/** Lines as plain text for the clipboard: "2026-12-07 12:03:04 INFO provider market connection {"state":"connected"}". */
export function logsAsText(
  lines: readonly {
    time: number;
    level: string;
    msg: string;
    module: string | null;
    fields: Record<string, unknown>;
  }[],
  formatTime: (ms: number) => string,
): string {
  return lines
    .map((l) =>
      [formatTime(l.time), l.level.toUpperCase(), l.module ?? '-', l.msg, fieldsText(l.fields)]
        .filter(Boolean)
        .join(' '),
    )
    .join('\n');
}
