/**
 * Keyset pagination: cursor strings built in SQL from row values, and the "row is after this cursor"
 * predicate over compiled ordering keys (`SqlKey`: own columns, to-one path values, rank, distance). Format and
 * value encodings are those of `src/query/cursor.ts`.
 *
 * Rank (`real`) and distance (`float8`) values travel as PostgreSQL's text output, which since PostgreSQL 12
 * is the shortest text that reads back as exactly the same value (with the default `extra_float_digits`), and
 * are compared with a parameter of the same type, so the row a cursor was taken from compares equal to it.
 */
import type { Entity, Field } from '../../model/types.js';
import type { Cursor } from '../plan.js';
import type { OrderingArgs } from '../order.js';
import { internal } from '../../errors.js';
import type { CompileContext } from './context.js';
import { isoTimestamp } from './json.js';
import { columnSqlType, scalarSqlType } from './params.js';
import { cursorFingerprint } from '../cursor.js';
import { reverseKeys, type SqlKey } from './order.js';

/** SQL expression of one key value in a cursor (see `cursor.ts` for the per-type encoding). */
function cursorValueSql(expr: string, field: Field): string {
  switch (field.type) {
    case 'datetime':
      return isoTimestamp(expr);
    case 'date':
      return `to_char(${expr}, 'YYYY-MM-DD')`;
    case 'string':
    case 'text':
    case 'json':
    case 'string[]':
      return expr;
    default:
      return `${expr}::text`;
  }
}

/**
 * The cursor string of the row whose key values are `keys` (expressions on the row's alias): base64url of
 * `json_build_array(fingerprint, v1, ..., vn)::text`. PostgreSQL's base64 breaks lines every 76 characters
 * and pads with `=`; `translate` maps `+/` to `-_` and deletes `=` and newlines, giving unpadded base64url
 * (RFC 4648 §5).
 * @param args the ordering arguments, for the fingerprint (search text and nearest vector when keys use them)
 */
export function cursorSql(ctx: CompileContext, entity: Entity, keys: readonly SqlKey[], args: OrderingArgs): string {
  const fp = ctx.params.add(cursorFingerprint(entity, keys.map((k) => k.key), args), 'text');
  const values = keys.map((k) => (k.field ? cursorValueSql(k.expr, k.field) : `${k.expr}::text`));
  const json = `json_build_array(${[fp, ...values].join(', ')})::text`;
  return `translate(encode(convert_to(${json}, 'UTF8'), 'base64'), E'+/=\\n', '-_')`;
}

/** Bind one decoded cursor value with the key's own type (enums as the enum type, so order is declared order). */
function cursorParam(ctx: CompileContext, k: SqlKey, value: unknown): string {
  if (k.key.kind === 'rank') return ctx.params.add(value, 'float4');
  if (k.key.kind === 'distance') return ctx.params.add(value, 'float8');
  const field = k.field;
  if (!field) throw internal('column key without a field');
  if (field.type === 'enum') return ctx.params.add(value, columnSqlType(ctx.model, field));
  return ctx.params.add(value, scalarSqlType(field.type));
}

/**
 * Rows strictly after `cursor` in the ordering `keys` (or at-or-after when `inclusive`), as an OR of ANDs:
 * `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...`, specialised at compile time for null cursor values:
 * - equality with a null value is `k IS NULL`;
 * - "after null" is `k IS NOT NULL` under NULLS FIRST and impossible under NULLS LAST;
 * - "after v" is `k > v` (`<` for DESC), `OR k IS NULL` under NULLS LAST for nullable keys.
 * Rows before a cursor are the rows after it under the reversed keys.
 */
export function afterCursor(ctx: CompileContext, keys: readonly SqlKey[], cursor: Cursor, inclusive = false): string {
  if (cursor.values.length !== keys.length) throw internal('cursor does not match the ordering keys');
  const eqs: string[] = [];
  const terms: string[] = [];
  keys.forEach((k, i) => {
    const c = k.expr;
    const v = cursor.values[i];
    let gt: string | null;
    let eq: string;
    if (v === null || v === undefined) {
      gt = k.key.nulls === 'FIRST' ? `${c} IS NOT NULL` : null;
      eq = `${c} IS NULL`;
    } else {
      const p = cursorParam(ctx, k, v);
      const cmp = `${c} ${k.key.direction === 'ASC' ? '>' : '<'} ${p}`;
      gt = k.key.nulls === 'LAST' && k.nullable ? `(${cmp} OR ${c} IS NULL)` : cmp;
      eq = `${c} = ${p}`;
    }
    if (gt !== null) terms.push([...eqs, gt].join(' AND '));
    eqs.push(eq);
  });
  if (inclusive) terms.push(eqs.join(' AND '));
  return terms.length === 0 ? 'false' : `(${terms.map((t) => `(${t})`).join(' OR ')})`;
}

/** Rows strictly before `cursor` under `keys` (at-or-before when `inclusive`). */
export function beforeCursor(ctx: CompileContext, keys: readonly SqlKey[], cursor: Cursor, inclusive = false): string {
  return afterCursor(ctx, reverseKeys(keys), cursor, inclusive);
}
