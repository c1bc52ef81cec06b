/**
 * The benchmark's query cases, each answered side by side by Lattice (GraphQL POST) and by the baseline (one
 * hand-written SQL statement over bare `node:http`, `bench/baseline-server.ts`), with identical answers:
 *
 * - `dashboard` — seed 000's nested dashboard: project → 5 newest experiments → trials → runs.
 * - `aggregate` — a grouped aggregate over the metrics: one metric's mean, min and max per step over every
 *   run of the project (hundreds of thousands of rows read per request; issue 5 item 8).
 * - `catalog` — the catalog preset's seed-001 query: full-text search + a filter on typed metadata and on a
 *   one-to-one feature table + similarity to an embedding, 10 nearest (issue 5 item 8).
 *
 * Every baseline statement returns one row with one text column `body`: the complete `{"data": …}` document.
 */

/** Which seeded database a case reads. */
export type CaseDatabase = 'experiments' | 'catalog';

/** Values a case's request needs, found while seeding. */
export interface CaseContext {
  readonly projectId: string;
  /** Query embedding of the catalog case (an existing record's embedding). */
  readonly queryVector?: readonly number[];
}

export interface BenchCase {
  readonly id: string;
  readonly database: CaseDatabase;
  /** One line for the report. */
  readonly title: string;
  /** The GraphQL document Lattice answers. */
  readonly query: string;
  variables(ctx: CaseContext): Record<string, unknown>;
  /** The hand-written statement (parameters `$1…`). */
  readonly sql: string;
  params(ctx: CaseContext): unknown[];
  /** Short description of an answer for the report (e.g. "606 objects"). */
  describe(answer: unknown): string;
}

/** Number of (newest) experiments the dashboard asks for: 5 → 5 experiments, 100 trials, 500 runs. */
export const DASHBOARD_EXPERIMENTS = 5;

const ISO = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const DASHBOARD: BenchCase = {
  id: 'dashboard',
  database: 'experiments',
  title: `nested: project → ${DASHBOARD_EXPERIMENTS} newest experiments → their trials → their runs`,
  query: `query Dashboard($id: ID!, $experiments: Int!) {
  project(id: $id) {
    id
    name
    experiments(order_by: [{ created_at: DESC }], limit: $experiments) {
      id
      name
      kind
      meta
      created_at
      trials(order_by: [{ name: ASC }]) {
        id
        name
        status
        duration
        params
        runs(order_by: [{ created_at: ASC }]) {
          id
          status
          meta
        }
      }
    }
  }
}`,
  variables: (c) => ({ id: c.projectId, experiments: DASHBOARD_EXPERIMENTS }),
  sql: `
SELECT json_build_object('data', json_build_object('project', (
  SELECT json_build_object(
    'id', p.id,
    'name', p.name,
    'experiments', coalesce((
      SELECT json_agg(json_build_object(
        'id', e.id,
        'name', e.name,
        'kind', e.kind,
        'meta', e.meta,
        'created_at', ${ISO('e.created_at')},
        'trials', coalesce((
          SELECT json_agg(json_build_object(
            'id', t.id,
            'name', t.name,
            'status', t.status,
            'duration', t.duration,
            'params', t.params,
            'runs', coalesce((
              SELECT json_agg(json_build_object('id', r.id, 'status', r.status, 'meta', r.meta)
                              ORDER BY r.created_at, r.id)
              FROM app.run r
              WHERE r.project_id = t.project_id AND r.trial_id = t.id), '[]'::json)
          ) ORDER BY t.name, t.id)
          FROM app.trial t
          WHERE t.project_id = e.project_id AND t.experiment_id = e.id), '[]'::json)
      ) ORDER BY e.created_at DESC, e.id)
      FROM (SELECT * FROM app.experiment
            WHERE project_id = p.id
            ORDER BY created_at DESC, id
            LIMIT $2) e), '[]'::json))
  FROM lattice.projects p
  WHERE p.id = $1)))::text AS body`,
  params: (c) => [c.projectId, DASHBOARD_EXPERIMENTS],
  describe(answer) {
    const project = (answer as { data: { project: { experiments: { trials: { runs: unknown[] }[] }[] } } }).data.project;
    let n = 1;
    for (const e of project.experiments) {
      n += 1;
      for (const t of e.trials) n += 1 + t.runs.length;
    }
    return `${n.toLocaleString('en-US')} objects`;
  },
};

/** Metric key whose curve the aggregate case summarises. */
export const AGGREGATE_METRIC_KEY = 'test_accuracy';

export const AGGREGATE: BenchCase = {
  id: 'aggregate',
  database: 'experiments',
  title: `grouped aggregate: "${AGGREGATE_METRIC_KEY}" per step over every run (count, avg, min, max)`,
  query: `query Curve($key: String!) {
  metric_aggregate(filter: { key: { eq: $key } }, group_by: [step]) {
    key { step }
    count
    avg { value }
    min { value }
    max { value }
  }
}`,
  variables: () => ({ key: AGGREGATE_METRIC_KEY }),
  sql: `
SELECT json_build_object('data', json_build_object('metric_aggregate', coalesce((
  SELECT json_agg(g.j ORDER BY g.step NULLS LAST)
  FROM (SELECT m.step,
               json_build_object('key', json_build_object('step', m.step), 'count', count(*),
                                 'avg', json_build_object('value', avg(m.value)),
                                 'min', json_build_object('value', min(m.value)),
                                 'max', json_build_object('value', max(m.value))) AS j
        FROM app.metric m
        WHERE m.project_id = $1 AND m.key = $2
        GROUP BY m.step) g), '[]'::json)))::text AS body`,
  params: (c) => [c.projectId, AGGREGATE_METRIC_KEY],
  describe(answer) {
    const groups = (answer as { data: { metric_aggregate: { count: number }[] } }).data.metric_aggregate;
    const rows = groups.reduce((n, g) => n + g.count, 0);
    return `${groups.length} groups over ${rows.toLocaleString('en-US')} rows`;
  },
};

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
  };
}

/** All cases in report order; the catalog case is resolved once the catalog database's vector storage is known. */
export const CASES: readonly BenchCase[] = [DASHBOARD, AGGREGATE, catalogCase('real[]')];
