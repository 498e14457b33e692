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
