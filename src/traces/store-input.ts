/**
 * The column-wise input of the traces store's merge statement (`store-sql.ts`): the same SQL text and bind
 * parameters as the generic {@link rowsInput} (`src/query/write/columns.ts`, whose module comment describes the
 * encoding), gathered in one pass over each row's own keys instead of one look-up per row and field.
 *
 * A traces row gives 10–20 of its entity's ~30 columns, so reading every field of every row (1,000 rows per
 * batch) cost more than the rows' own keys. Everything else — element types, array literals, JSON for `json`
 * columns, presence flags, the `SELECT` — is the generic function's, and `store-input.test.ts` checks the two
 * agree on every kind of value.
 */
import type { Entity, Field, Model } from '../model/types.js';
import { addInputColumn, finishRowsInput, inputType, type ExtraColumn, type RowsInput, type RowsInputParts } from '../query/write/columns.js';

/**
 * {@link rowsInput} with the rows' values gathered by their own keys: the same `select`, `has` and `given`,
 * and the same parameters registered through `add` in the same order.
 * @param rows column → JSON value (`undefined` or absent = not given); keys that are not columns of `fields`
 *        are ignored
 * @param add registers a bind parameter and returns its placeholder
 * @param extra boolean columns appended after the fields (the store's `$stub`)
 */
export function storeRowsInput(
  model: Model,
  entity: Entity,
  fields: readonly Field[],
  rows: readonly Readonly<Record<string, unknown>>[],
  add: (value: unknown) => string,
  extra: readonly ExtraColumn[] = [],
): RowsInput {
  const n = rows.length;
  const slot = new Map<string, number>();
  for (let j = 0; j < fields.length; j++) if (!slot.has(fields[j].column)) slot.set(fields[j].column, j);
  // Per field: its values (allocated at its first given value, `undefined` where a row does not give it).
  const columns: Array<unknown[] | undefined> = new Array(fields.length).fill(undefined);
  const counts = new Array<number>(fields.length).fill(0);
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    for (const key in row) {
      const v = row[key];
      if (v === undefined) continue;
      const j = slot.get(key);
      if (j === undefined) continue;
      let values = columns[j];
      if (values === undefined) columns[j] = values = new Array(n).fill(undefined);
      values[i] = v;
      counts[j]++;
    }
  }

  const parts: RowsInputParts = { calls: [], names: [], out: [], presence: new Map() };
  for (let j = 0; j < fields.length; j++) {
    const f = fields[j];
    // A column listed twice reads the same values each time (as the generic function does).
    const first = slot.get(f.column)!;
    addInputColumn(parts, inputType(model, entity, f), f.column, columns[first], counts[first], add);
  }
  return finishRowsInput(parts, extra, add, n);
}
