/**
 * The market's `sql` tag for PostgreSQL: every interpolated value becomes a `$n` parameter, so no
 * value is ever spliced into SQL text. Nested `sql` fragments are spliced with their bindings
 * renumbered. bigint values travel as decimal text (both drivers cast them by column type).
 */
export type PgValue = string | number | bigint | boolean | null | Uint8Array;

export interface PgQuery {
  readonly strings: readonly string[];
  readonly values: readonly PgValue[];
}

const FRAGMENT = Symbol('pg-fragment');
interface Fragment extends PgQuery {
  readonly [FRAGMENT]: true;
}

/** Builds a parameterised query or fragment. */
export function sql(strings: TemplateStringsArray, ...params: (PgValue | PgQuery)[]): PgQuery {
  const outStrings: string[] = [strings[0] as string];
  const values: PgValue[] = [];
  params.forEach((p, i) => {
    if (typeof p === 'object' && p !== null && FRAGMENT in p) {
      const frag = p as Fragment;
      outStrings[outStrings.length - 1] += frag.strings[0] as string;
      frag.values.forEach((v, j) => {
        values.push(v);
        outStrings.push(frag.strings[j + 1] as string);
      });
      outStrings[outStrings.length - 1] += strings[i + 1] as string;
    } else {
      values.push(p as PgValue);
      outStrings.push(strings[i + 1] as string);
    }
  });
  const q: Fragment = { strings: outStrings, values, [FRAGMENT]: true };
  return q;
}

/** The text with `$1…$n` placeholders and the bound values, ready for a driver. */
export function compile(q: PgQuery): { text: string; values: (string | number | boolean | null | Uint8Array)[] } {
  let text = q.strings[0] as string;
  q.values.forEach((_, i) => {
    text += `$${i + 1}${q.strings[i + 1] as string}`;
  });
  return { text, values: q.values.map((v) => (typeof v === 'bigint' ? v.toString() : v)) };
}

/**
 * A PostgreSQL array literal of these texts, every element quoted (so any text is safe), for
 * `= ANY(${pgArray(ids)}::uuid[])`. An array parameter lets the planner probe an index once per
 * element; a `jsonb_array_elements` sub-select is estimated at 100 rows and may hash a whole table.
 */
export function pgArray(values: Iterable<string>): string {
  return `{${Array.from(values, (v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/** Rows as one JSON parameter (bigint values as decimal strings; JSON keeps any text safe). */
export function jsonRows(rows: readonly object[]): string {
  return JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * Rows sent as one JSON parameter, as a FROM item to join or update from: `${recordset(rows,
 * sql`x(job_id uuid, n integer)`)} AS x`. The `LIMIT` (their count) tells the planner how few rows
 * come: a bare `jsonb_to_recordset` is estimated at 100 rows whatever it holds, which made it hash
 * whole tables (a scan that grows with the table) where a handful of key probes do.
 */
export function recordset(rows: readonly object[], columns: PgQuery): PgQuery {
  return sql`(SELECT * FROM jsonb_to_recordset(${jsonRows(rows)}::jsonb) AS ${columns} LIMIT ${rows.length})`;
}
