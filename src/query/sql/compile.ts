/**
 * Query plan → ONE SQL statement + bind parameters that builds the whole JSON answer in PostgreSQL
 * (SPEC G-10; pg_graphql's `transpile.rs`). The statement returns exactly one row with one column `data`
 * (TEXT): the JSON object keyed by the plan's root response keys in order, ready to be written to the HTTP
 * response without parsing (SPEC G-11).
 *
 * Layout: `SELECT json_build_object('<key>', (<root sub-query>), ...)::text AS data` where each root is a
 * scalar sub-query (`list.ts`, `connection.ts`) and every nested relation a correlated sub-query
 * (`object.ts`); filters in `filter.ts`, ordering in `order.ts`, keyset cursors in `keyset.ts`.
 */
import type { Model } from '../../model/types.js';
import type { OperationPlan, RootNode } from '../plan.js';
import { CompileContext } from './context.js';
import { aggregateSql } from './aggregate.js';
import { connectionSql } from './connection.js';
import { jsonObject, textConst } from './json.js';
import { byIdsSql, listPageSql, listSql, objectSql } from './list.js';

/** SQL text and its bind parameters (`params[0]` is `$1`). */
export interface CompiledQuery {
  readonly text: string;
  readonly params: unknown[];
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

/**
 * Compile a read operation.
 * @param model the running model (names in the plan are resolved against it)
 * @param plan roots and tenant scope
 * @returns one statement yielding one row `{ data: string }` (JSON text)
 * @throws LatticeError BAD_USER_INPUT for invalid arguments (negative limits, first+last, bad operands);
 *         INTERNAL when the plan names something the model does not have.
 */
export function compileRead(model: Model, plan: OperationPlan): CompiledQuery {
  const ctx = new CompileContext(model, plan.scope);
  const pairs = plan.roots.map((r) => [r.responseKey, rootSql(ctx, r.node)] as const);
  const text = `SELECT (${jsonObject(ctx, pairs)})::text AS data`;
  return { text, params: ctx.params.values };
}
