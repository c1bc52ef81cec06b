/**
 * The row budget of GraphQL operations (SPEC G-12, `ROW_LIMIT_EXCEEDED`): the most rows one operation may
 * return, checked statically before any SQL is built, like the "node limit" of GitHub's GraphQL API.
 *
 * **Rows.** A row is one element of a list of objects in the response: an entity of a list (`experiments`,
 * `trials`, `items` of a page, `nodes` or `edges` of a connection, `<plural>_by_ids`) or a group of an
 * aggregate. Single objects (a root `experiment(id)`, a to-one relation, an edge's `node`, an aggregate's
 * `avg { }`) are at most one per parent and do not count; scalar lists (vectors) and JSON values are not rows.
 *
 * **Static bound.** bound = Σ over every list field (each response key separately, so aliases count; fragments
 * expanded; `@skip` / `@include` applied) of its page size × the page sizes of the lists above it. The page size
 * is the field's `limit` / `first` / `last` (literal or variable), the number of `ids` of a by-ids field, 1 for
 * an aggregate without `group_by` (one group); a page or connection object hands its size down to its `items` /
 * `nodes` / `edges`. `offset` does not change a page's size; a connection reads one row more than `first` to
 * decide `has_next_page` but returns `first`. Example: `{ experiments(limit: 100) { trials(first: 50) { id } } }`
 * is 100 + 100 × 50 = 5,100 rows. An operation whose bound is above `limits.maxRows` is refused with 400
 * ROW_LIMIT_EXCEEDED before any statement runs; nothing is ever truncated to fit.
 *
 * **Lists without a bound.** The compiler reads a list without `limit` / `first` / `last` (or a grouped
 * aggregate without `limit`) in full: its size is not known before it runs. In the static bound such a list
 * counts as one row per parent (the least it can hold, so what is refused is certainly over the budget when
 * every list holds a row), and the operation is checked once more on its result (`resultRowCheck`): a response
 * with more than `maxRows` rows is refused with ROW_LIMIT_EXCEEDED naming the unbounded lists, instead of being
 * sent. Operations whose lists are all bounded are not counted again (their bound holds).
 *
 * The bound is monotone in every page size; the plan cache re-checks it on every hit (`plan-cache.ts`), since a
 * cached plan takes page sizes as bind parameters.
 */
import {
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  type DocumentNode,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { DEFAULT_LIMITS, type QueryLimits } from '../../server/context.js';
import { requestError } from '../errors.js';
import { metaOf, type FieldMeta } from '../schema/meta.js';
import { collectFields, fragmentsOf, operationRoot, subSelections, type CollectContext } from './collect.js';
import { pageSizeOf } from './cost.js';

/** The static row bound of one operation (see the module comment). */
export interface RowBound {
  /** Most rows the operation can return (unbounded lists counted as one row per parent). */
  readonly rows: number;
  /**
   * The list whose rows weigh most: the response path of the field that takes the page size (`limit` /
   * `first` / `last` / `ids`, e.g. `experiments.trials`, or the connection of a `nodes`), its page size and
   * its rows in the bound (its size × the sizes above it).
   */
  readonly top: { readonly path: string; readonly size: number; readonly rows: number } | undefined;
  /** Response paths of the lists without a bound (read in full; see `resultRowCheck`). */
  readonly unbounded: readonly string[];
}

interface Walk extends CollectContext {
  rows: number;
  top: { path: string; size: number; rows: number } | undefined;
  readonly unbounded: Set<string>;
}

/** What carries a page size down to the list fields of a page or connection object. */
interface Pending {
  readonly size: number | undefined;
  /** Path of the field with the size argument. */
  readonly path: string;
}

function selectionRows(w: Walk, type: GraphQLObjectType, sets: readonly SelectionSetNode[], path: string, mult: number, pending: Pending | undefined): void {
  for (const [key, nodes] of collectFields(w, type.name, sets)) fieldRows(w, type, nodes, path ? `${path}.${key}` : key, mult, pending);
}

function fieldRows(w: Walk, parent: GraphQLObjectType, nodes: readonly FieldNode[], path: string, mult: number, pending: Pending | undefined): void {
  const def = parent.getFields()[nodes[0].name.value];
  if (!def) return; // `__typename`
  const named = getNamedType(def.type);
  if (!isObjectType(named)) return;
  const unwrapped = isNonNullType(def.type) ? def.type.ofType : def.type;
  const own: Pending = { size: pageSizeOf(w, parent, nodes[0]), path };
  if (!isListType(unwrapped)) {
    // A single object: a page or connection object hands its size (or its absence) to its `items` / `nodes` / `edges`.
    selectionRows(w, named, subSelections(nodes), path, mult, own);
    return;
  }
  const sized = metaOf<FieldMeta>(def)?.kind === 'wrapper' && pending ? pending : own;
  if (sized.size === undefined) w.unbounded.add(sized.path);
  const size = sized.size ?? 1;
  const rows = mult * size;
  w.rows += rows;
  if (!w.top || rows > w.top.rows) w.top = { path: sized.path, size, rows };
  selectionRows(w, named, subSelections(nodes), path, rows, undefined);
}

function walkOf(document: DocumentNode, variables: Readonly<Record<string, unknown>>): Walk {
  return { fragments: fragmentsOf(document), variables, rows: 0, top: undefined, unbounded: new Set() };
}

/**
 * The static row bound of `operation` (see the module comment).
 * @param variables coerced variable values (graphql-js `getVariableValues`)
 */
export function operationRows(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
): RowBound {
  const w = walkOf(document, variables);
  const root = operationRoot(schema, operation);
  if (root) selectionRows(w, root, [operation.selectionSet], '', 1, undefined);
  return { rows: w.rows, top: w.top, unbounded: [...w.unbounded] };
}

/** `limits.maxRows`, or its default. */
export function maxRowsOf(limits: Pick<QueryLimits, 'maxRows'>): number {
  return limits.maxRows ?? DEFAULT_LIMITS.maxRows;
}

/** True when the static bound is within `limits.maxRows` (the plan cache's check on a hit). */
export function withinRows(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
  limits: Pick<QueryLimits, 'maxRows'>,
): boolean {
  return operationRows(schema, document, operation, variables).rows <= maxRowsOf(limits);
}

/**
 * Refuse an operation whose static row bound is above `limits.maxRows`, before any SQL is built.
 * @throws GraphQLRequestError ROW_LIMIT_EXCEEDED (400) naming the bound, the budget, the heaviest list and what to change
 */
export function checkRows(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
  limits: Pick<QueryLimits, 'maxRows'>,
): RowBound {
  const bound = operationRows(schema, document, operation, variables);
  const maxRows = maxRowsOf(limits);
  if (bound.rows <= maxRows) return bound;
  const { top } = bound;
  throw requestError(
    'ROW_LIMIT_EXCEEDED',
    `The operation can return up to ${bound.rows} rows, above the row budget of ${maxRows} per operation (LATTICE_MAX_ROWS)` +
      (top ? `; the largest part is "${top.path}" with up to ${top.rows} rows (page size ${top.size}${top.rows > top.size ? ` × ${top.rows / top.size} parent rows` : ''})` : '') +
      '. Lower the limit / first / last of the largest lists (or of the lists above them) and paginate, split the operation, or raise LATTICE_MAX_ROWS.',
  );
}

/** The object fields of a selection on a type, each with the shape of its own selection (built once per check). */
interface Shape {
  readonly fields: ReadonlyArray<{ readonly key: string; readonly shape: () => Shape }>;
}

function shapeOf(w: Walk, type: GraphQLObjectType, sets: readonly SelectionSetNode[]): Shape {
  const fields: Array<{ key: string; shape: () => Shape }> = [];
  for (const [key, nodes] of collectFields(w, type.name, sets)) {
    const def = type.getFields()[nodes[0].name.value];
    const named = def ? getNamedType(def.type) : undefined;
    if (!named || !isObjectType(named)) continue;
    let child: Shape | undefined;
    fields.push({ key, shape: () => (child ??= shapeOf(w, named, subSelections(nodes))) });
  }
  return { fields };
}

/** Count the rows of `value` (an object read with `shape`) into `w.rows`, stopping once above `stop`. */
function countRows(w: Walk, shape: Shape, value: unknown, stop: number): void {
  if (value === null || typeof value !== 'object') return;
  for (const f of shape.fields) {
    if (w.rows > stop) return;
    const v = (value as Record<string, unknown>)[f.key];
    if (v === null || v === undefined) continue;
    const child = f.shape();
    if (Array.isArray(v)) {
      w.rows += v.length;
      if (child.fields.length > 0) for (const item of v) countRows(w, child, item, stop);
    } else countRows(w, child, v, stop);
  }
}

/** True when `text` has at most `n` `{` characters. */
function bracesAtMost(text: string, n: number): boolean {
  if (text.length <= n) return true;
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > n) return false;
  return true;
}

/**
 * The check of an operation's result against the row budget, needed only when the operation has lists without
 * a bound (otherwise the static bound holds and this returns undefined).
 * @param bound the operation's static bound when already computed (`checkRows` returns it)
 * @returns a function of the response's `data` JSON text that counts its rows (parsing it only when it has
 *          more than `maxRows` `{`) and throws GraphQLRequestError ROW_LIMIT_EXCEEDED (400) above `limits.maxRows`, naming the unbounded
 *          lists; the caller must then send that error instead of the data
 */
export function resultRowCheck(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
  limits: Pick<QueryLimits, 'maxRows'>,
  bound: RowBound = operationRows(schema, document, operation, variables),
): ((dataText: string) => void) | undefined {
  const { unbounded } = bound;
  const root = operationRoot(schema, operation);
  if (unbounded.length === 0 || !root) return undefined;
  const maxRows = maxRowsOf(limits);
  return (dataText) => {
    // Every row is a JSON object, so a text with at most maxRows `{` has at most maxRows rows: most results are
    // decided by this scan without being parsed (it also counts single objects and braces inside strings).
    if (bracesAtMost(dataText, maxRows)) return;
    const w = walkOf(document, variables);
    countRows(w, shapeOf(w, root, [operation.selectionSet]), JSON.parse(dataText), maxRows);
    if (w.rows <= maxRows) return;
    const names = unbounded.slice(0, 5).map((p) => `"${p}"`).join(', ') + (unbounded.length > 5 ? `, … (${unbounded.length} in all)` : '');
    throw requestError(
      'ROW_LIMIT_EXCEEDED',
      `The operation's result has more than ${maxRows} rows, the row budget per operation (LATTICE_MAX_ROWS), so it was not sent. ` +
        `Lists without limit / first / last are read in full: ${names}. Give them a limit or first and paginate, filter them, or raise LATTICE_MAX_ROWS.`,
    );
  };
}
