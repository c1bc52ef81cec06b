/**
 * Filters (SPEC G-4) → an SQL boolean expression over one table alias.
 *
 * Null semantics are those a GraphQL user expects rather than SQL's three-valued logic: `ne` and `not_in` keep
 * rows whose column is null (`IS DISTINCT FROM`), `not` keeps rows for which the inner filter is unknown
 * (`IS NOT TRUE`), `eq: null` means `IS NULL`. Related filters become correlated EXISTS sub-queries that carry
 * the tenant predicate too, so a relation filter can never observe another project's rows.
 */
import type { Entity, Field } from '../../model/types.js';
import type { CompareOp, Filter } from '../plan.js';
import { badInput } from '../../errors.js';
import { operatorsFor, supportsOperator } from '../operators.js';
import { and, col, openSource, type CompileContext } from './context.js';
import { checkUuid, columnSqlType, scalarSqlType } from './params.js';

/** Escape LIKE metacharacters (`\`, `%`, `_`) so a value matches literally (default escape character `\`). */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Compile a filter on rows of `entity` under `alias`.
 * Empty `and` is `true`, empty `or` is `false`.
 * @throws LatticeError BAD_USER_INPUT when an operand has the wrong shape (e.g. `in` without a list).
 */
export function compileFilter(ctx: CompileContext, entity: Entity, alias: string, filter: Filter): string {
  switch (filter.kind) {
    case 'and':
      return filter.items.length === 0 ? 'true' : and(filter.items.map((f) => compileFilter(ctx, entity, alias, f)));
    case 'or':
      return filter.items.length === 0
        ? 'false'
        : filter.items.map((f) => `(${compileFilter(ctx, entity, alias, f)})`).join(' OR ');
    case 'not':
      return `(${compileFilter(ctx, entity, alias, filter.item)}) IS NOT TRUE`;
    case 'compare':
      return compileCompare(ctx, ctx.field(entity, filter.column), alias, filter.op, filter.value);
    case 'related': {
      const relation = ctx.relation(entity, filter.relation);
      const child = openSource(ctx, relation.target, { relation, parentAlias: alias });
      const inner = compileFilter(ctx, child.entity, child.alias, filter.filter);
      const sub = (cond: string) => `SELECT 1 FROM ${child.from} WHERE ${and([...child.where, cond])}`;
      switch (filter.mode) {
        case 'is':
        case 'some':
          return `EXISTS (${sub(inner)})`;
        case 'every':
          return `NOT EXISTS (${sub(`(${inner}) IS NOT TRUE`)})`;
        case 'none':
          return `NOT EXISTS (${sub(inner)})`;
      }
    }
  }
}

function requireArray(field: Field, op: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw badInput(`Filter "${op}" on ${field.column} needs a list of values.`);
  return value;
}

function requireString(field: Field, op: string, value: unknown): string {
  if (typeof value !== 'string') throw badInput(`Filter "${op}" on ${field.column} needs a string.`);
  return value;
}

/**
 * A LIKE / ILIKE pattern as given, checked for what PostgreSQL would refuse only once a row reaches it: a
 * trailing escape character (`\`), so the same filter cannot pass or fail depending on the data.
 * @throws LatticeError BAD_USER_INPUT for a non-string, or a pattern ending in an unescaped `\`
 */
function likePattern(field: Field, op: string, value: unknown): string {
  const pattern = requireString(field, op, value);
  const trailing = /\\+$/.exec(pattern)?.[0].length ?? 0;
  if (trailing % 2 === 1) {
    throw badInput(`Filter "${op}" on ${field.column}: the pattern ends with the escape character \\ (backslash); write \\\\ to match a backslash itself.`);
  }
  return pattern;
}

/**
 * One comparison `column <op> value`, for the operators `src/query/operators.ts` allows on the field's type.
 * Operands are bind parameters cast to the column's type (`$n::timestamptz`, `$n::text[]`, `$n::jsonb[]`);
 * enums compare as text except for ranges, which use the enum type (declared order).
 */
function compileCompare(ctx: CompileContext, field: Field, alias: string, op: CompareOp, value: unknown): string {
  if (!supportsOperator(field, op)) {
    const ops = operatorsFor(field);
    throw badInput(
      ops.length === 0
        ? `${field.column} (a ${field.type} field) cannot be filtered${field.type === 'vector' ? '; use nearest to search by similarity' : ''}.`
        : `Filter "${op}" does not apply to ${field.column} (a ${field.type} field); use one of: ${ops.join(', ')}.`,
    );
  }
  const isEnum = field.type === 'enum';
  // Enums compare as text for equality and patterns, and as the enum type (declared order) for ranges.
  const c = isEnum ? `${col(alias, field.column)}::text` : col(alias, field.column);
  const raw = col(alias, field.column);
  const type = scalarSqlType(field.type);
  const isUuid = type === 'uuid';
  const param = (v: unknown) => ctx.params.add(isUuid ? checkUuid(v, field.column) : v, type);
  const textual = field.type === 'string' || field.type === 'text' || isEnum || field.type === 'uuid' || field.type === 'ref';
  const patternCol = textual ? c : `${raw}::text`;
  switch (op) {
    case 'eq':
      return value === null || value === undefined ? `${raw} IS NULL` : `${c} = ${param(value)}`;
    case 'ne':
      return value === null || value === undefined ? `${raw} IS NOT NULL` : `${c} IS DISTINCT FROM ${param(value)}`;
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const sqlOp = { lt: '<', lte: '<=', gt: '>', gte: '>=' }[op];
      const rhs = isEnum ? ctx.params.add(value, columnSqlType(ctx.model, field)) : param(value);
      return `${raw} ${sqlOp} ${rhs}`;
    }
    case 'in':
    case 'not_in': {
      const values = requireArray(field, op, value).map((v) => (isUuid ? checkUuid(v, field.column) : v));
      const any = `${c} = ANY(${ctx.params.add(values, `${type}[]`)})`;
      return op === 'in' ? any : `(${any}) IS NOT TRUE`;
    }
    case 'is_null':
      if (typeof value !== 'boolean') throw badInput(`Filter "is_null" on ${field.column} needs true or false.`);
      return value ? `${raw} IS NULL` : `${raw} IS NOT NULL`;
    case 'like':
      return `${patternCol} LIKE ${ctx.params.add(likePattern(field, op, value), 'text')}`;
    case 'ilike':
      return `${patternCol} ILIKE ${ctx.params.add(likePattern(field, op, value), 'text')}`;
    case 'starts_with':
      return `${patternCol} LIKE ${ctx.params.add(`${escapeLike(requireString(field, op, value))}%`, 'text')}`;
    case 'contains':
      if (field.type === 'json') return `${raw} @> ${ctx.params.add(value, 'jsonb')}`;
      if (field.type === 'string[]') return `${raw} @> ${ctx.params.add(requireArray(field, op, value), 'text[]')}`;
      return `${patternCol} LIKE ${ctx.params.add(`%${escapeLike(requireString(field, op, value))}%`, 'text')}`;
    case 'has_key':
      if (field.type !== 'json') throw badInput(`Filter "has_key" applies to json fields only, not ${field.column}.`);
      return `${raw} ? ${ctx.params.add(requireString(field, op, value), 'text')}`;
    case 'overlaps':
      if (field.type !== 'string[]') throw badInput(`Filter "overlaps" applies to list fields only, not ${field.column}.`);
      return `${raw} && ${ctx.params.add(requireArray(field, op, value), 'text[]')}`;
    default:
      throw badInput(`Unknown filter operator "${op}" on ${field.column}.`);
  }
}
