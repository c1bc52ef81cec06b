/**
 * Field arguments → plan arguments: coercion through graphql-js (`getArgumentValues`, so variables and
 * literals are handled exactly as graphql-js executes them), then mapping by the argument metadata of the
 * schema (filter, order_by, search, nearest, limit/offset, first/after/last/before, shorthand equality
 * arguments).
 */
import {
  getArgumentValues,
  GraphQLError,
  GraphQLInputObjectType,
  getNamedType,
  type ASTNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { LatticeError } from '../../errors.js';
import { fieldName } from '../../model/inflection.js';
import { decodeCursor } from '../../query/cursor.js';
import type { VectorMetric } from '../../model/types.js';
import type { ConnectionArgs, Cursor, Filter, ListArgs, NearestArg, OrderItem } from '../../query/plan.js';
import { fromGraphQLErrors, requestError } from '../errors.js';
import { metaOf, type ArgMeta, type NearestFieldMeta } from '../schema/meta.js';
import { andFilters, convertFilter, isEmptyFilter } from './filter.js';
import { convertOrderBy } from './order.js';
import type { PlanContext } from './context.js';

/** Coerced arguments of one field, keyed by argument role. */
export interface CoercedArgs {
  readonly filter?: Filter;
  readonly orderBy: OrderItem[];
  readonly limit?: number;
  readonly offset?: number;
  readonly first?: number;
  readonly last?: number;
  readonly after?: string;
  readonly before?: string;
  readonly search?: string;
  readonly nearest?: NearestArg;
  readonly id?: string;
  readonly ids?: string[];
}

/**
 * Coerce and map the arguments of `node` (a field of definition `def`).
 * @param path response path of the field (`experiments.trials`), for messages
 * @throws GraphQLRequestError BAD_USER_INPUT for values graphql-js cannot coerce, bad filters or order items,
 *         and limits outside [0, limits.maxLimit]
 */
export function coerceArgs(
  ctx: PlanContext,
  def: GraphQLField<unknown, unknown>,
  node: FieldNode,
  variables: Readonly<Record<string, unknown>>,
  path: string,
): CoercedArgs {
  let values: Record<string, unknown>;
  try {
    values = getArgumentValues(def, node, variables as Record<string, unknown>);
  } catch (err) {
    if (err instanceof GraphQLError) throw fromGraphQLErrors([err]);
    throw err;
  }
  const filters: (Filter | undefined)[] = [];
  let orderBy: OrderItem[] = [];
  const out: { -readonly [K in keyof CoercedArgs]: CoercedArgs[K] } = { orderBy };
  for (const arg of def.args) {
    const v = values[arg.name];
    if (v === undefined) continue;
    const meta = metaOf<ArgMeta>(arg);
    if (!meta) continue;
    const argNode = node.arguments?.find((a) => a.name.value === arg.name) ?? node;
    const where = `${path}(${arg.name})`;
    if (v === null) {
      // A null shorthand would read as "no condition" to some and "IS NULL" to others: say which to write.
      if (meta.role === 'eq') {
        throw requestError(
          'BAD_USER_INPUT',
          `${where} is null; leave it out for all rows, or use ${fieldName(ctx.model.naming, 'filter')}: { ${arg.name}: { ${fieldName(ctx.model.naming, 'is_null')}: true } } to match rows without one.`,
          argNode,
        );
      }
      continue;
    }
    switch (meta.role) {
      case 'filter': {
        const type = getNamedType(arg.type);
        if (!(type instanceof GraphQLInputObjectType)) throw new Error('filter argument must be an input object');
        filters.push(convertFilter(type, v as Record<string, unknown>, `${path}.${arg.name}`, argNode));
        break;
      }
      case 'order_by':
        orderBy = convertOrderBy(arg.type, v, `${path}.${arg.name}`, argNode);
        out.orderBy = orderBy;
        break;
      case 'eq':
        filters.push({ kind: 'compare', column: meta.column, type: meta.type, op: 'eq', value: v });
        break;
      case 'limit':
      case 'first':
      case 'last':
        out[meta.role] = checkCount(ctx, v as number, where, argNode, true);
        break;
      case 'offset':
        out.offset = checkCount(ctx, v as number, where, argNode, false);
        break;
      case 'after':
      case 'before':
        out[meta.role] = v as string;
        break;
      case 'search':
        out.search = v as string;
        break;
      case 'nearest':
        out.nearest = convertNearest(arg.type, v as Record<string, unknown>, `${path}.${arg.name}`, argNode);
        break;
      case 'id':
        out.id = v as string;
        break;
      case 'ids':
        out.ids = v as string[];
        break;
    }
  }
  const filter = andFilters(filters);
  if (!isEmptyFilter(filter)) out.filter = filter;
  return out;
}

function checkCount(ctx: PlanContext, n: number, where: string, node: FieldNode | import('graphql').ArgumentNode, bounded: boolean): number {
  if (n < 0) throw requestError('BAD_USER_INPUT', `${where} is ${n}; it must be zero or positive.`, node);
  if (bounded && n > ctx.limits.maxLimit) {
    throw requestError(
      'BAD_USER_INPUT',
      `${where} is ${n}, above the maximum of ${ctx.limits.maxLimit}; request at most ${ctx.limits.maxLimit} rows and paginate.`,
      node,
    );
  }
  return n;
}

/**
 * Coerced `nearest: { <vector field>: { vector, metric, max_distance } }` → `NearestArg`. The field's dimensions
 * and the numbers themselves are checked by the compiler (`src/query/sql/nearest.ts`), for REST too.
 * @throws GraphQLRequestError BAD_USER_INPUT unless exactly one vector field is set
 */
function convertNearest(argType: GraphQLInputType, value: Record<string, unknown>, where: string, node: ASTNode): NearestArg {
  const type = getNamedType(argType);
  if (!(type instanceof GraphQLInputObjectType)) throw new Error('nearest must be an input object');
  const set = Object.entries(value).filter(([, v]) => v !== null && v !== undefined);
  if (set.length !== 1) {
    const names = Object.keys(type.getFields()).join(', ');
    throw requestError('BAD_USER_INPUT', `${where} sets ${set.length} vector fields; set exactly one of: ${names}.`, node);
  }
  const [key, inner] = set[0];
  const meta = metaOf<NearestFieldMeta>(type.getFields()[key]);
  if (meta?.kind !== 'nearest_field') throw new Error(`${where}.${key} has no nearest metadata`);
  const parts = getNamedType(type.getFields()[key].type);
  if (!(parts instanceof GraphQLInputObjectType)) throw new Error('VectorNearest must be an input object');
  const out: { vector?: number[]; metric?: VectorMetric; maxDistance?: number } = {};
  for (const [name, v] of Object.entries(inner as Record<string, unknown>)) {
    const m = metaOf<NearestFieldMeta>(parts.getFields()[name]);
    if (m?.kind !== 'nearest_arg' || v === null || v === undefined) continue;
    if (m.role === 'vector') out.vector = v as number[];
    else if (m.role === 'metric') out.metric = v as VectorMetric;
    else out.maxDistance = v as number;
  }
  return {
    column: meta.column,
    vector: out.vector ?? [],
    metric: out.metric ?? 'cosine',
    ...(out.maxDistance !== undefined ? { maxDistance: out.maxDistance } : {}),
  };
}

/** `search` and `nearest` of coerced arguments, only when given (plan objects stay minimal). */
function scoreArgs(a: CoercedArgs): Pick<ListArgs, 'search' | 'nearest'> {
  return { ...(a.search !== undefined ? { search: a.search } : {}), ...(a.nearest ? { nearest: a.nearest } : {}) };
}

/** Plan `ListArgs` from coerced arguments. */
export function toListArgs(a: CoercedArgs): ListArgs {
  return { filter: a.filter, orderBy: a.orderBy, limit: a.limit, offset: a.offset, ...scoreArgs(a) };
}

/**
 * Plan `ConnectionArgs` from coerced arguments, decoding cursors for `entity` under the requested ordering
 * (with `search` / `nearest`, whose rank / distance may be the ordering: `src/query/order.ts`).
 * @throws GraphQLRequestError BAD_USER_INPUT for malformed or foreign cursors (also a cursor of another search
 *         text or nearest vector when the ordering uses them), and for `first` with `last`
 */
export function toConnectionArgs(ctx: PlanContext, entity: string, a: CoercedArgs, node: FieldNode, path: string): ConnectionArgs {
  if (a.first !== undefined && a.last !== undefined) {
    throw requestError('BAD_USER_INPUT', `${path}: pass either first (with after) or last (with before), not both.`, node);
  }
  const decode = (raw: string | undefined, name: string): Cursor | undefined => {
    if (raw === undefined) return undefined;
    try {
      return decodeCursor(ctx.model, entity, { orderBy: a.orderBy, ...scoreArgs(a) }, raw);
    } catch (err) {
      if (err instanceof LatticeError) throw requestError(err.code, `${path}(${name}): ${err.message}`, node);
      throw err;
    }
  };
  return {
    filter: a.filter,
    orderBy: a.orderBy,
    ...scoreArgs(a),
    first: a.first,
    last: a.last,
    after: decode(a.after, 'after'),
    before: decode(a.before, 'before'),
  };
}
