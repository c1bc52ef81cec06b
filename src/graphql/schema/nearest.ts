/**
 * Similarity inputs (SPEC G-6): `nearest: <Type>Nearest` on list-like fields of entities with vector fields.
 *
 * ```graphql
 * enum VectorMetric { COSINE L2 INNER_PRODUCT }
 * input VectorNearest { vector: [Float!]!, metric: VectorMetric = COSINE, max_distance: Float }
 * input DocumentNearest { embedding: VectorNearest, title_embedding: VectorNearest }  # one per vector field
 * ```
 * Exactly one field of `<Type>Nearest` must be set (checked by the planner, `src/graphql/plan/args.ts`).
 */
import {
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLInputFieldConfigMap,
} from 'graphql';
import type { Entity, VectorMetric } from '../../model/types.js';
import { ext, type NearestFieldMeta } from './meta.js';
import type { TypeRegistry } from './registry.js';

/** Whether an entity has vector fields (and so a `nearest` argument and `_distance`). */
export function hasVectorFields(entity: Entity): boolean {
  return entity.fields.some((f) => f.type === 'vector');
}

/** Whether an entity has searchable fields (and so a `search` argument and `_rank`). */
export function hasSearchableFields(entity: Entity): boolean {
  return entity.fields.some((f) => f.searchable);
}

/** `enum VectorMetric { COSINE L2 INNER_PRODUCT }`, internal values the model's metric names. */
export function buildVectorMetric(): GraphQLEnumType {
  const values: Record<string, { value: VectorMetric; description: string }> = {
    COSINE: { value: 'cosine', description: 'Cosine distance 1 − cos θ (0 = same direction, 2 = opposite).' },
    L2: { value: 'l2', description: 'Euclidean (L2) distance.' },
    INNER_PRODUCT: { value: 'inner_product', description: 'Negative inner product −(a·b): smaller is more similar.' },
  };
  return new GraphQLEnumType({ name: 'VectorMetric', description: 'Distance metric of a similarity search.', values });
}

/** `input VectorNearest { vector, metric = COSINE, max_distance }`. */
export function buildVectorNearest(reg: TypeRegistry): GraphQLInputObjectType {
  return new GraphQLInputObjectType({
    name: 'VectorNearest',
    description: 'A similarity search on one vector field: rows ordered by distance to `vector`, nearest first.',
    fields: () => ({
      [reg.name('vector')]: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLFloat))),
        description: "The query vector; as many numbers as the field's dimensions.",
        extensions: ext<NearestFieldMeta>({ kind: 'nearest_arg', role: 'vector' }),
      },
      [reg.name('metric')]: {
        type: reg.vectorMetric(),
        defaultValue: 'cosine',
        description: 'Distance metric (default COSINE).',
        extensions: ext<NearestFieldMeta>({ kind: 'nearest_arg', role: 'metric' }),
      },
      [reg.name('max_distance')]: {
        type: GraphQLFloat,
        description: 'Only rows at most this far (inclusive); negative values make sense only for INNER_PRODUCT.',
        extensions: ext<NearestFieldMeta>({ kind: 'nearest_arg', role: 'max_distance' }),
      },
    }),
  });
}

/** `<Type>Nearest`: one optional `VectorNearest` per vector field of the entity. */
export function buildNearestInput(reg: TypeRegistry, entity: Entity): GraphQLInputObjectType {
  return new GraphQLInputObjectType({
    name: `${entity.typeName}Nearest`,
    description: `Similarity search over ${entity.plural}: set exactly one vector field.`,
    fields: () => {
      const fields: GraphQLInputFieldConfigMap = {};
      for (const f of entity.fields) {
        if (f.type !== 'vector') continue;
        fields[reg.name(f.column)] = {
          type: reg.vectorNearest(),
          description: `Rows nearest to a vector of ${f.dimensions} numbers by ${f.column}.`,
          extensions: ext<NearestFieldMeta>({ kind: 'nearest_field', column: f.column }),
        };
      }
      return fields;
    },
  });
}
