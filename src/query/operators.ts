/**
 * The filter operators of SPEC G-4 per field type: the one table GraphQL (`src/graphql/schema/filters.ts`),
 * REST (`src/rest/filter.ts`) and the SQL compiler (`src/query/sql/filter.ts`) all read, so an operator exists
 * for a type in every API or in none.
 *
 * | field type                                      | operators                                                     |
 * |-------------------------------------------------|---------------------------------------------------------------|
 * | string, text                                    | eq ne in not_in lt lte gt gte is_null like ilike starts_with contains |
 * | int, bigint, float, decimal, datetime, date     | eq ne in not_in lt lte gt gte is_null                         |
 * | enum (ranges in declared order)                 | eq ne in not_in lt lte gt gte is_null                         |
 * | uuid, ref and `id` (byte order; UUID v7 ids sort by creation time) | eq ne in not_in lt lte gt gte is_null      |
 * | boolean (no ranges: false < true says nothing)  | eq ne in not_in is_null                                       |
 * | json                                            | eq ne in not_in is_null contains (`@>`) has_key (`?`)         |
 * | string[]                                        | eq ne is_null contains (`@>`, every given element) overlaps (`&&`) |
 * | vector                                          | none: vectors are searched with `nearest` (SPEC G-6)          |
 *
 * Null semantics (compiled in `src/query/sql/filter.ts`): `ne` and `not_in` keep rows whose value is null;
 * every other comparison is false on a null value; `is_null: true|false` is the only way to test for null
 * (a null operand is refused by both APIs).
 */
import type { Field, FieldType } from '../model/types.js';
import type { CompareOp } from './plan.js';

/**
 * What an operator's operand is:
 * - `value`: one value of the field's type (for `string[]` that value is itself a list of strings; for `json`
 *   any JSON value);
 * - `values`: a list of values of the field's type (`in`, `not_in`);
 * - `boolean`: `true` or `false` (`is_null`);
 * - `text`: a string that is not a value of the field (patterns, `has_key`'s key).
 */
export type OperandShape = 'value' | 'values' | 'boolean' | 'text';

const EQUALITY: readonly CompareOp[] = ['eq', 'ne', 'in', 'not_in', 'is_null'];
const ORDERED: readonly CompareOp[] = ['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'is_null'];
const STRING: readonly CompareOp[] = [...ORDERED, 'like', 'ilike', 'starts_with', 'contains'];
const JSON_OPS: readonly CompareOp[] = [...EQUALITY, 'contains', 'has_key'];
const LIST_OPS: readonly CompareOp[] = ['eq', 'ne', 'is_null', 'contains', 'overlaps'];

const BY_TYPE: Readonly<Record<FieldType, readonly CompareOp[]>> = {
  string: STRING,
  text: STRING,
  int: ORDERED,
  bigint: ORDERED,
  float: ORDERED,
  decimal: ORDERED,
  datetime: ORDERED,
  date: ORDERED,
  enum: ORDERED,
  uuid: ORDERED,
  ref: ORDERED,
  boolean: EQUALITY,
  json: JSON_OPS,
  'string[]': LIST_OPS,
  vector: [],
};

/** Every operator of SPEC G-4, in the order the APIs list them. */
export const ALL_OPERATORS: readonly CompareOp[] = [...STRING, 'has_key', 'overlaps'];

/**
 * The operators that apply to a field, in a stable order (see the module table).
 * @returns an empty list for fields that cannot be filtered (vectors)
 */
export function operatorsFor(field: Pick<Field, 'type'>): readonly CompareOp[] {
  return BY_TYPE[field.type];
}

/** Whether `op` applies to `field` (see the module table). */
export function supportsOperator(field: Pick<Field, 'type'>, op: CompareOp): boolean {
  return BY_TYPE[field.type].includes(op);
}

/** The shape of `op`'s operand on `field` (see `OperandShape`). Only meaningful when `supportsOperator`. */
export function operandShape(field: Pick<Field, 'type'>, op: CompareOp): OperandShape {
  switch (op) {
    case 'is_null':
      return 'boolean';
    case 'in':
    case 'not_in':
      return 'values';
    case 'like':
    case 'ilike':
    case 'starts_with':
    case 'has_key':
      return 'text';
    case 'contains':
      return field.type === 'json' || field.type === 'string[]' ? 'value' : 'text';
    default:
      return 'value'; // eq ne lt lte gt gte; overlaps on string[] takes the list type itself
  }
}

/** One-line description of each operator (GraphQL descriptions, REST documentation and error messages). */
export const OPERATOR_DESCRIPTIONS: Readonly<Record<CompareOp, string>> = {
  eq: 'Equal to.',
  ne: 'Not equal to (rows where the field is null match too).',
  in: 'Equal to one of these values.',
  not_in: 'Equal to none of these values (rows where the field is null match too).',
  lt: 'Less than.',
  lte: 'Less than or equal to.',
  gt: 'Greater than.',
  gte: 'Greater than or equal to.',
  is_null: 'true: only rows where the field is null; false: only rows where it is not.',
  like: 'SQL LIKE pattern (case-sensitive; % and _ are wildcards, \\ escapes them).',
  ilike: 'SQL ILIKE pattern (case-insensitive; % and _ are wildcards, \\ escapes them).',
  starts_with: 'Starts with this text (case-sensitive, no wildcards).',
  contains: 'Contains this text (case-sensitive, no wildcards).',
  has_key: 'The JSON object has this top-level key.',
  overlaps: 'Has at least one element in common with this list.',
};

/** The description of `op` on `field` (`contains` means something else on json and list fields). */
export function operatorDescription(field: Pick<Field, 'type'>, op: CompareOp): string {
  if (op === 'contains' && field.type === 'json') return 'Contains this JSON value (PostgreSQL @>: objects match by subset, arrays by elements).';
  if (op === 'contains' && field.type === 'string[]') return 'Contains every element of this list (in any order).';
  if (op === 'eq' && field.type === 'string[]') return 'Equal to this list (same elements in the same order).';
  return OPERATOR_DESCRIPTIONS[op];
}
