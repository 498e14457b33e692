/**
 * Checks every string of a parsed JSON value — object keys as well as values — for what no
 * store can keep and no other implementation reads the same way: NUL (U+0000, which PostgreSQL
 * refuses in TEXT and JSONB) and lone UTF-16 surrogates (`"\ud800"` is valid JSON text but not
 * Unicode; UTF-8 cannot encode it). It also refuses the key `__proto__`, which no schema has and
 * which some object operations (Object.assign, `obj[key] = …`) would turn into a prototype change.
 */

/** What is wrong with a string of a JSON value, and where (a dotted path, `""` for the value itself). */
export interface JsonTextProblem {
  /** Dotted path to the string (`payload.prompt`, `in_flight.3`); `""` for the top-level value. */
  path: string;
  /** One line: what is wrong with it (without the path). */
  problem: string;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with one string, or undefined when it is well-formed Unicode without NUL. */
export function textProblem(s: string): string | undefined {
  const nul = s.indexOf('\u0000');
  if (nul !== -1) return `contains a NUL character (\\u0000) at index ${nul}; strings may not contain NUL`;
  const m = LONE_SURROGATE.exec(s);
  if (m) {
    const hex = (m[0].codePointAt(0) ?? 0).toString(16);
    return `contains a lone UTF-16 surrogate (\\u${hex}) at index ${m.index}; strings must be well-formed Unicode`;
  }
  return undefined;
}

/**
 * The first problem among the strings of `value` (a value JSON.parse returned), depth-first in
 * document order, or undefined. Iterative, so a deeply nested value cannot overflow the stack.
 */
export function findJsonTextProblem(value: unknown): JsonTextProblem | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
  while (stack.length > 0) {
    const { v, path } = stack.pop() as { v: unknown; path: string };
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { path, problem };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: join(path, String(i)) });
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (const key of keys) {
        if (key === '__proto__')
          return { path: join(path, key), problem: 'the key "__proto__" is not allowed (no field has that name)' };
        const problem = textProblem(key);
        if (problem) return { path: join(path, JSON.stringify(key)), problem: `key ${problem}` };
      }
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        stack.push({ v: (v as Record<string, unknown>)[key], path: join(path, key) });
      }
    }
  }
  return undefined;
}
