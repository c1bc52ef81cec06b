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
import { quoteIdent } from '../query/sql/ident.js';
import { arrayLiteral, finishRowsInput, inputType, type ExtraColumn, type RowsInput } from '../query/write/columns.js';

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

  const calls: string[] = [];
  const names: string[] = [];
  const out: string[] = [];
  const presence = new Map<string, string>();
  for (let j = 0; j < fields.length; j++) {
    const f = fields[j];
    const c = f.column;
    // A column listed twice reads the same values each time (as the generic function does).
    const first = slot.get(c)!;
    const values = columns[first];
    const count = counts[first];
    const t = inputType(model, entity, f);
    const name = quoteIdent(c);
    if (count === 0 || values === undefined) {
      presence.set(c, 'false');
      out.push(`NULL::${t.json ? 'jsonb' : (t.cast ?? t.param.slice(0, -2))} AS ${name}`);
      continue;
    }
    if (t.json) {
      const json: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) json[i] = values[i] === undefined ? null : values[i];
      calls.push(`jsonb_array_elements(${add(JSON.stringify(json))}::jsonb)`);
      out.push(`nullif(x.${name}, 'null'::jsonb) AS ${name}`);
    } else {
      calls.push(`unnest(${add(arrayLiteral(values))}::${t.param})`);
      out.push(t.cast ? `x.${name}::${t.cast} AS ${name}` : `x.${name}`);
    }
    names.push(name);
    if (count === n) {
      presence.set(c, 'true');
    } else {
      const p = quoteIdent(`$p:${c}`);
      const given: boolean[] = new Array(n);
      for (let i = 0; i < n; i++) given[i] = values[i] !== undefined;
      calls.push(`unnest(${add(arrayLiteral(given))}::boolean[])`);
      names.push(p);
      out.push(`x.${p}`);
      presence.set(c, p);
    }
  }
  return finishRowsInput({ calls, names, out, presence }, extra, add, n);
}
