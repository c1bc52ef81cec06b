/**
 * JSON building blocks: object construction that keeps key order and survives PostgreSQL's 100-argument
 * function limit, constant strings, and the JSON form of each column type.
 */
import type { Field } from '../../model/types.js';
import type { CompileContext } from './context.js';
import { col } from './context.js';

/** Keys that are safe as SQL string literals (GraphQL names). Anything else becomes a bind parameter. */
const SAFE_LITERAL = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** Maximum key/value pairs per `json_build_object` call (FUNC_MAX_ARGS = 100 arguments). */
export const PAIRS_PER_CALL = 50;

/**
 * A constant text value: a literal `'name'::text` when it is a plain GraphQL name (response keys, type
 * names), otherwise a bind parameter (`$n::text`) — values never enter the SQL text.
 */
export function textConst(ctx: CompileContext, value: string): string {
  return SAFE_LITERAL.test(value) ? `'${value}'::text` : ctx.params.add(value, 'text');
}

/**
 * `json_build_object(k1, v1, ...)` over `[responseKey, sqlExpression]` pairs, in order (type `json`, whose text
 * keeps key order; `jsonb` would reorder keys). With more than 50 pairs the object is built in chunks of 50
 * and merged textually: `(left(c1::text, -1) || ', ' || substr(c2::text, 2))::json` — every chunk is a
 * non-empty object, so dropping the first chunk's `}` and the next chunk's `{` joins them exactly.
 */
export function jsonObject(ctx: CompileContext, pairs: ReadonlyArray<readonly [string, string]>): string {
  if (pairs.length === 0) return `'{}'::json`;
  const chunks: string[] = [];
  for (let i = 0; i < pairs.length; i += PAIRS_PER_CALL) {
    const args = pairs.slice(i, i + PAIRS_PER_CALL).map(([k, v]) => `${textConst(ctx, k)}, ${v}`);
    chunks.push(`json_build_object(${args.join(', ')})`);
  }
  if (chunks.length === 1) return chunks[0];
  const parts = chunks.map((c, i) => {
    const first = i === 0;
    const last = i === chunks.length - 1;
    if (first) return `left(${c}::text, -1)`;
    if (last) return `substr(${c}::text, 2)`;
    return `substr(left(${c}::text, -1), 2)`;
  });
  return `(${parts.join(` || ', ' || `)})::json`;
}

/** SQL format of timestamps in results and cursors: ISO-8601 in UTC with microseconds, e.g. `2026-01-02T03:04:05.123456Z`. */
export function isoTimestamp(expr: string): string {
  return `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/**
 * The JSON value of a column in results (SPEC G-9):
 * - `decimal` → string (exact; `numeric::text`), `bigint` → JSON number (exact up to 2^53; larger values lose
 *   precision in JavaScript clients — documented limitation),
 * - `datetime` → ISO-8601 UTC string with microseconds (independent of the session TimeZone/DateStyle),
 * - `json` → the JSON value itself, `string[]` → JSON array, others → `to_json` semantics
 *   (uuid/enum/text/date → string, int/float → number, boolean → boolean),
 * - `vector` → JSON array of numbers under both storages (SPEC S-5): `col::real[]` is pgvector's own cast of
 *   `vector(n)` (and a no-op on `real[]` columns); `real` values print as the shortest exact decimal.
 */
export function columnJson(alias: string, field: Field): string {
  const c = col(alias, field.column);
  switch (field.type) {
    case 'decimal':
      return `${c}::text`;
    case 'datetime':
      return isoTimestamp(c);
    case 'vector':
      return `to_json(${c}::real[])`;
    default:
      return c;
  }
}
