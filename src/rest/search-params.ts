/**
 * `search=` and `nearest=` of `GET /api/v1/<plural>` (SPEC R-1, G-6) → the plan's `ListArgs.search` and
 * `ListArgs.nearest`, compiled by the same SQL as GraphQL's `search` and `nearest` arguments.
 *
 * - `search=<text>`: `websearch_to_tsquery` syntax over the entity's searchable fields; only on entities
 *   with searchable fields; at most 1,000 characters.
 * - `nearest=<JSON>`: `{"<vector field>": {"vector": [..], "metric": "cosine" | "l2" | "inner_product",
 *   "max_distance": <number>}}` — exactly one vector field; `metric` defaults to `cosine`; the vector must
 *   have the field's `dimensions` finite numbers.
 * Without `order_by`, results are ordered by distance (nearest) or rank (search), best first. Each item then
 * carries `_rank` (with `search`) and `_distance` (with `nearest`), as GraphQL's fields of those names.
 */
import { VECTOR_METRICS } from '../model/document.js';
import type { Entity, VectorMetric } from '../model/types.js';
import type { NearestArg } from '../query/plan.js';
import { paramError, parseJsonParam } from './filter.js';

/** Longest accepted `search` text (the compiler enforces the same bound). */
export const MAX_SEARCH_LENGTH = 1000;

/** Whether an entity can be searched (has at least one `searchable` field). */
export function isSearchable(entity: Entity): boolean {
  return entity.fields.some((f) => f.searchable);
}

/**
 * Check `search=` for `entity`.
 * @throws LatticeError BAD_USER_INPUT when the entity has no searchable fields or the text is too long
 */
export function parseSearchParam(entity: Entity, text: string): string {
  if (!isSearchable(entity)) {
    throw paramError('search', `${entity.plural} have no searchable fields; use filter= instead (e.g. {"name":{"ilike":"%word%"}})`);
  }
  if (text.length > MAX_SEARCH_LENGTH) throw paramError('search', `is ${text.length} characters long; use at most ${MAX_SEARCH_LENGTH}`);
  return text;
}

const EXAMPLE = '{"embedding":{"vector":[0.1,0.2],"metric":"cosine","max_distance":0.5}}';

/**
 * Parse `nearest=` for `entity`.
 * @throws LatticeError BAD_USER_INPUT naming `nearest` and the path inside it (`nearest.embedding.vector`)
 */
export function parseNearestParam(entity: Entity, text: string): NearestArg {
  const vectors = entity.fields.filter((f) => f.type === 'vector');
  if (vectors.length === 0) throw paramError('nearest', `${entity.plural} have no vector field to compare`);
  const names = vectors.map((f) => f.column).join(', ');
  const value = parseJsonParam('nearest', text, EXAMPLE);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw paramError('nearest', `expected an object naming one vector field (${names}), e.g. ${EXAMPLE}`);
  }
  const entries = Object.entries(value);
  if (entries.length !== 1) throw paramError('nearest', `name exactly one vector field (${names}); got ${entries.length}`);
  const [column, spec] = entries[0];
  const path = `nearest.${column}`;
  const field = entity.columns.get(column);
  if (!field || field.type !== 'vector') throw paramError(path, `not a vector field of ${entity.name}; use one of: ${names}`);
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw paramError(path, 'expected {"vector": [...], "metric": "cosine", "max_distance": 0.5} (metric and max_distance optional)');
  }
  const s = spec as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (key !== 'vector' && key !== 'metric' && key !== 'max_distance') throw paramError(`${path}.${key}`, 'unknown key; use vector, metric, max_distance');
  }
  const vector = s.vector;
  if (!Array.isArray(vector)) throw paramError(`${path}.vector`, `expected an array of ${field.dimensions} numbers`);
  const bad = vector.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (bad >= 0) throw paramError(`${path}.vector[${bad}]`, 'expected a finite number');
  if (vector.length !== field.dimensions) {
    throw paramError(`${path}.vector`, `expected ${field.dimensions} numbers (the field's dimensions); got ${vector.length}`);
  }
  let metric: VectorMetric = 'cosine';
  if (s.metric !== undefined) {
    if (typeof s.metric !== 'string' || !(VECTOR_METRICS as readonly string[]).includes(s.metric)) {
      throw paramError(`${path}.metric`, `expected one of: ${VECTOR_METRICS.join(', ')}`);
    }
    metric = s.metric as VectorMetric;
  }
  let maxDistance: number | undefined;
  if (s.max_distance !== undefined) {
    if (typeof s.max_distance !== 'number' || !Number.isFinite(s.max_distance)) throw paramError(`${path}.max_distance`, 'expected a finite number');
    maxDistance = s.max_distance;
  }
  return { column, vector: vector as number[], metric, ...(maxDistance !== undefined ? { maxDistance } : {}) };
}
