/**
 * Similarity search (SPEC G-6, S-5): the distance of a row's vector to the query vector, and the predicate
 * that keeps rows within `max_distance`, for both storages of `vector` fields (see `VectorStorage`):
 *
 * | metric          | pgvector (`vector(n)`)      | without pgvector (`real[]`)                       |
 * |-----------------|-----------------------------|---------------------------------------------------|
 * | `cosine`        | `col <=> $v::vector`        | `lattice.vec_cosine_distance(col, $v::real[])`    |
 * | `l2`            | `col <-> $v::vector`        | `lattice.vec_l2_distance(col, $v::real[])`        |
 * | `inner_product` | `col <#> $v::vector`        | `lattice.vec_negative_inner_product(col, $v::real[])` |
 *
 * Distances follow pgvector: cosine distance 1 − cos θ (0…2), Euclidean distance, and the NEGATIVE inner
 * product −(a·b) (so that smaller is nearer for every metric). The pgvector form is what an HNSW index of
 * the same metric serves (`ORDER BY col <=> $v LIMIT n`, see `src/db/migrate/tables.ts`).
 *
 * Candidate rows: those whose distance is a number. Rows without a vector (NULL), and for cosine rows whose
 * vector is all zeros (pgvector: NaN; the SQL functions: NULL), are never returned, under either storage and
 * whether or not an index is used (pgvector's HNSW index does not hold them either). The predicate is
 * `distance <= $max` with `max_distance`, else `distance < 'NaN'` (PostgreSQL sorts NaN above every number,
 * and a comparison with NULL is not true).
 */
import type { Entity, Field, VectorMetric } from '../../model/types.js';
import { VECTOR_METRICS } from '../../model/document.js';
import type { NearestArg } from '../plan.js';
import { badInput } from '../../errors.js';
import { qualified } from './ident.js';
import { col, type CompileContext } from './context.js';

/** Largest finite `real` (float4): vector elements are stored as float4 under both storages. */
const FLOAT4_MAX = 3.4028234663852886e38;

const METRICS: readonly VectorMetric[] = VECTOR_METRICS;

/** pgvector operator of each metric. */
const OPERATOR: Record<VectorMetric, string> = { cosine: '<=>', l2: '<->', inner_product: '<#>' };

/** Lattice's SQL function of each metric (`src/db/migrate/system.ts`). */
const FUNCTION: Record<VectorMetric, string> = {
  cosine: 'vec_cosine_distance',
  l2: 'vec_l2_distance',
  inner_product: 'vec_negative_inner_product',
};

/** A validated `nearest` argument with its vector (and bound) bound once, usable on any alias of the entity. */
export interface NearestBinding {
  readonly field: Field;
  readonly metric: VectorMetric;
  /** `$n::vector` or `$n::real[]` */
  readonly vector: string;
  /** `$n::float8`, when `max_distance` was given */
  readonly maxDistance?: string;
}

/** The distance and candidate predicate of a bound `nearest` on one table alias. */
export interface NearestSql {
  /** `float8` distance, smaller is nearer. */
  readonly distance: string;
  /** Boolean: the row is a candidate (has a numeric distance, within `max_distance` if given). */
  readonly predicate: string;
}

/**
 * Check a `nearest` argument against `entity` (what the GraphQL/REST layers cannot check: the field's
 * dimensions, non-finite numbers from other clients).
 * @throws LatticeError BAD_USER_INPUT when the column is not a vector field of the entity, the metric is
 *         unknown, the vector is empty, has another length than the field's `dimensions`, holds a value that is
 *         not a finite number within float4 range, is all zeros under cosine (the cosine distance is undefined),
 *         or `maxDistance` is not a finite number (or negative, for cosine and l2 whose distances are ≥ 0;
 *         negative bounds are meaningful for inner_product, whose distance −(a·b) is negative for similar vectors)
 */
export function checkNearest(entity: Entity, nearest: NearestArg): Field {
  const field = typeof nearest.column === 'string' ? entity.columns.get(nearest.column) : undefined;
  const vectors = entity.fields.filter((f) => f.type === 'vector').map((f) => f.column);
  if (!field || field.type !== 'vector') {
    const hint = vectors.length ? `its vector fields are: ${vectors.join(', ')}` : `${entity.name} has no vector fields`;
    throw badInput(`"nearest" names "${String(nearest.column)}", which is not a vector field of ${entity.name}; ${hint}.`);
  }
  const where = `nearest.${field.column}`;
  if (!METRICS.includes(nearest.metric)) {
    throw badInput(`${where}.metric is ${JSON.stringify(nearest.metric)}; use one of: ${METRICS.join(', ')}.`);
  }
  const v = nearest.vector;
  if (!Array.isArray(v) || v.length === 0) throw badInput(`${where}.vector is empty; pass ${field.dimensions} numbers.`);
  if (v.length !== field.dimensions) {
    throw badInput(`${where}.vector has ${v.length} numbers; ${entity.name}.${field.column} has ${field.dimensions} dimensions.`);
  }
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || Math.abs(x) > FLOAT4_MAX) {
      throw badInput(`${where}.vector[${i}] is ${typeof x === 'number' ? String(x) : JSON.stringify(x)}; every element must be a finite number (at most ${FLOAT4_MAX} in magnitude).`);
    }
  });
  if (nearest.metric === 'cosine' && v.every((x) => Math.fround(x) === 0)) {
    throw badInput(`${where}.vector is all zeros: the cosine distance to it is undefined; use another vector or metric l2.`);
  }
  const max = nearest.maxDistance;
  if (max !== undefined) {
    if (typeof max !== 'number' || !Number.isFinite(max)) throw badInput(`${where}.max_distance must be a finite number; got ${String(max)}.`);
    if (max < 0 && nearest.metric !== 'inner_product') {
      throw badInput(`${where}.max_distance is ${max}; ${nearest.metric} distances are never negative, so nothing would match.`);
    }
  }
  return field;
}

/**
 * Validate and bind a `nearest` argument for rows of `entity`.
 * @throws LatticeError BAD_USER_INPUT as `checkNearest`
 */
export function bindNearest(ctx: CompileContext, entity: Entity, nearest: NearestArg): NearestBinding {
  const field = checkNearest(entity, nearest);
  ctx.usesNearest = true;
  // Elements are float4 under both storages. Rounded here, a magnitude below float4's range is 0 on both
  // (pgvector would round it to 0, while `real[]` input would fail with "out of range").
  const elements = nearest.vector.map((x) => Math.fround(x));
  const vector =
    ctx.options.vectors === 'pgvector'
      ? ctx.params.add(`[${elements.join(',')}]`, 'vector')
      : ctx.params.add(elements, 'real[]');
  const maxDistance = nearest.maxDistance === undefined ? undefined : ctx.params.add(nearest.maxDistance, 'float8');
  return { field, metric: nearest.metric, vector, ...(maxDistance ? { maxDistance } : {}) };
}

/**
 * The distance expression of a bound `nearest` on a table alias, and its candidate predicate.
 * @param computed an expression already holding the distance (a column of a derived table), to use instead of
 *        computing it again
 */
export function nearestSql(ctx: CompileContext, binding: NearestBinding, alias: string, computed?: string): NearestSql {
  const c = col(alias, binding.field.column);
  const distance =
    computed ??
    (ctx.options.vectors === 'pgvector'
      ? `(${c} ${OPERATOR[binding.metric]} ${binding.vector})`
      : `${qualified(ctx.model.systemSchema, FUNCTION[binding.metric])}(${c}, ${binding.vector})`);
  const predicate = binding.maxDistance ? `${distance} <= ${binding.maxDistance}` : `${distance} < 'NaN'::float8`;
  return { distance, predicate };
}
