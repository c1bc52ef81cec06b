/**
 * `planOperation`: a validated GraphQL query document → the typed `OperationPlan` of `src/query/plan.ts`
 * (GUIDE "Plan, then SQL"; pg_graphql's `builder.rs` plays this role there).
 *
 * The planner selects the operation, coerces variables with graphql-js (`getVariableValues`), collects fields
 * (fragments, type conditions, `@skip` / `@include`, aliases), coerces arguments (`getArgumentValues`), maps
 * every field through the schema's `extensions.lattice` metadata, enforces limits (maxLimit, maxDepth; maxCost
 * and the row budget maxRows once planned, before SQL is built, `cost.ts` and `rows.ts`), decodes
 * cursors and sets the tenant scope from the principal. It needs no database.
 */
import { getOperationAST, Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { isAdmin } from '../../auth/principal.js';
import type { OperationPlan, RootNode, RootPlan, Scope } from '../../query/plan.js';
import { requestError } from '../errors.js';
import { metaOf, type FieldMeta } from '../schema/meta.js';
import { planAggregate } from './aggregate.js';
import { coerceArgs, toListArgs } from './args.js';
import { collectFields } from './collect.js';
import type { PlanContext } from './context.js';
import { checkCost } from './cost.js';
import { checkRows, resultRowCheck } from './rows.js';
import { planSelection, planShape, walkState, type FieldAt, type WalkState } from './select.js';

/** Root fields answered by graphql-js introspection rather than SQL. */
export const INTROSPECTION_FIELDS: ReadonlySet<string> = new Set(['__schema', '__type']);

/** The plan plus what the executor needs to run the rest of the operation. */
export interface AnalyzedOperation {
  readonly operation: OperationDefinitionNode;
  /** Coerced variable values. */
  readonly variables: Readonly<Record<string, unknown>>;
  /** Plan of the data root fields and root `__typename` (may have zero roots). */
  readonly plan: OperationPlan;
  /** Response keys of introspection root fields (`__schema`, `__type`), answered by graphql-js. */
  readonly introspectionKeys: readonly string[];
  /**
   * Present when the operation has lists without a bound (`rows.ts`, `resultRowCheck`): call it with the
   * `data` JSON text before sending it; throws ROW_LIMIT_EXCEEDED when the result has more than `maxRows` rows.
   */
  readonly rowCheck?: (dataText: string) => void;
}

/**
 * Select the operation to run.
 * @throws GraphQLRequestError BAD_USER_INPUT when the name is missing (several operations) or unknown
 */
export function selectOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode {
  const op = getOperationAST(document, operationName ?? undefined);
  if (op) return op;
  const count = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
  if (operationName) throw requestError('BAD_USER_INPUT', `Unknown operation named "${operationName}".`);
  if (count === 0) throw requestError('BAD_USER_INPUT', 'The document contains no operation; send a query such as { projects { id name } }.');
  throw requestError('BAD_USER_INPUT', 'The document contains several operations: name the one to run with operationName.');
}

/** Tenant scope of the principal: admins see all projects, everyone else its own (SPEC A-3, S-6). */
export function scopeOf(ctx: PlanContext): Scope {
  return isAdmin(ctx.principal) ? { kind: 'all' } : { kind: 'projects', projectIds: [...ctx.principal.projectIds] };
}

/**
 * Analyse and plan a query operation (see the module comment).
 * @param document a document already validated against `ctx.schema` (graphql-js `validate`)
 * @param operationName required when the document has several operations
 * @param variables raw variable values from the request
 * @throws GraphQLRequestError BAD_USER_INPUT (unknown operation, variables, arguments, filters, order, limits,
 *         cursors; mutations (see `planMutation`) and subscriptions), QUERY_TOO_COMPLEX (depth above `limits.maxDepth`),
 *         COST_LIMIT_EXCEEDED (estimated cost above `limits.maxCost`, see `cost.ts`), ROW_LIMIT_EXCEEDED (static
 *         row bound above `limits.maxRows`, see `rows.ts`)
 */
export function analyzeOperation(
  ctx: PlanContext,
  document: DocumentNode,
  operationName?: string | null,
  variables?: Readonly<Record<string, unknown>> | null,
): AnalyzedOperation {
  const operation = selectOperation(document, operationName);
  if (operation.operation !== 'query') {
    const message =
      operation.operation === 'mutation'
        ? 'Mutations are planned by planMutation (src/graphql/mutation/plan.ts), not by the query planner.'
        : 'Subscriptions are planned by planSubscription (src/live/plan.ts) and served over WebSocket or SSE.';
    throw requestError('BAD_USER_INPUT', message, operation);
  }
  const st = walkState(ctx, document, operation, variables);

  const queryType = ctx.schema.getQueryType();
  if (!queryType) throw new Error('schema has no Query type');
  const roots: RootPlan[] = [];
  const introspectionKeys: string[] = [];
  for (const [key, nodes] of collectFields(st, queryType.name, [operation.selectionSet])) {
    const name = nodes[0].name.value;
    if (name === '__typename') {
      roots.push({ responseKey: key, node: { kind: 'typename', value: queryType.name } });
      continue;
    }
    if (INTROSPECTION_FIELDS.has(name)) {
      introspectionKeys.push(key);
      continue;
    }
    const def = queryType.getFields()[name];
    const meta = metaOf<FieldMeta>(def);
    if (!def || !meta) throw requestError('BAD_USER_INPUT', `Cannot query field "${name}" on type "Query".`, nodes[0]);
    const at: FieldAt = { key, nodes, def, parent: queryType, path: key, depth: 1 };
    roots.push({ responseKey: key, node: planRoot(st, meta, at) });
  }
  // After planning (depth, argument and limit errors are more specific), before any SQL is built.
  checkCost(ctx.schema, document, operation, st.variables, ctx.limits);
  const bound = checkRows(ctx.schema, document, operation, st.variables, ctx.limits);
  const rowCheck = resultRowCheck(ctx.schema, document, operation, st.variables, ctx.limits, bound);
  return { operation, variables: st.variables, plan: { roots, scope: scopeOf(ctx) }, introspectionKeys, ...(rowCheck ? { rowCheck } : {}) };
}

function planRoot(st: WalkState, meta: FieldMeta, at: FieldAt): RootNode {
  if (meta.kind === 'alias') {
    const args = coerceArgs(st.ctx, at.def, at.nodes[0], st.variables, at.path);
    return { kind: 'list', entity: meta.entity, args: toListArgs(args), selection: planSelection(st, at) };
  }
  if (meta.kind !== 'root') throw requestError('BAD_USER_INPUT', `${at.path}: not a root field.`, at.nodes[0]);
  switch (meta.shape) {
    case 'one': {
      const { id } = coerceArgs(st.ctx, at.def, at.nodes[0], st.variables, at.path);
      return { kind: 'object', entity: meta.entity, id: id as string, selection: planSelection(st, at) };
    }
    case 'by_ids': {
      const { ids } = coerceArgs(st.ctx, at.def, at.nodes[0], st.variables, at.path);
      if ((ids?.length ?? 0) > st.ctx.limits.maxLimit) {
        throw requestError('BAD_USER_INPUT', `${at.path}: ${ids?.length} ids requested; at most ${st.ctx.limits.maxLimit} per request.`, at.nodes[0]);
      }
      return { kind: 'by_ids', entity: meta.entity, ids: ids ?? [], selection: planSelection(st, at) };
    }
    case 'aggregate':
      return planAggregate(st, meta.entity, at);
    default:
      return planShape(st, meta.entity, meta.shape, at);
  }
}

/**
 * Plan a query operation: `analyzeOperation(...).plan` (introspection root fields are left out).
 * @throws see `analyzeOperation`
 */
export function planOperation(
  ctx: PlanContext,
  document: DocumentNode,
  operationName?: string | null,
  variables?: Readonly<Record<string, unknown>> | null,
): OperationPlan {
  return analyzeOperation(ctx, document, operationName, variables).plan;
}
