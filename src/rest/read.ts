/**
 * REST reads through the same compiler as GraphQL (`src/query/sql/compile.ts`): one statement per request,
 * the JSON built in PostgreSQL, so an object's shape equals the GraphQL one (all columns, snake_case).
 */
import { isAdmin, type Principal } from '../auth/principal.js';
import type { Queryable } from '../db/types.js';
import type { Entity, Model } from '../model/types.js';
import type { ListArgs, OperationPlan, RootNode, Scope, Selection } from '../query/plan.js';
import { compileRead, type CompileOptions } from '../query/sql/compile.js';

/** Tenant scope of a principal: every project for admins, else its project ids. */
export function scopeOf(principal: Principal): Scope {
  return isAdmin(principal) ? { kind: 'all' } : { kind: 'projects', projectIds: principal.projectIds };
}

/** Every column of an entity, under its column name (the REST object shape). */
export function allColumns(entity: Entity): Selection {
  return entity.fields.map((f) => ({ responseKey: f.column, kind: 'column', column: f.column }) as const);
}

/**
 * Run one read root (`r`) with one statement and return its JSON value.
 * @param options the server's compile options (vector storage, `AppContext.compile`); default pgvector
 */
async function readRoot(tx: Queryable, model: Model, principal: Principal, node: RootNode, options?: CompileOptions): Promise<unknown> {
  const plan: OperationPlan = { roots: [{ responseKey: 'r', node }], scope: scopeOf(principal) };
  const { text, params } = compileRead(model, plan, options);
  const res = await tx.query<{ data: string }>(text, params);
  return (JSON.parse(res.rows[0].data) as { r: unknown }).r;
}

/** One row by id as a REST object, or null when absent or invisible to the principal. */
export async function readOne(tx: Queryable, model: Model, principal: Principal, entity: Entity, id: string): Promise<Record<string, unknown> | null> {
  return (await readRoot(tx, model, principal, { kind: 'object', entity: entity.name, id, selection: allColumns(entity) })) as Record<string, unknown> | null;
}

/** Rows by ids in the order of `ids` (null where absent). */
export async function readByIds(
  tx: Queryable,
  model: Model,
  principal: Principal,
  entity: Entity,
  ids: readonly string[],
): Promise<Array<Record<string, unknown> | null>> {
  return (await readRoot(tx, model, principal, { kind: 'by_ids', entity: entity.name, ids, selection: allColumns(entity) })) as Array<Record<string, unknown> | null>;
}

/**
 * The selection of a REST list item: every column, then `_rank` when the list has `search` and `_distance` when
 * it has `nearest` (SPEC R-1, G-6) — the same values GraphQL's `_rank` / `_distance` return for the same
 * arguments (`ts_rank` of the row, a JSON number, higher is better; the distance under the `nearest` metric,
 * lower is nearer). The model reserves both names, so they never collide with a column.
 */
export function listItemSelection(entity: Entity, args: Pick<ListArgs, 'search' | 'nearest'>): Selection {
  return [
    ...allColumns(entity),
    ...(args.search !== undefined ? [{ responseKey: '_rank', kind: 'rank' } as const] : []),
    ...(args.nearest ? [{ responseKey: '_distance', kind: 'distance' } as const] : []),
  ];
}

/**
 * One page of a list: `{ items, total_count }` (one statement); items as `listItemSelection`.
 * @param options the server's compile options (`AppContext.compile`): needed for `nearest` on databases
 *        without pgvector
 */
export async function readPage(
  tx: Queryable,
  model: Model,
  principal: Principal,
  entity: Entity,
  args: ListArgs,
  options?: CompileOptions,
): Promise<{ items: Record<string, unknown>[]; total_count: number }> {
  return (await readRoot(tx, model, principal, {
    kind: 'list_page',
    entity: entity.name,
    args,
    fields: [
      { responseKey: 'items', kind: 'items', selection: listItemSelection(entity, args) },
      { responseKey: 'total_count', kind: 'total_count' },
    ],
  }, options)) as { items: Record<string, unknown>[]; total_count: number };
}
