/**
 * Ordering inputs (SPEC G-5) and generated enum types of enum fields.
 */
import { GraphQLEnumType, GraphQLInputObjectType, type GraphQLInputFieldConfigMap } from 'graphql';
import type { Entity, Field } from '../../model/types.js';
import { ext, type OrderFieldMeta, type OrderRelationMeta } from './meta.js';
import type { TypeRegistry } from './registry.js';
import { isOrderable } from './types.js';

/** Values of `OrderDirection`; the planner maps them to a direction plus null placement. */
export const ORDER_DIRECTIONS = [
  'ASC',
  'DESC',
  'ASC_NULLS_FIRST',
  'ASC_NULLS_LAST',
  'DESC_NULLS_FIRST',
  'DESC_NULLS_LAST',
] as const;
export type OrderDirectionValue = (typeof ORDER_DIRECTIONS)[number];

/** `enum OrderDirection { ASC DESC ASC_NULLS_FIRST ASC_NULLS_LAST DESC_NULLS_FIRST DESC_NULLS_LAST }`. */
export function buildOrderDirection(): GraphQLEnumType {
  const descriptions: Record<OrderDirectionValue, string> = {
    ASC: 'Ascending, nulls last (PostgreSQL default).',
    DESC: 'Descending, nulls first (PostgreSQL default).',
    ASC_NULLS_FIRST: 'Ascending, nulls first.',
    ASC_NULLS_LAST: 'Ascending, nulls last.',
    DESC_NULLS_FIRST: 'Descending, nulls first.',
    DESC_NULLS_LAST: 'Descending, nulls last.',
  };
  return new GraphQLEnumType({
    name: 'OrderDirection',
    description: 'Sort direction and placement of nulls.',
    values: Object.fromEntries(ORDER_DIRECTIONS.map((v) => [v, { value: v, description: descriptions[v] }])),
  });
}

/**
 * `<Type>OrderBy`: one optional field per orderable column, and one per to-one relation typed as the target's
 * `<Target>OrderBy` (SPEC G-5: `{ trial: { experiment: { name: DESC } } }` orders by the trial's experiment's
 * name). Each list item, and each nested level, must set exactly one field.
 */
export function buildOrderBy(reg: TypeRegistry, entity: Entity): GraphQLInputObjectType {
  return new GraphQLInputObjectType({
    name: `${entity.typeName}OrderBy`,
    description: `One sort key over ${entity.plural}: set exactly one field per item of order_by (to-one relations nest).`,
    fields: () => {
      const fields: GraphQLInputFieldConfigMap = {};
      for (const f of entity.fields) {
        if (!isOrderable(f)) continue;
        fields[reg.name(f.column)] = {
          type: reg.orderDirection(),
          extensions: ext<OrderFieldMeta>({ kind: 'order', column: f.column }),
        };
      }
      for (const rel of entity.relations.values()) {
        if (rel.kind !== 'to-one') continue;
        const name = reg.name(rel.name);
        if (fields[name]) continue; // a column of the same name wins (cannot happen with model-validated names)
        fields[name] = {
          type: reg.orderByType(reg.entity(rel.target)),
          description: `Order by a field of the related ${rel.target} (null when there is none).`,
          extensions: ext<OrderRelationMeta>({ kind: 'order_relation', relation: rel.name }),
        };
      }
      return fields;
    },
  });
}

/** The GraphQL enum of an enum field, values as declared (SPEC G-1). */
export function buildEnumType(name: string, field: Field): GraphQLEnumType {
  return new GraphQLEnumType({
    name,
    values: Object.fromEntries((field.values ?? []).map((v) => [v, { value: v }])),
  });
}
