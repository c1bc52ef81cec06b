/**
 * The cost limit of GraphQL operations (SPEC G-12): a static estimate of the work an operation asks for,
 * computed on the validated document with its coerced variables, after planning and before building SQL.
 *
 * **Definition.** cost = Σ over every selected field (each response key separately, so aliases count, leaves
 * and `__typename` included) of {@link FIELD_COST} (what the field adds to the one SQL statement, whatever the
 * rows) plus the product of the list sizes of its ancestors (the values it reads). The list size of a field is
 * its `limit` / `first` / `last` argument when given (a literal or a variable), the number of `ids` of a
 * by-ids field, 1 for an aggregate without `group_by`, else `limits.defaultListSize` (the estimate for a list
 * without a bound). A field whose type is a list multiplies its children by that size; a page or connection field (`XPage`, `XConnection`: an object
 * whose `items` / `nodes` / `edges` are the list) hands its size down to those list fields. The product part
 * is the "nodes" estimate of GitHub's GraphQL resource limits, refined to count every field; the fixed part
 * bounds the statement's size (on PGlite a statement of 8,000 selected columns fails inside the driver).
 * Examples (defaultListSize 10, maxCost 5,000,000): `{ experiments { id name } }` = 3 × 2,000 + 1 + 2 × 10 =
 * 6,021; one object with 10,000 aliased columns ≈ 20,000,000 (refused); at most 2,500 fields fit in one
 * operation; a trace tree read four unbounded levels deep (10⁴ rows per leaf field) passes, seven levels
 * (10⁷ per leaf) are refused. The default estimate is 10 rather than 100 because nested lists under one
 * parent are usually short (a trace's observations, a trial's runs) and 100 per level refused ordinary
 * tree reads of the traces preset; give `limit` / `first` where a list is long.
 *
 * The cost is monotone in every list size. The plan cache re-checks it on every hit (`plan-cache.ts`), since a
 * cached plan takes list sizes as bind parameters.
 */
import {
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { DEFAULT_LIMITS, type QueryLimits } from '../../server/context.js';
import { requestError } from '../errors.js';
import { metaOf, type ArgMeta } from '../schema/meta.js';
import { collectFields, fragmentsOf, operationRoot, subSelections, type CollectContext } from './collect.js';

/** The estimate of one operation. */
export interface OperationCost {
  /** Total cost (see the module comment). */
  readonly cost: number;
  /** Response path of the root field contributing most, and its share of `cost`. */
  readonly top: { readonly path: string; readonly cost: number } | undefined;
}

/** Fixed cost of every selected field (see the module comment). */
export const FIELD_COST = 2_000;

interface Walk extends CollectContext {
  readonly defaultListSize: number;
}

/**
 * The list size a field's arguments give: its `limit` / `first` / `last` (or the number of `ids`); 1 for an
 * aggregate without `group_by` (one group); undefined otherwise (a list read in full, or a single object).
 * Shared by the cost estimate and the row budget (`rows.ts`).
 * @param w the walk's variables (coerced values) and fragments
 */
export function pageSizeOf(w: CollectContext, type: GraphQLObjectType, node: FieldNode): number | undefined {
  const def = type.getFields()[node.name.value];
  if (!def) return undefined;
  let size: number | undefined;
  let grouped = false;
  for (const argNode of node.arguments ?? []) {
    const arg = def.args.find((a) => a.name === argNode.name.value);
    const role = arg ? metaOf<ArgMeta>(arg)?.role : undefined;
    if (!arg || !role) continue;
    const v = valueFromAST(argNode.value, arg.type, w.variables as Record<string, unknown>);
    if (role === 'group_by') grouped ||= Array.isArray(v) ? v.length > 0 : v !== null && v !== undefined;
    if (role !== 'limit' && role !== 'first' && role !== 'last' && role !== 'ids') continue;
    const n = role === 'ids' ? (Array.isArray(v) ? v.length : undefined) : typeof v === 'number' ? v : undefined;
    if (n !== undefined && n >= 0) size = Math.max(size ?? 0, n);
  }
  const aggregate = def.args.some((a) => metaOf<ArgMeta>(a)?.role === 'group_by');
  return aggregate && !grouped ? 1 : size;
}

/** Cost of the fields selected by `nodes` on `type`, each weighted by `mult`; `pending`: a page's size. */
function selectionCost(w: Walk, type: GraphQLObjectType, nodes: readonly FieldNode[], mult: number, pending: number | undefined): number {
  let total = 0;
  for (const [, fieldNodes] of collectFields(w, type.name, subSelections(nodes))) total += fieldCost(w, type, fieldNodes, mult, pending);
  return total;
}

function fieldCost(w: Walk, parent: GraphQLObjectType, nodes: readonly FieldNode[], mult: number, pending: number | undefined): number {
  const def = parent.getFields()[nodes[0].name.value];
  const own = FIELD_COST + mult;
  if (!def) return own; // `__typename` (and fields validation already refused)
  const named = getNamedType(def.type);
  if (!isObjectType(named)) return own;
  const size = pageSizeOf(w, parent, nodes[0]);
  const unwrapped = isNonNullType(def.type) ? def.type.ofType : def.type;
  if (isListType(unwrapped)) return own + selectionCost(w, named, nodes, mult * (size ?? pending ?? w.defaultListSize), undefined);
  return own + selectionCost(w, named, nodes, mult, size);
}

/**
 * The cost of `operation` (see the module comment).
 * @param variables coerced variable values (graphql-js `getVariableValues`)
 * @returns the total and the most expensive root field
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
  limits: Pick<QueryLimits, 'defaultListSize'>,
): OperationCost {
  const root = operationRoot(schema, operation);
  if (!root) return { cost: 0, top: undefined };
  const w: Walk = { fragments: fragmentsOf(document), variables, defaultListSize: limits.defaultListSize ?? DEFAULT_LIMITS.defaultListSize };
  let cost = 0;
  let top: OperationCost['top'];
  for (const [key, nodes] of collectFields(w, root.name, [operation.selectionSet])) {
    const c = fieldCost(w, root, nodes, 1, undefined);
    cost += c;
    if (!top || c > top.cost) top = { path: key, cost: c };
  }
  return { cost, top };
}

/** True when the operation's cost is within `limits.maxCost` (the plan cache's check on a hit). */
export function withinCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
  limits: QueryLimits,
): boolean {
  return operationCost(schema, document, operation, variables, limits).cost <= (limits.maxCost ?? DEFAULT_LIMITS.maxCost);
}

/**
 * Refuse an operation whose cost is above `limits.maxCost`.
 * @throws GraphQLRequestError COST_LIMIT_EXCEEDED naming the cost, the limit and the largest root field
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
  limits: Pick<QueryLimits, 'defaultListSize' | 'maxCost'>,
): void {
  const { cost, top } = operationCost(schema, document, operation, variables, limits);
  const maxCost = limits.maxCost ?? DEFAULT_LIMITS.maxCost;
  if (cost <= maxCost) return;
  throw requestError(
    'COST_LIMIT_EXCEEDED',
    `The operation's estimated cost is ${cost}, above the limit of ${maxCost} (LATTICE_MAX_COST)` +
      (top ? ` (largest part: "${top.path}", cost ${top.cost})` : '') +
      `. Each selected field costs ${FIELD_COST} plus the product of the list sizes above it (limit / first / last, else ${limits.defaultListSize ?? DEFAULT_LIMITS.defaultListSize}); ` +
      'pass smaller limits, select fewer fields or aliases, or split the operation.',
  );
}
