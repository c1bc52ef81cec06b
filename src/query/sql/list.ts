/**
 * Row-set nodes: one object by id, a list, an offset page with total count, and a batch lookup by ids.
 * Each compiles to one scalar sub-query returning `json`.
 */
import type { ByIdsNode, Filter, ListNode, ListPageNode, ObjectNode } from '../plan.js';
import { badInput } from '../../errors.js';
import { and, col, openSource, type CompileContext, type Correlation, type Source } from './context.js';
import { compileFilter } from './filter.js';
import { jsonObject, textConst } from './json.js';
import { checkUuid } from './params.js';
import { effectiveOrder, orderSql } from './order.js';
import { selectionJson } from './object.js';

/** Predicates of a source plus the compiled filter, if any. */
export function conditions(ctx: CompileContext, src: Source, filter: Filter | undefined): string[] {
  return filter ? [...src.where, compileFilter(ctx, src.entity, src.alias, filter)] : [...src.where];
}

function checkCount(name: string, n: number | undefined): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw badInput(`"${name}" must be a non-negative integer.`);
}

/** `(SELECT count(*) FROM ... WHERE scope, correlation, filter)`: a JSON number. */
export function countSql(ctx: CompileContext, entity: string, corr: Correlation | undefined, filter: Filter | undefined): string {
  const src = openSource(ctx, entity, corr);
  return `(SELECT count(*) FROM ${src.from} WHERE ${and(conditions(ctx, src, filter))})`;
}

/**
 * A list: JSON array of objects in the plan's order (+ `id`), `[]` when empty. With limit/offset the rows are
 * picked in a derived table (so nested selections are computed only for the rows returned), then aggregated
 * with `json_agg(... ORDER BY keys)`, which fixes the order of the array.
 * No `limit` means no LIMIT (the API layer enforces maxima).
 */
export function listSql(ctx: CompileContext, node: ListNode, corr?: Correlation): string {
  const { limit, offset } = node.args;
  checkCount('limit', limit);
  checkCount('offset', offset);
  const src = openSource(ctx, node.entity, corr);
  const keys = effectiveOrder(src.entity, node.args.orderBy);
  const where = and(conditions(ctx, src, node.args.filter));
  const a = src.alias;
  const obj = selectionJson(ctx, src.entity, a, node.selection);
  const agg = `coalesce(json_agg(${obj} ORDER BY ${orderSql(a, keys)}), '[]'::json)`;
  if (limit === undefined && offset === undefined) return `(SELECT ${agg} FROM ${src.from} WHERE ${where})`;
  let inner = `SELECT ${a}.* FROM ${src.from} WHERE ${where} ORDER BY ${orderSql(a, keys)}`;
  if (limit !== undefined) inner += ` LIMIT ${ctx.params.add(limit, 'int8')}`;
  if (offset !== undefined) inner += ` OFFSET ${ctx.params.add(offset, 'int8')}`;
  return `(SELECT ${agg} FROM (${inner}) ${a})`;
}

/** An offset page `{ total_count, items, __typename }` with the plan's response keys in order. */
export function listPageSql(ctx: CompileContext, node: ListPageNode, corr?: Correlation): string {
  const pairs = node.fields.map((f) => {
    switch (f.kind) {
      case 'total_count':
        return [f.responseKey, countSql(ctx, node.entity, corr, node.args.filter)] as const;
      case 'typename':
        return [f.responseKey, textConst(ctx, f.value)] as const;
      case 'items':
        return [f.responseKey, listSql(ctx, { kind: 'list', entity: node.entity, args: node.args, selection: f.selection }, corr)] as const;
    }
  });
  return `(SELECT ${jsonObject(ctx, pairs)})`;
}

/**
 * One row by id: the object, or JSON null when absent (or not visible).
 * @throws LatticeError BAD_USER_INPUT when the id is not a UUID.
 */
export function objectSql(ctx: CompileContext, node: ObjectNode): string {
  const src = openSource(ctx, node.entity);
  const obj = selectionJson(ctx, src.entity, src.alias, node.selection);
  const where = and([`${col(src.alias, 'id')} = ${ctx.params.add(checkUuid(node.id, 'id'), 'uuid')}`, ...src.where]);
  return `(SELECT ${obj} FROM ${src.from} WHERE ${where})`;
}

/**
 * Batch lookup: a JSON array with one element per requested id, in the order of `ids` (duplicates repeated),
 * null where the row is absent or not visible: `unnest($n::uuid[]) WITH ORDINALITY` LEFT JOIN LATERAL the row.
 * @throws LatticeError BAD_USER_INPUT when an id is not a UUID.
 */
export function byIdsSql(ctx: CompileContext, node: ByIdsNode): string {
  const ids = ctx.alias();
  const hit = ctx.alias();
  const src = openSource(ctx, node.entity);
  const obj = selectionJson(ctx, src.entity, src.alias, node.selection);
  const where = and([`${col(src.alias, 'id')} = ${ids}.id`, ...src.where]);
  return (
    `(SELECT coalesce(json_agg(${hit}.j ORDER BY ${ids}.ord), '[]'::json) ` +
    `FROM unnest(${ctx.params.add(node.ids.map((id, i) => checkUuid(id, `ids[${i}]`)), 'uuid[]')}) WITH ORDINALITY AS ${ids}(id, ord) ` +
    `LEFT JOIN LATERAL (SELECT ${obj} AS j FROM ${src.from} WHERE ${where}) ${hit} ON true)`
  );
}
