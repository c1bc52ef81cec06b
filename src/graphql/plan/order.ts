/**
 * Coerced `order_by` input → plan `OrderItem[]` (SPEC G-5). Each item must set exactly one field.
 */
import { GraphQLInputObjectType, getNamedType, type ASTNode, type GraphQLInputType } from 'graphql';
import type { OrderItem } from '../../query/plan.js';
import { requestError } from '../errors.js';
import { metaOf, type OrderFieldMeta } from '../schema/meta.js';
import type { OrderDirectionValue } from '../schema/order.js';

const DIRECTIONS: Record<OrderDirectionValue, Pick<OrderItem, 'direction' | 'nulls'>> = {
  ASC: { direction: 'ASC', nulls: 'LAST' },
  DESC: { direction: 'DESC', nulls: 'FIRST' },
  ASC_NULLS_FIRST: { direction: 'ASC', nulls: 'FIRST' },
  ASC_NULLS_LAST: { direction: 'ASC', nulls: 'LAST' },
  DESC_NULLS_FIRST: { direction: 'DESC', nulls: 'FIRST' },
  DESC_NULLS_LAST: { direction: 'DESC', nulls: 'LAST' },
};

/**
 * Convert a coerced `order_by` list.
 * @param argType the argument's type (`[<Type>OrderBy!]`)
 * @param value the coerced list (a single object is accepted too: GraphQL list input coercion already wraps it)
 * @throws GraphQLRequestError BAD_USER_INPUT when an item sets zero or several fields
 */
export function convertOrderBy(argType: GraphQLInputType, value: unknown, path: string, node?: ASTNode): OrderItem[] {
  const type = getNamedType(argType);
  if (!(type instanceof GraphQLInputObjectType)) throw new Error('order_by must be an input object list');
  const fields = type.getFields();
  const items = Array.isArray(value) ? value : [value];
  return items.map((item: Record<string, unknown>, i) => {
    const set = Object.entries(item).filter(([, v]) => v !== null && v !== undefined);
    if (set.length !== 1) {
      throw requestError(
        'BAD_USER_INPUT',
        `${path}[${i}] sets ${set.length} fields; each order_by item must set exactly one, e.g. [{ created_at: DESC }, { name: ASC }].`,
        node,
      );
    }
    const [key, direction] = set[0];
    const meta = metaOf<OrderFieldMeta>(fields[key]);
    if (!meta) throw requestError('BAD_USER_INPUT', `${path}[${i}].${key}: not an orderable field.`, node);
    return { column: meta.column, ...DIRECTIONS[direction as OrderDirectionValue] };
  });
}
