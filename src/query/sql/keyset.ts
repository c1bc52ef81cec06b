/**
 * Keyset pagination: cursor strings built in SQL from row values, and the "row is after this cursor"
 * predicate. Format and value encodings are those of `src/query/cursor.ts`.
 */
import type { Entity, Field } from '../../model/types.js';
import type { Cursor, OrderItem } from '../plan.js';
import { internal } from '../../errors.js';
import { col, type CompileContext } from './context.js';
import { isoTimestamp } from './json.js';
import { columnSqlType, scalarSqlType } from './params.js';
import { cursorFingerprint } from '../cursor.js';
import { reverseOrder } from './order.js';

/** SQL expression of one key value in a cursor (see `cursor.ts` for the per-type encoding). */
function cursorValueSql(alias: string, field: Field): string {
  const c = col(alias, field.column);
  switch (field.type) {
    case 'datetime':
      return isoTimestamp(c);
    case 'date':
      return `to_char(${c}, 'YYYY-MM-DD')`;
    case 'string':
    case 'text':
    case 'json':
    case 'string[]':
      return c;
    default:
      return `${c}::text`;
  }
}

/**
 * The cursor string of the row under `alias`: base64url of `json_build_array(fingerprint, v1, ..., vn)::text`.
 * PostgreSQL's base64 breaks lines every 76 characters and pads with `=`; `translate` maps `+/` to `-_` and
 * deletes `=` and newlines, giving unpadded base64url (RFC 4648 §5).
 */
export function cursorSql(ctx: CompileContext, entity: Entity, alias: string, keys: readonly OrderItem[]): string {
  const fp = ctx.params.add(cursorFingerprint(entity, keys), 'text');
  const values = keys.map((k) => cursorValueSql(alias, ctx.field(entity, k.column)));
  const json = `json_build_array(${[fp, ...values].join(', ')})::text`;
  return `translate(encode(convert_to(${json}, 'UTF8'), 'base64'), E'+/=\\n', '-_')`;
}

/** Bind one decoded cursor value with the column's own type (enums as the enum type, so order is declared order). */
function cursorParam(ctx: CompileContext, field: Field, value: unknown): string {
  if (field.type === 'enum') return ctx.params.add(value, columnSqlType(ctx.model, field));
  return ctx.params.add(value, scalarSqlType(field.type));
}

/**
 * Rows strictly after `cursor` in the ordering `keys` (or at-or-after when `inclusive`), as an OR of ANDs:
 * `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...`, specialised at compile time for null cursor values:
 * - equality with a null value is `k IS NULL`;
 * - "after null" is `k IS NOT NULL` under NULLS FIRST and impossible under NULLS LAST;
 * - "after v" is `k > v` (`<` for DESC), `OR k IS NULL` under NULLS LAST for nullable columns.
 * Rows before a cursor are the rows after it under `reverseOrder(keys)`.
 */
export function afterCursor(
  ctx: CompileContext,
  entity: Entity,
  alias: string,
  keys: readonly OrderItem[],
  cursor: Cursor,
  inclusive = false,
): string {
  if (cursor.values.length !== keys.length) throw internal('cursor does not match the ordering keys');
  const eqs: string[] = [];
  const terms: string[] = [];
  keys.forEach((k, i) => {
    const field = ctx.field(entity, k.column);
    const c = col(alias, k.column);
    const v = cursor.values[i];
    let gt: string | null;
    let eq: string;
    if (v === null || v === undefined) {
      gt = k.nulls === 'FIRST' ? `${c} IS NOT NULL` : null;
      eq = `${c} IS NULL`;
    } else {
      const p = cursorParam(ctx, field, v);
      const cmp = `${c} ${k.direction === 'ASC' ? '>' : '<'} ${p}`;
      gt = k.nulls === 'LAST' && !field.required ? `(${cmp} OR ${c} IS NULL)` : cmp;
      eq = `${c} = ${p}`;
    }
    if (gt !== null) terms.push([...eqs, gt].join(' AND '));
    eqs.push(eq);
  });
  if (inclusive) terms.push(eqs.join(' AND '));
  return terms.length === 0 ? 'false' : `(${terms.map((t) => `(${t})`).join(' OR ')})`;
}

/** Rows strictly before `cursor` under `keys` (at-or-before when `inclusive`). */
export function beforeCursor(
  ctx: CompileContext,
  entity: Entity,
  alias: string,
  keys: readonly OrderItem[],
  cursor: Cursor,
  inclusive = false,
): string {
  return afterCursor(ctx, entity, alias, reverseOrder(keys), cursor, inclusive);
}
