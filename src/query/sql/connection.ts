/**
 * Relay connections with keyset cursors (SPEC G-2): `edges { cursor node }`, `nodes`, `page_info`,
 * `total_count`, compiled into one scalar sub-query.
 *
 * Algorithm (as in pg_graphql / PostGraphile): the page rows are selected in a derived table filtered by the
 * connection's filter and the `after`/`before` keyset predicates, in fetch order (the ordering for `first`,
 * the reversed ordering for `last`), limited to n + 1 rows and numbered with `row_number()`. Rows numbered
 * ≤ n form the page; the (n+1)th only tells whether there is a next page (`first`) or a previous page
 * (`last`). A flag not decided that way is an EXISTS on the other side of the cursor given (`after` for
 * has_previous_page, `before` for has_next_page; inclusive of the cursor row), false without one. Arrays are aggregated in the forward
 * ordering whatever the fetch direction; `total_count` counts the filter's rows, ignoring cursors and limits.
 */
import type { ConnectionNode, Cursor } from '../plan.js';
import { badInput } from '../../errors.js';
import { and, openSource, type CompileContext, type Correlation } from './context.js';
import { jsonObject, textConst } from './json.js';
import { afterCursor, beforeCursor, cursorSql } from './keyset.js';
import { conditions, countSql } from './list.js';
import { effectiveOrder, orderSql, reverseOrder } from './order.js';
import { selectionJson } from './object.js';

/** Name of the row-number column of the page's derived table. */
const RN = '"__lattice_rn"';

/** Compile a connection node; `corr` correlates it with a parent row when nested. */
export function connectionSql(ctx: CompileContext, node: ConnectionNode, corr?: Correlation): string {
  const { first, last, after, before, filter } = node.args;
  if (first !== undefined && last !== undefined) {
    throw badInput('Pass either "first" or "last" to a connection, not both.');
  }
  for (const [name, v] of [['first', first], ['last', last]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw badInput(`"${name}" must be a non-negative integer.`);
  }
  const backward = last !== undefined;
  const n = backward ? last : first;
  const src = openSource(ctx, node.entity, corr);
  const entity = src.entity;
  const a = src.alias;
  const keys = effectiveOrder(entity, node.args.orderBy);
  const fetchKeys = backward ? reverseOrder(keys) : keys;

  const conds = conditions(ctx, src, filter);
  if (after) conds.push(afterCursor(ctx, entity, a, keys, after));
  if (before) conds.push(beforeCursor(ctx, entity, a, keys, before));
  let inner: string;
  if (n === undefined) {
    inner = `SELECT ${a}.* FROM ${src.from} WHERE ${and(conds)}`;
  } else {
    const fetchOrder = orderSql(a, fetchKeys);
    inner =
      `SELECT ${a}.*, row_number() OVER (ORDER BY ${fetchOrder}) AS ${RN} FROM ${src.from} ` +
      `WHERE ${and(conds)} ORDER BY ${fetchOrder} LIMIT ${ctx.params.add(n + 1, 'int8')}`;
  }
  const order = orderSql(a, keys);
  // Parameters are added only when used: PostgreSQL cannot type a parameter the text never mentions.
  let nRef: string | undefined;
  const nParam = () => (nRef ??= ctx.params.add(n, 'int8'));
  const inPage = () => (n === undefined ? '' : ` FILTER (WHERE ${a}.${RN} <= ${nParam()})`);
  const extraRow = () => (n === undefined ? 'false' : `count(*) > ${nParam()}`);
  let cursorExpr: string | undefined;
  const cursor = () => (cursorExpr ??= cursorSql(ctx, entity, a, keys));
  /** Whether a row exists on the far side of a given cursor (inclusive), under the same filter. */
  const existsBeyond = (c: Cursor | undefined, side: 'after' | 'before'): string => {
    if (!c) return 'false';
    const s = openSource(ctx, node.entity, corr);
    const cond = side === 'after' ? afterCursor(ctx, entity, s.alias, keys, c, true) : beforeCursor(ctx, entity, s.alias, keys, c, true);
    return `EXISTS (SELECT 1 FROM ${s.from} WHERE ${and([...conditions(ctx, s, filter), cond])})`;
  };

  const pairs = node.fields.map((f) => {
    switch (f.kind) {
      case 'total_count':
        return [f.responseKey, countSql(ctx, node.entity, corr, filter)] as const;
      case 'typename':
        return [f.responseKey, textConst(ctx, f.value)] as const;
      case 'nodes': {
        const obj = selectionJson(ctx, entity, a, f.selection);
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
                return [e.responseKey, selectionJson(ctx, entity, a, e.selection)] as const;
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
                return [p.responseKey, `(array_agg(${cursor()} ORDER BY ${orderSql(a, reverseOrder(keys))})${inPage()})[1]`] as const;
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

