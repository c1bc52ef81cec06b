/**
 * Query plan → ONE SQL statement + bind parameters that builds the whole JSON answer in PostgreSQL
 * (SPEC G-10; pg_graphql's `transpile.rs`). The statement returns exactly one row with one column `data`
 * (TEXT): the JSON object keyed by the plan's root response keys in order, ready to be written to the HTTP
 * response without parsing (SPEC G-11).
 *
 * Layout: `SELECT json_build_object('<key>', (<root sub-query>), ...)::text AS data` where each root is a
 * scalar sub-query (`list.ts`, `connection.ts`) and every nested relation a correlated sub-query
 * (`object.ts`); the rows of list-like nodes (filter, `search`, `nearest`, scores) in `rows.ts` with
 * `filter.ts`, `search.ts`, `nearest.ts`; ordering in `order.ts` (keys decided by `src/query/order.ts`, to-one
 * paths by `path.ts`); keyset cursors in `keyset.ts`.
 */
import type { Model } from '../../model/types.js';
import type { OperationPlan, RootNode } from '../plan.js';
import { CompileContext, type CompileOptions } from './context.js';
import { aggregateSql } from './aggregate.js';
import { connectionSql } from './connection.js';
import { jsonObject, textConst } from './json.js';
import { byIdsSql, listPageSql, listSql, objectSql } from './list.js';
import { compilePlainRead, type PlainRows } from './plain.js';

/**
 * Gate of statements with a similarity search on pgvector ≥ 0.8: switches `hnsw.iterative_scan` to
 * `strict_order` for the rest of the transaction, so HNSW index scans under a filter return every row asked
 * for, in exact distance order (up to `hnsw.max_scan_tuples`, 20,000 by default).
 */
const ITERATIVE_SCAN = `(SELECT set_config('hnsw.iterative_scan', 'strict_order', true)) IS NOT NULL`;

/** SQL text and its bind parameters (`params[0]` is `$1`). */
export interface CompiledQuery {
  readonly text: string;
  readonly params: unknown[];
  /**
   * Present when the statement returns plain rows (`plain.ts`): run it with `QueryOptions.raw` and write the
   * answer's `data` text with `writePlainRows(rows, result.rows)`. Absent: one row `{ data }` of JSON text.
   */
  readonly rows?: PlainRows;
}

function rootSql(ctx: CompileContext, node: RootNode): string {
  switch (node.kind) {
    case 'typename':
      return textConst(ctx, node.value);
    case 'object':
      return objectSql(ctx, node);
    case 'list':
      return listSql(ctx, node);
    case 'list_page':
      return listPageSql(ctx, node);
    case 'connection':
      return connectionSql(ctx, node);
    case 'by_ids':
      return byIdsSql(ctx, node);
    case 'aggregate':
      return aggregateSql(ctx, node);
  }
}

export type { CompileOptions, VectorStorage } from './context.js';
export { DEFAULT_COMPILE_OPTIONS } from './context.js';

/**
 * Compile a read operation.
 * @param model the running model (names in the plan are resolved against it)
 * @param plan roots and tenant scope
 * @param options what the database offers: how vectors are stored (`readCompileOptions` in
 *        `src/db/migrate/index.ts`, decided once at server start); default pgvector
 * @returns one statement yielding one row `{ data: string }` (JSON text)
 * @throws LatticeError BAD_USER_INPUT for invalid arguments (negative limits, first+last, bad operands, search
 *         on an entity without searchable fields, a bad `nearest`); INTERNAL when the plan names something the
 *         model does not have.
 */
export function compileRead(model: Model, plan: OperationPlan, options?: CompileOptions): CompiledQuery {
  const ctx = new CompileContext(model, plan.scope, options);
  const pairs = plan.roots.map((r) => [r.responseKey, rootSql(ctx, r.node)] as const);
  let text = `SELECT (${jsonObject(ctx, pairs)})::text AS data`;
  // A one-time filter runs before the output (and so before any index scan of the sub-queries) starts.
  if (ctx.usesNearest && ctx.options.vectors === 'pgvector' && ctx.options.hnswIterativeScan) text += ` WHERE ${ITERATIVE_SCAN}`;
  return { text, params: ctx.params.values };
}

/**
 * Compile a GraphQL read operation for `executeGraphQL` and the plan cache (which must compile alike): plain rows
 * (`compilePlainRead`) when the only root field is a list, otherwise `compileRead`'s one JSON row.
 * @returns the statement; with `rows` when it returns plain rows
 * @throws as `compileRead`
 */
export function compileOperation(model: Model, plan: OperationPlan, options?: CompileOptions): CompiledQuery {
  return compilePlainRead(model, plan, options) ?? compileRead(model, plan, options);
}
