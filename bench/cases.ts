/**
 * The benchmark's query cases, each answered side by side by Lattice (GraphQL POST), by the baseline (one
 * hand-written SQL statement over bare `node:http`, `bench/baseline-server.ts`) and by the peers of issue 9
 * (`bench/peers/`): the graphql-js + DataLoader server (the very same GraphQL document) and PostGraphile 5 (its
 * own document for the same data, `postgraphile`, whose answer `toLattice` maps onto Lattice's shape). Every
 * answer is deep-compared with Lattice's before measuring:
 *
 * - `dashboard` — seed 000's nested dashboard: project → 5 newest experiments → trials → runs.
 * - `list` — 500 metrics of one trial ordered by step (issue 9's "list" query).
 * - `point` — one experiment by id (issue 9's "point" query).
 * - `aggregate` — a grouped aggregate over the metrics: one metric's mean, min and max per step over every
 *   run of the project (hundreds of thousands of rows read per request; issue 5 item 8).
 * - `catalog` — the catalog preset's seed-001 query: full-text search + a filter on typed metadata and on a
 *   one-to-one feature table + similarity to an embedding, 10 nearest (issue 5 item 8).
 *
 * Every baseline statement returns one row with one text column `body`: the complete `{"data": …}` document.
 */

import { catalogCase } from './catalog-case.js';

export { CATALOG_LICENSE, CATALOG_LIMIT, CATALOG_MIN_CONFIDENCE, CATALOG_SEARCH, catalogCase } from './catalog-case.js';

/** Which seeded database a case reads. */
export type CaseDatabase = 'experiments' | 'catalog';

/** Values a case's request needs, found while seeding. */
export interface CaseContext {
  readonly projectId: string;
  /** The experiment the point case reads (the newest of the project). */
  readonly experimentId?: string;
  /** The trial whose metrics the list case reads (the first trial of `experimentId`). */
  readonly trialId?: string;
  /** Query embedding of the catalog case (an existing record's embedding). */
  readonly queryVector?: readonly number[];
}

/**
 * The same request for PostGraphile 5 (amber preset: `rowId` for the `id` column, camelCase fields, connections
 * with `nodes`, relation fields named after the foreign key's columns, enum values upper-case).
 */
export interface PostGraphileQuery {
  readonly query: string;
  variables(ctx: CaseContext): Record<string, unknown>;
  /** PostGraphile's `{ data }` answer mapped onto the shape and formats of Lattice's answer (for the equality check). */
  toLattice(answer: unknown): unknown;
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
  /** PostGraphile's request, or why the case cannot be expressed in PostGraphile's schema (reported as n/a). */
  readonly postgraphile: PostGraphileQuery | { readonly notComparable: string };
}

/** Number of (newest) experiments the dashboard asks for: 5 → 5 experiments, 100 trials, 500 runs. */
export const DASHBOARD_EXPERIMENTS = 5;

const ISO = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * A PostGraphile `Datetime` (ISO 8601 with an offset, e.g. `2026-01-01T00:01:00+00:00`) in Lattice's format
 * (UTC, microseconds, `Z`). Millisecond precision: the seeded timestamps are whole seconds.
 */
export function latticeTimestamp(value: string): string {
  return new Date(value).toISOString().replace(/Z$/, '000Z');
}

type Row = Record<string, unknown>;
const nodes = (connection: unknown): Row[] => (connection as { nodes: Row[] }).nodes;
const dataOf = (answer: unknown): Row => (answer as { data: Row }).data;

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
  postgraphile: {
    query: `query Dashboard($id: UUID!, $experiments: Int!) {
  latticeProjectByRowId(rowId: $id) {
    rowId
    name
    experimentsByProjectId(orderBy: [CREATED_AT_DESC], first: $experiments) {
      nodes {
        rowId
        name
        kind
        meta
        createdAt
        trialsByProjectIdAndExperimentId(orderBy: [NAME_ASC]) {
          nodes {
            rowId
            name
            status
            duration
            params
            runsByProjectIdAndTrialId(orderBy: [CREATED_AT_ASC]) {
              nodes {
                rowId
                status
                meta
              }
            }
          }
        }
      }
    }
  }
}`,
    variables: (c) => ({ id: c.projectId, experiments: DASHBOARD_EXPERIMENTS }),
    toLattice(answer) {
      const p = dataOf(answer).latticeProjectByRowId as Row | null;
      const project = p && {
        id: p.rowId,
        name: p.name,
        experiments: nodes(p.experimentsByProjectId).map((e) => ({
          id: e.rowId,
          name: e.name,
          kind: e.kind,
          meta: e.meta,
          created_at: latticeTimestamp(e.createdAt as string),
          trials: nodes(e.trialsByProjectIdAndExperimentId).map((t) => ({
            id: t.rowId,
            name: t.name,
            status: String(t.status).toLowerCase(),
            duration: t.duration,
            params: t.params,
            runs: nodes(t.runsByProjectIdAndTrialId).map((r) => ({ id: r.rowId, status: String(r.status).toLowerCase(), meta: r.meta })),
          })),
        })),
      };
      return { data: { project } };
    },
  },
};

/** Metrics the list case asks for (a trial has 750 with the default seed: 5 runs × 50 steps × 3 keys). */
export const LIST_LIMIT = 500;

export const LIST: BenchCase = {
  id: 'list',
  database: 'experiments',
  title: `${LIST_LIMIT} metrics of one trial ordered by step`,
  query: `query Curve($trial: ID!, $limit: Int!) {
  trial_metrics(trial_id: $trial, order_by: [{ step: ASC }], limit: $limit) {
    id
    key
    value
    step
  }
}`,
  variables: (c) => ({ trial: c.trialId, limit: LIST_LIMIT }),
  // Lattice orders by the requested keys, then by id (SPEC G-5); ascending puts NULL steps last.
  sql: `
SELECT json_build_object('data', json_build_object('trial_metrics', coalesce((
  SELECT json_agg(json_build_object('id', m.id, 'key', m.key, 'value', m.value, 'step', m.step) ORDER BY m.step, m.id)
  FROM (SELECT id, key, value, step FROM app.metric
        WHERE project_id = $1 AND trial_id = $2
        ORDER BY step, id
        LIMIT $3) m), '[]'::json)))::text AS body`,
  params: (c) => [c.projectId, c.trialId, LIST_LIMIT],
  describe(answer) {
    const rows = (answer as { data: { trial_metrics: unknown[] } }).data.trial_metrics;
    return `${rows.length.toLocaleString('en-US')} metrics`;
  },
  postgraphile: {
    // The project id in the condition too: PostGraphile's user knows it, and it lets PostgreSQL use the
    // (project_id, trial_id, step) index as Lattice's own statement does.
    query: `query Curve($project: UUID!, $trial: UUID!, $limit: Int!) {
  allMetrics(condition: { projectId: $project, trialId: $trial }, orderBy: [STEP_ASC, ROW_ID_ASC], first: $limit) {
    nodes {
      rowId
      key
      value
      step
    }
  }
}`,
    variables: (c) => ({ project: c.projectId, trial: c.trialId, limit: LIST_LIMIT }),
    toLattice: (answer) => ({
      data: { trial_metrics: nodes(dataOf(answer).allMetrics).map((m) => ({ id: m.rowId, key: m.key, value: m.value, step: m.step })) },
    }),
  },
};

export const POINT: BenchCase = {
  id: 'point',
  database: 'experiments',
  title: 'one experiment by id',
  query: `query Experiment($id: ID!) {
  experiment(id: $id) {
    id
    name
    description
    kind
    meta
    created_at
  }
}`,
  variables: (c) => ({ id: c.experimentId }),
  sql: `
SELECT json_build_object('data', json_build_object('experiment', (
  SELECT json_build_object('id', e.id, 'name', e.name, 'description', e.description, 'kind', e.kind, 'meta', e.meta,
                           'created_at', ${ISO('e.created_at')})
  FROM app.experiment e
  WHERE e.project_id = $1 AND e.id = $2)))::text AS body`,
  params: (c) => [c.projectId, c.experimentId],
  describe(answer) {
    const e = (answer as { data: { experiment: { name: string } | null } }).data.experiment;
    return e ? `experiment ${JSON.stringify(e.name)}` : 'no experiment';
  },
  postgraphile: {
    query: `query Experiment($id: UUID!) {
  experimentByRowId(rowId: $id) {
    rowId
    name
    description
    kind
    meta
    createdAt
  }
}`,
    variables: (c) => ({ id: c.experimentId }),
    toLattice(answer) {
      const e = dataOf(answer).experimentByRowId as Row | null;
      return {
        data: {
          experiment: e && {
            id: e.rowId,
            name: e.name,
            description: e.description,
            kind: e.kind,
            meta: e.meta,
            created_at: latticeTimestamp(e.createdAt as string),
          },
        },
      };
    },
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
  postgraphile: { notComparable: 'PostGraphile 5 (amber) has no aggregates (they need a plugin, @graphile/pg-aggregates)' },
};

/** All cases in report order; the catalog case is resolved once the catalog database's vector storage is known. */
export const CASES: readonly BenchCase[] = [DASHBOARD, LIST, POINT, AGGREGATE, catalogCase('real[]')];

/**
 * The cases with these ids, in report order, the catalog case resolved for the server's vector storage.
 * @throws Error naming unknown ids
 */
export function resolveCases(ids: readonly string[], vectorColumn: 'vector' | 'real[]'): BenchCase[] {
  const wanted = ids.map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !CASES.some((c) => c.id === w));
  if (unknown.length) throw new Error(`Unknown benchmark cases: ${unknown.join(', ')}; known: ${CASES.map((c) => c.id).join(', ')}`);
  return CASES.filter((c) => wanted.includes(c.id)).map((c) => (c.id === 'catalog' ? catalogCase(vectorColumn) : c));
}
