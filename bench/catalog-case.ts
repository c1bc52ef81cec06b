/**
 * The benchmark's catalog case (`bench/cases.ts`): the catalog preset's seed-001 query, whose hand-written
 * statement depends on how the server stores vectors.
 */
import type { BenchCase } from './cases.js';

/** Full-text query, metadata value and confidence bound of the catalog case. */
export const CATALOG_SEARCH = 'parse';
export const CATALOG_LICENSE = 'MIT';
export const CATALOG_MIN_CONFIDENCE = 0.5;
/** Nearest records the catalog case asks for. */
export const CATALOG_LIMIT = 10;

/**
 * Seed 001's query on the catalog preset: records matching a full-text query, with license = MIT and a
 * topic classification more confident than 0.5, the 10 nearest to a given embedding by cosine distance.
 * The baseline computes distances as Lattice does on this server: pgvector's `<=>` when the column is a
 * `vector`, else the `lattice.vec_cosine_distance` function over `real[]` (PostgreSQL without pgvector).
 */
export function catalogCase(vectorColumn: 'vector' | 'real[]'): BenchCase {
  const distance =
    vectorColumn === 'vector' ? 'r.embedding <=> $2::text::vector' : 'lattice.vec_cosine_distance(r.embedding, $2::real[])';
  return {
    id: 'catalog',
    database: 'catalog',
    title:
      `search "${CATALOG_SEARCH}" + license = ${CATALOG_LICENSE} + topic_classification.confidence > ${CATALOG_MIN_CONFIDENCE} ` +
      `+ ${CATALOG_LIMIT} nearest by cosine distance (seed 001)`,
    query: `query Similar($v: [Float!]!, $q: String!, $license: String!, $confidence: Float!, $limit: Int!) {
  records(
    search: $q
    filter: { license: { eq: $license }, topic_classification: { confidence: { gt: $confidence } } }
    nearest: { embedding: { vector: $v, metric: COSINE } }
    limit: $limit
  ) {
    id
    name
    version
    license
    topic_classification { label confidence }
    _distance
  }
}`,
    variables: (c) => ({
      v: c.queryVector,
      q: CATALOG_SEARCH,
      license: CATALOG_LICENSE,
      confidence: CATALOG_MIN_CONFIDENCE,
      limit: CATALOG_LIMIT,
    }),
    sql: `
SELECT json_build_object('data', json_build_object('records', coalesce((
  SELECT json_agg(json_build_object(
    'id', r.id, 'name', r.name, 'version', r.version, 'license', r.license,
    'topic_classification', (SELECT json_build_object('label', c.label, 'confidence', c.confidence)
                             FROM app.topic_classification c WHERE c.project_id = r.project_id AND c.record_id = r.id),
    '_distance', r.distance) ORDER BY r.distance, r.id)
  FROM (SELECT r.*, ${distance} AS distance
        FROM app.record r
        WHERE r.project_id = $1
          AND r.search_vector @@ websearch_to_tsquery('english', $3)
          AND r.license = $4
          AND EXISTS (SELECT 1 FROM app.topic_classification c
                      WHERE c.project_id = r.project_id AND c.record_id = r.id AND c.confidence > $5)
        ORDER BY distance, r.id
        LIMIT $6) r), '[]'::json)))::text AS body`,
    params: (c) => [
      c.projectId,
      vectorColumn === 'vector' ? JSON.stringify(c.queryVector) : c.queryVector,
      CATALOG_SEARCH,
      CATALOG_LICENSE,
      CATALOG_MIN_CONFIDENCE,
      CATALOG_LIMIT,
    ],
    describe(answer) {
      const records = (answer as { data: { records: { _distance: number }[] } }).data.records;
      const last = records.at(-1)?._distance;
      return `${records.length} records${last === undefined ? '' : `, farthest at cosine distance ${last.toFixed(3)}`}`;
    },
    postgraphile: {
      notComparable:
        'PostGraphile 5 (amber) has no full-text search, no filter through a related table and no vector distance ' +
        '(each needs a plugin or a hand-written SQL function)',
    },
  };
}
