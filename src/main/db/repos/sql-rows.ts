import type { SqlQuery, SqlValue } from '../sql.js';

/** The largest number of rows one multi-row INSERT of a batch carries. */
export const MAX_ROWS_PER_INSERT = 64;

const texts = new Map<string, Map<number, string>>();

/**
 * Writes `rows` with multi-row INSERTs: `head` is an `sql` INSERT … VALUES without values,
 * each row a tuple of bound values (never spliced into the text). Rows go in chunks of 64, 32,
 * 16, … 1 (largest first, order kept), so a batch uses at most seven statement texts, each
 * built and prepared once.
 */
export function insertRows(
  run: (q: SqlQuery) => number,
  head: SqlQuery,
  width: number,
  rows: readonly (readonly SqlValue[])[],
): void {
  if (head.values.length > 0) throw new Error('insertRows: the INSERT head must not bind values');
  let bySize = texts.get(head.text);
  if (!bySize) texts.set(head.text, (bySize = new Map()));
  const tuple = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  let i = 0;
  for (let size = MAX_ROWS_PER_INSERT; size >= 1; size >>= 1) {
    while (rows.length - i >= size) {
      let text = bySize.get(size);
      if (text === undefined)
        bySize.set(size, (text = `${head.text} ${Array.from({ length: size }, () => tuple).join(', ')}`));
      const values: SqlValue[] = [];
      for (let r = i; r < i + size; r++) {
        const row = rows[r] as readonly SqlValue[];
        if (row.length !== width) throw new Error(`insertRows: a row has ${row.length} values, expected ${width}`);
        for (const v of row) values.push(v);
      }
      run({ text, values });
      i += size;
    }
  }
}
