/**
 * Relay connections with keyset cursors (SPEC G-2): `edges { cursor node }`, `nodes`, `page_info`,
 * `total_count`, compiled into one scalar sub-query.
 *
 * Algorithm (as in pg_graphql / PostGraphile): the page rows are selected in a derived table filtered by the
 * connection's filter, search and nearest (`rows.ts`) and the `after`/`before` keyset predicates, in fetch
 * order (the ordering for `first`, the reversed ordering for `last`), limited to n + 1 rows and numbered with
 * `row_number()`. Rows numbered ≤ n form the page; the (n+1)th only tells whether there is a next page
 * (`first`) or a previous page (`last`). A flag not decided that way is an EXISTS on the other side of the
 * cursor given (`after` for has_previous_page, `before` for has_next_page; inclusive of the cursor row), false
 * without one. Arrays are aggregated in the forward ordering whatever the fetch direction; `total_count`
 * counts the rows matching filter, search and nearest, ignoring cursors and limits. Keys may be columns,
 * to-one path values, rank or distance (`src/query/order.ts`); cursors carry their values.
 */
import type { ConnectionNode, Cursor } from '../plan.js';
import { badInput } from '../../errors.js';
import { effectiveOrder, reverseOrder } from '../order.js';
import { and, type CompileContext, type Correlation } from './context.js';
import { jsonObject, textConst } from './json.js';
import { afterCursor, beforeCursor, cursorSql } from './keyset.js';
import { orderSql, reverseKeys, sqlKeys } from './order.js';
import { bindRows, countRows, deriveRows, derivedSelect, openRows } from './rows.js';
import { selectionJson } from './object.js';

/** Name of the row-number column of the page's derived table. */
const RN = '"__lattice_rn"';

/** Compile a connection node; `corr` correlates it with a parent row when nested. */
export function connectionSql(ctx: CompileContext, node: ConnectionNode, corr?: Correlation): string {
  const { first, last, after, before } = node.args;
  if (first !== undefined && last !== undefined) {
    throw badInput('Pass either "first" or "last" to a connection, not both.');
  }
  for (const [name, v] of [['first', first], ['last', last]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw badInput(`"${name}" must be a non-negative integer.`);
  }
  const backward = last !== undefined;
  const n = backward ? last : first;
  const rows = bindRows(ctx, node.entity, node.args, corr);
  const read = openRows(ctx, rows);
  const entity = read.src.entity;
  const a = read.src.alias;
  const keys = effectiveOrder(ctx.model, entity, node.args);
  const selectsRank = node.fields.some(
    (f) =>
      (f.kind === 'nodes' && f.selection.some((i) => i.kind === 'rank')) ||
      (f.kind === 'edges' && f.fields.some((e) => e.kind === 'node' && e.selection.some((i) => i.kind === 'rank'))),
  );
  const d = deriveRows(ctx, read, backward ? reverseOrder(keys) : keys, selectsRank);
  // `d` is in fetch order; the forward keys on both sides:
  const innerKeys = backward ? reverseKeys(d.inner) : d.inner;
  const outerKeys = backward ? reverseKeys(d.outer) : d.outer;

  const conds = [...read.conds];
  if (after) conds.push(afterCursor(ctx, innerKeys, after));
  if (before) conds.push(beforeCursor(ctx, innerKeys, before));
  let inner: string;
  if (n === undefined) {
    inner = `SELECT ${derivedSelect(read, d)} FROM ${read.src.from} WHERE ${and(conds)}`;
  } else {
    const fetchOrder = orderSql(d.inner);
    inner =
      `SELECT ${derivedSelect(read, d)}, row_number() OVER (ORDER BY ${fetchOrder}) AS ${RN} FROM ${read.src.from} ` +
      `WHERE ${and(conds)} ORDER BY ${fetchOrder} LIMIT ${ctx.params.add(n + 1, 'int8')}`;
  }
  const order = orderSql(outerKeys);
  // Parameters are added only when used: PostgreSQL cannot type a parameter the text never mentions.
  let nRef: string | undefined;
  const nParam = () => (nRef ??= ctx.params.add(n, 'int8'));
  const inPage = () => (n === undefined ? '' : ` FILTER (WHERE ${a}.${RN} <= ${nParam()})`);
  const extraRow = () => (n === undefined ? 'false' : `count(*) > ${nParam()}`);
  let cursorExpr: string | undefined;
  const cursor = () => (cursorExpr ??= cursorSql(ctx, entity, outerKeys, node.args));
  /** Whether a row exists on the far side of a given cursor (inclusive), under the same rows. */
  const existsBeyond = (c: Cursor | undefined, side: 'after' | 'before'): string => {
    if (!c) return 'false';
    const r = openRows(ctx, rows);
    const k = sqlKeys(ctx, entity, r.src.alias, keys, r.scores);
    const cond = side === 'after' ? afterCursor(ctx, k, c, true) : beforeCursor(ctx, k, c, true);
    return `EXISTS (SELECT 1 FROM ${r.src.from} WHERE ${and([...r.conds, cond])})`;
  };
  const selection = (s: Parameters<typeof selectionJson>[3]) => selectionJson(ctx, entity, a, s, d.scores);

  const pairs = node.fields.map((f) => {
    switch (f.kind) {
      case 'total_count':
        return [f.responseKey, countRows(ctx, rows)] as const;
      case 'typename':
        return [f.responseKey, textConst(ctx, f.value)] as const;
      case 'nodes': {
        const obj = selection(f.selection);
        return [f.responseKey, `coalesce(json_agg(${obj} ORDER BY ${order})${inPage()}, '[]'::json)`] as const;
      }
      case 'edges': {
        const edge = jsonObject(
          ctx,
          f.fields.map((e) => {
            switch (e.kind) {
              case 'cursor':
                return [e.responseKey, cursor()] as const;
              case 'node':
                return [e.responseKey, selection(e.selection)] as const;
              case 'typename':
                return [e.responseKey, textConst(ctx, e.value)] as const;
            }
          }),
        );
        return [f.responseKey, `coalesce(json_agg(${edge} ORDER BY ${order})${inPage()}, '[]'::json)`] as const;
      }
      case 'page_info': {
        const info = jsonObject(
          ctx,
          f.fields.map((p) => {
            switch (p.kind) {
              case 'typename':
                return [p.responseKey, textConst(ctx, p.value)] as const;
              case 'has_next_page':
                return [p.responseKey, first !== undefined ? extraRow() : existsBeyond(before, 'after')] as const;
              case 'has_previous_page':
                return [p.responseKey, last !== undefined ? extraRow() : existsBeyond(after, 'before')] as const;
              case 'start_cursor':
                return [p.responseKey, `(array_agg(${cursor()} ORDER BY ${order})${inPage()})[1]`] as const;
              case 'end_cursor':
                return [p.responseKey, `(array_agg(${cursor()} ORDER BY ${orderSql(reverseKeys(outerKeys))})${inPage()})[1]`] as const;
            }
          }),
        );
        return [f.responseKey, info] as const;
      }
    }
  });
  // GROUP BY () makes this an aggregate query even when no selected field aggregates: exactly one row.
  return `(SELECT ${jsonObject(ctx, pairs)} FROM (${inner}) ${a} GROUP BY ())`;
}

