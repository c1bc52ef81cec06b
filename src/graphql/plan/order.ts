/**
 * Coerced `order_by` input → plan `OrderItem[]` (SPEC G-5). Each item must set exactly one field; to-one
 * relations nest (`OrderItem.path`). Which keys are effective (rank, distance, the `id` tiebreaker) is decided
 * later, by `src/query/order.ts`.
 */
import { GraphQLInputObjectType, getNamedType, type ASTNode, type GraphQLInputType } from 'graphql';
import { MAX_ORDER_HOPS } from '../../query/order.js';
import type { OrderItem } from '../../query/plan.js';
import { requestError } from '../errors.js';
import { metaOf, type OrderFieldMeta, type OrderRelationMeta } from '../schema/meta.js';
import type { OrderDirectionValue } from '../schema/order.js';

/** `OrderDirection` values → direction and null placement (also used by aggregate ordering). */
export const DIRECTIONS: Record<OrderDirectionValue, Pick<OrderItem, 'direction' | 'nulls'>> = {
  ASC: { direction: 'ASC', nulls: 'LAST' },
  DESC: { direction: 'DESC', nulls: 'FIRST' },
  ASC_NULLS_FIRST: { direction: 'ASC', nulls: 'FIRST' },
  ASC_NULLS_LAST: { direction: 'ASC', nulls: 'LAST' },
  DESC_NULLS_FIRST: { direction: 'DESC', nulls: 'FIRST' },
  DESC_NULLS_LAST: { direction: 'DESC', nulls: 'LAST' },
};

/**
 * Convert a coerced `order_by` list. A relation field nests the target's `<Target>OrderBy`; the item becomes
 * one `OrderItem` whose `path` lists the relations followed (`{ trial: { experiment: { name: DESC } } }` →
 * `{ path: ['trial', 'experiment'], column: 'name', direction: 'DESC', nulls: 'FIRST' }`).
 * @param argType the argument's type (`[<Type>OrderBy!]`)
 * @param value the coerced list (a single object is accepted too: GraphQL list input coercion already wraps it)
 * @throws GraphQLRequestError BAD_USER_INPUT when an item, or a nested level of it, sets zero or several fields
 */
export function convertOrderBy(argType: GraphQLInputType, value: unknown, path: string, node?: ASTNode): OrderItem[] {
  const type = getNamedType(argType);
  if (!(type instanceof GraphQLInputObjectType)) throw new Error('order_by must be an input object list');
  const items = Array.isArray(value) ? value : [value];
  return items.map((item: Record<string, unknown>, i) => convertItem(type, item, [], `${path}[${i}]`, node));
}

/** One (possibly nested) order_by object → an `OrderItem`, with the relations followed so far in `relations`. */
function convertItem(type: GraphQLInputObjectType, item: Record<string, unknown>, relations: string[], where: string, node?: ASTNode): OrderItem {
  const set = Object.entries(item).filter(([, v]) => v !== null && v !== undefined);
  if (set.length !== 1) {
    throw requestError(
      'BAD_USER_INPUT',
      `${where} sets ${set.length} fields; each order_by item (and each nested relation in it) must set exactly one, e.g. [{ created_at: DESC }, { name: ASC }].`,
      node,
    );
  }
  const [key, v] = set[0];
  const field = type.getFields()[key];
  const meta = metaOf<OrderFieldMeta | OrderRelationMeta>(field);
  if (meta?.kind === 'order_relation') {
    if (relations.length >= MAX_ORDER_HOPS) {
      throw requestError(
        'BAD_USER_INPUT',
        `${where}.${key}: an order_by item may follow at most ${MAX_ORDER_HOPS} relations; order by a field nearer to ${type.name.replace(/OrderBy$/, '')}.`,
        node,
      );
    }
    const target = getNamedType(field.type);
    if (!(target instanceof GraphQLInputObjectType)) throw new Error('a relation order field must be an input object');
    return convertItem(target, v as Record<string, unknown>, [...relations, meta.relation], `${where}.${key}`, node);
  }
  if (meta?.kind !== 'order') throw requestError('BAD_USER_INPUT', `${where}.${key}: not an orderable field.`, node);
  return { ...(relations.length ? { path: relations } : {}), column: meta.column, ...DIRECTIONS[v as OrderDirectionValue] };
}
