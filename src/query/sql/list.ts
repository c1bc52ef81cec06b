/**
 * Row-set nodes: one object by id, a list, an offset page with total count, and a batch lookup by ids.
 * Each compiles to one scalar sub-query returning `json`.
 */
import type { ByIdsNode, Filter, ListArgs, ListNode, ListPageNode, ObjectNode, Selection } from '../plan.js';
import { badInput } from '../../errors.js';
import { effectiveOrder } from '../order.js';
import { and, col, openSource, type CompileContext, type Correlation, type Source } from './context.js';
import { compileFilter } from './filter.js';
import { jsonObject, textConst } from './json.js';
import { checkUuid } from './params.js';
import { orderSql } from './order.js';
import { bindRows, countRows, deriveRows, derivedSelect, openRows, type RowsBinding } from './rows.js';
import { selectionJson } from './object.js';
import type { Entity } from '../../model/types.js';
import type { Scores } from './order.js';

/** Predicates of a source plus the compiled filter, if any. */
export function conditions(ctx: CompileContext, src: Source, filter: Filter | undefined): string[] {
  return filter ? [...src.where, compileFilter(ctx, src.entity, src.alias, filter)] : [...src.where];
}

function checkCount(name: string, n: number | undefined): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw badInput(`"${name}" must be a non-negative integer.`);
}

/** `(SELECT count(*) FROM ... WHERE scope, correlation, filter)`: a JSON number. */
export function countSql(ctx: CompileContext, entity: string, corr: Correlation | undefined, filter: Filter | undefined): string {
  return countRows(ctx, bindRows(ctx, entity, { filter }, corr));
}

/**
 * A list: JSON array of objects in the effective order (`src/query/order.ts`: the plan's keys, else distance
 * or rank, then `id`), `[]` when empty. With limit/offset, search, nearest or path keys the rows are picked in
 * a derived table (so nested selections are computed only for the rows returned, and rank, distance and path
 * values once per row), then aggregated with `json_agg(... ORDER BY keys)`, which fixes the order of the array.
 * No `limit` means no LIMIT (the API layer enforces maxima).
 */
export function listSql(ctx: CompileContext, node: ListNode, corr?: Correlation): string {
  checkListArgs(node.args);
  return listRowsSql(ctx, bindRows(ctx, node.entity, node.args, corr), node.args, node.selection);
}

/**
 * The rows of a list over bound rows, in the effective order: `from` (a table with its predicates, or the
 * derived table of picked rows under the table's alias), `order` (the keys to order the rows read from it by)
 * and `value`, the projection `project` gives for the entity, alias and scores of one row.
 */
export interface ListQuery {
  readonly value: string;
  readonly from: string;
  readonly order: string;
}

/** See `ListQuery`; `listSql` aggregates it into a JSON array, `src/query/sql/plain.ts` returns it as rows. */
export function listQuery(ctx: CompileContext, rows: RowsBinding, args: ListArgs, selection: Selection, project: Projection): ListQuery {
  const { limit, offset } = args;
  const read = openRows(ctx, rows);
  const a = read.src.alias;
  const d = deriveRows(ctx, read, effectiveOrder(ctx.model, read.src.entity, args), selection.some((i) => i.kind === 'rank'));
  const value = project(read.src.entity, a, d.scores);
  const where = and(read.conds);
  if (limit === undefined && offset === undefined && d.extras.length === 0) {
    return { value, from: `${read.src.from} WHERE ${where}`, order: orderSql(d.inner) };
  }
  let inner = `SELECT ${derivedSelect(read, d)} FROM ${read.src.from} WHERE ${where}`;
  if (limit !== undefined || offset !== undefined) inner += ` ORDER BY ${orderSql(d.inner)}`;
  if (limit !== undefined) inner += ` LIMIT ${ctx.params.add(limit, 'int8')}`;
  if (offset !== undefined) inner += ` OFFSET ${ctx.params.add(offset, 'int8')}`;
  return { value, from: `(${inner}) ${a}`, order: orderSql(d.outer) };
}

/** What a list selects per row: an SQL expression over the row of `entity` under `alias`. */
export type Projection = (entity: Entity, alias: string, scores: Scores) => string;

/** The JSON array of a list over bound rows (see `listSql`). */
function listRowsSql(ctx: CompileContext, rows: RowsBinding, args: ListArgs, selection: Selection): string {
  const q = listQuery(ctx, rows, args, selection, (entity, alias, scores) => selectionJson(ctx, entity, alias, selection, scores));
  return `(SELECT coalesce(json_agg(${q.value} ORDER BY ${q.order}), '[]'::json) FROM ${q.from})`;
}

/** Checks a list's `limit` and `offset` (non-negative integers). @throws LatticeError BAD_USER_INPUT */
export function checkListArgs(args: ListArgs): void {
  checkCount('limit', args.limit);
  checkCount('offset', args.offset);
}

/**
 * An offset page `{ total_count, items, __typename }` with the plan's response keys in order; `total_count`
 * counts the rows matching filter, search and nearest (ignoring limit and offset), over the same bound rows.
 */
export function listPageSql(ctx: CompileContext, node: ListPageNode, corr?: Correlation): string {
  checkCount('limit', node.args.limit);
  checkCount('offset', node.args.offset);
  const rows = bindRows(ctx, node.entity, node.args, corr);
  const pairs = node.fields.map((f) => {
    switch (f.kind) {
      case 'total_count':
        return [f.responseKey, countRows(ctx, rows)] as const;
      case 'typename':
        return [f.responseKey, textConst(ctx, f.value)] as const;
      case 'items':
        return [f.responseKey, listRowsSql(ctx, rows, node.args, f.selection)] as const;
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
