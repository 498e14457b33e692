/**
 * The `sql` tagged template: every interpolated value becomes a bound `?` parameter, so no
 * value is ever spliced into SQL text. Identifiers (table names) can only come from
 * `identifier()` over a compile-time constant.
 */
export type SqlValue = string | number | bigint | Buffer | Uint8Array | null;

const IDENT = Symbol('sql-identifier');

/** A trusted identifier: only created from string literals in the code, never from input. */
export interface SqlIdentifier {
  readonly [IDENT]: string;
}

export function identifier<const T extends string>(name: T): SqlIdentifier {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid SQL identifier ${name}`);
  return { [IDENT]: name };
}

export interface SqlQuery {
  readonly text: string;
  readonly values: SqlValue[];
}

function isIdentifier(v: unknown): v is SqlIdentifier {
  return typeof v === 'object' && v !== null && IDENT in v;
}

function isQuery(v: unknown): v is SqlQuery {
  return typeof v === 'object' && v !== null && 'text' in v && 'values' in v && !(v instanceof Uint8Array);
}

/** Builds a parameterised query; nested `sql` fragments are spliced with their own bindings. */
export function sql(
  strings: TemplateStringsArray,
  ...params: (SqlValue | SqlIdentifier | SqlQuery | boolean)[]
): SqlQuery {
  let text = strings[0] as string;
  const values: SqlValue[] = [];
  params.forEach((p, i) => {
    if (isIdentifier(p)) text += `"${p[IDENT]}"`;
    else if (isQuery(p)) {
      text += p.text;
      values.push(...p.values);
    } else {
      text += '?';
      values.push(typeof p === 'boolean' ? (p ? 1 : 0) : p);
    }
    text += strings[i + 1] as string;
  });
  return { text, values };
}
