/**
 * Benchmark peer: the classic graphql-js server (issue 9 item 7) — a schema written by hand, one resolver per
 * field, and DataLoader batching each level of a nested query into one `WHERE fk = ANY($ids)` statement
 * (so the dashboard costs 4 statements: project, experiments, trials, runs). It accepts the very documents
 * `bench/cases.ts` sends to Lattice (same field and argument names, same JSON formats), for the experiments and
 * the catalog presets' tables, so its answers are deep-compared with Lattice's before measuring.
 *
 * Tenancy the way such servers usually do it: no row-level security (it connects as the database owner); the
 * request names its project in the `x-project-id` header (standing in for an authenticated principal; there
 * is no authentication) and every statement filters `project_id = ANY($projects)`.
 *
 * Only what the benchmark's documents use is implemented: ordering by listed columns (then by `id`, like
 * Lattice), `limit` (per parent, with `row_number()`, when a nested list has one), equality / greater-than
 * filters, `group_by` on `step` / `key`, full-text search and cosine distance as the hand-written baseline
 * computes them.
 *
 * Configuration (environment): `BENCH_PEER_DATABASE_URL`, `BENCH_PEER_POOL_SIZE` (10),
 * `BENCH_PEER_APPLICATION_NAME`, `BENCH_PEER_VECTORS` (`vector` for pgvector columns, `real[]` otherwise).
 * Serves `POST /graphql`; prints `listening http://127.0.0.1:<port>` when ready; SIGTERM stops it.
 * Plain JavaScript on purpose: it runs from bench/peers/node_modules without a TypeScript loader.
 */
import { createServer } from 'node:http';
import DataLoader from 'dataloader';
import { buildSchema, execute, parse, validate } from 'graphql';
import pg from 'pg';

const url = process.env.BENCH_PEER_DATABASE_URL;
if (!url) throw new Error('BENCH_PEER_DATABASE_URL is not set');
const vectors = process.env.BENCH_PEER_VECTORS === 'vector' ? 'vector' : 'real[]';

// timestamptz as PostgreSQL's text (the session runs in UTC), formatted by the DateTime scalar.
const types = {
  getTypeParser: (oid, format) => (oid === 1184 ? (v) => v : pg.types.getTypeParser(oid, format)),
};
const pool = new pg.Pool({
  connectionString: url,
  max: Number(process.env.BENCH_PEER_POOL_SIZE ?? 10),
  application_name: process.env.BENCH_PEER_APPLICATION_NAME ?? 'lattice-bench-dataloader',
  options: '-c TimeZone=UTC',
  types,
});
pool.on('error', () => undefined); // idle connections ended by the server: the pool replaces them

const sdl = /* GraphQL */ `
  scalar JSON
  scalar DateTime
  enum OrderDirection { ASC DESC }
  enum DistanceMetric { COSINE }
  input StringFilter { eq: String }
  input FloatFilter { gt: Float }
  input ExperimentOrderBy { id: OrderDirection name: OrderDirection created_at: OrderDirection }
  input TrialOrderBy { id: OrderDirection name: OrderDirection created_at: OrderDirection }
  input RunOrderBy { id: OrderDirection created_at: OrderDirection }
  input MetricOrderBy { id: OrderDirection key: OrderDirection step: OrderDirection }
  input MetricFilter { key: StringFilter }
  enum MetricGroupBy { key step }
  input TopicClassificationFilter { confidence: FloatFilter }
  input RecordFilter { license: StringFilter topic_classification: TopicClassificationFilter }
  input VectorNearest { vector: [Float!]! metric: DistanceMetric = COSINE }
  input RecordNearest { embedding: VectorNearest! }

  type Query {
    project(id: ID!): Project
    experiment(id: ID!): Experiment
    trial_metrics(trial_id: ID!, order_by: [MetricOrderBy!], limit: Int): [Metric!]!
    metric_aggregate(filter: MetricFilter, group_by: [MetricGroupBy!]!): [MetricGroup!]!
    records(search: String, filter: RecordFilter, nearest: RecordNearest, limit: Int): [Record!]!
  }
  type Project { id: ID! name: String! experiments(order_by: [ExperimentOrderBy!], limit: Int): [Experiment!]! }
  type Experiment {
    id: ID! name: String! description: String kind: String meta: JSON created_at: DateTime!
    trials(order_by: [TrialOrderBy!], limit: Int): [Trial!]!
  }
  type Trial {
    id: ID! name: String! status: String duration: Float params: JSON meta: JSON
    runs(order_by: [RunOrderBy!], limit: Int): [Run!]!
  }
  type Run { id: ID! status: String meta: JSON }
  type Metric { id: ID! key: String! value: Float! step: Int }
  type MetricGroupKey { key: String step: Int }
  type MetricValue { value: Float }
  type MetricGroup { key: MetricGroupKey! count: Int! avg: MetricValue min: MetricValue max: MetricValue }
  type TopicClassification { label: String confidence: Float }
  type Record {
    id: ID! name: String! version: String! license: String
    topic_classification: TopicClassification
    _distance: Float
  }
`;

const schema = buildSchema(sdl);

/** PostgreSQL's UTC text (`2026-01-01 00:01:00.5+00`) → Lattice's `2026-01-01T00:01:00.500000Z`. */
function isoMicros(text) {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/.exec(text);
  if (!m) throw new Error(`unexpected timestamp ${text}`);
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}Z`;
}
// buildSchema's custom scalars pass values through; DateTime formats PostgreSQL's text.
schema.getType('DateTime').serialize = isoMicros;

/** Columns each GraphQL type reads (the type's scalar fields), by table. */
const TABLES = {
  experiment: { table: 'app.experiment', columns: ['id', 'name', 'description', 'kind', 'meta', 'created_at'] },
  trial: { table: 'app.trial', columns: ['id', 'name', 'status', 'duration', 'params', 'meta'] },
  run: { table: 'app.run', columns: ['id', 'status', 'meta'] },
};

const quote = (ident) => `"${ident.replace(/"/g, '""')}"`;

/**
 * `ORDER BY` terms for an `order_by` argument (`[{ column: ASC|DESC }]`; the input types list the allowed
 * columns), then `id ASC` as the tiebreaker Lattice appends.
 */
function orderSql(orderBy, alias) {
  const terms = [];
  let hasId = false;
  for (const item of orderBy ?? []) {
    for (const [column, direction] of Object.entries(item)) {
      if (direction == null) continue;
      terms.push(`${alias}.${quote(column)} ${direction === 'DESC' ? 'DESC' : 'ASC'}`);
      hasId ||= column === 'id';
    }
  }
  if (!hasId) terms.push(`${alias}.id ASC`);
  return terms.join(', ');
}

/** The request's DataLoaders (new per request, so nothing is cached across principals). */
function makeLoaders(projects) {
  const childLoaders = new Map();
  return {
    projects,
    project: new DataLoader(async (ids) => {
      const { rows } = await pool.query('SELECT id, name FROM lattice.projects WHERE id = ANY($1::uuid[]) AND id = ANY($2::uuid[])', [ids, projects]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    experiment: new DataLoader(async (ids) => {
      const cols = TABLES.experiment.columns.map((c) => `e.${quote(c)}`).join(', ');
      const { rows } = await pool.query(
        `SELECT ${cols} FROM app.experiment e WHERE e.project_id = ANY($1::uuid[]) AND e.id = ANY($2::uuid[])`,
        [projects, ids],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    topicOfRecord: new DataLoader(async (ids) => {
      const { rows } = await pool.query(
        `SELECT c.record_id, c.label, c.confidence FROM app.topic_classification c
         WHERE c.project_id = ANY($1::uuid[]) AND c.record_id = ANY($2::uuid[])`,
        [projects, ids],
      );
      const byId = new Map(rows.map((r) => [r.record_id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    /**
     * One loader per (table, parent column, ordering, limit): children of many parents in one statement,
     * grouped by parent in the statement's order; a `limit` applies per parent (`row_number()`).
     */
    children(kind, parentColumn, orderBy, limit) {
      const key = JSON.stringify([kind, parentColumn, orderBy ?? null, limit ?? null]);
      let loader = childLoaders.get(key);
      if (!loader) {
        const { table, columns } = TABLES[kind];
        const cols = columns.map((c) => `t.${quote(c)}`).join(', ');
        const order = orderSql(orderBy, 't');
        const parent = quote(parentColumn);
        const text =
          limit == null
            ? `SELECT t.${parent} AS _parent, ${cols} FROM ${table} t
               WHERE t.project_id = ANY($1::uuid[]) AND t.${parent} = ANY($2::uuid[]) ORDER BY ${order}`
            : `SELECT * FROM (
                 SELECT t.${parent} AS _parent, ${cols}, row_number() OVER (PARTITION BY t.${parent} ORDER BY ${order}) AS _n
                 FROM ${table} t WHERE t.project_id = ANY($1::uuid[]) AND t.${parent} = ANY($2::uuid[])) s
               WHERE s._n <= $3 ORDER BY s._parent, s._n`;
        loader = new DataLoader(async (ids) => {
          const { rows } = await pool.query(text, limit == null ? [projects, ids] : [projects, ids, limit]);
          const groups = new Map(ids.map((id) => [id, []]));
          for (const r of rows) groups.get(r._parent)?.push(r);
          return ids.map((id) => groups.get(id));
        });
        childLoaders.set(key, loader);
      }
      return loader;
    },
  };
}

const distanceSql = (param) =>
  vectors === 'vector' ? `r.embedding <=> ${param}::text::vector` : `lattice.vec_cosine_distance(r.embedding, ${param}::real[])`;

const resolvers = {
  Query: {
    project: (_, { id }, ctx) => ctx.project.load(id),
    experiment: (_, { id }, ctx) => ctx.experiment.load(id),
    async trial_metrics(_, { trial_id, order_by, limit }, ctx) {
      const { rows } = await pool.query(
        `SELECT m.id, m.key, m.value, m.step FROM app.metric m
         WHERE m.project_id = ANY($1::uuid[]) AND m.trial_id = $2 ORDER BY ${orderSql(order_by, 'm')}
         ${limit == null ? '' : 'LIMIT $3'}`,
        limit == null ? [ctx.projects, trial_id] : [ctx.projects, trial_id, limit],
      );
      return rows;
    },
    async metric_aggregate(_, { filter, group_by }, ctx) {
      const params = [ctx.projects];
      const where = ['m.project_id = ANY($1::uuid[])'];
      if (filter?.key?.eq != null) {
        params.push(filter.key.eq);
        where.push(`m.key = $${params.length}`);
      }
      const keys = group_by.map((k) => `m.${quote(k)}`);
      const { rows } = await pool.query(
        `SELECT ${keys.map((k, i) => `${k} AS _k${i}`).join(', ')}, count(*)::int AS count,
                avg(m.value) AS avg, min(m.value) AS min, max(m.value) AS max
         FROM app.metric m WHERE ${where.join(' AND ')}
         GROUP BY ${keys.join(', ')} ORDER BY ${keys.map((k) => `${k} NULLS LAST`).join(', ')}`,
        params,
      );
      return rows.map((r) => ({
        key: Object.fromEntries(group_by.map((k, i) => [k, r[`_k${i}`]])),
        count: r.count,
        avg: { value: r.avg },
        min: { value: r.min },
        max: { value: r.max },
      }));
    },
    async records(_, { search, filter, nearest, limit }, ctx) {
      const params = [ctx.projects];
      const add = (value) => (params.push(value), `$${params.length}`);
      const where = ['r.project_id = ANY($1::uuid[])'];
      if (search != null) where.push(`r.search_vector @@ websearch_to_tsquery('english', ${add(search)})`);
      if (filter?.license?.eq != null) where.push(`r.license = ${add(filter.license.eq)}`);
      const minConfidence = filter?.topic_classification?.confidence?.gt;
      if (minConfidence != null) {
        where.push(`EXISTS (SELECT 1 FROM app.topic_classification c
                            WHERE c.project_id = r.project_id AND c.record_id = r.id AND c.confidence > ${add(minConfidence)})`);
      }
      const vector = nearest?.embedding?.vector;
      const distance = vector ? distanceSql(add(vectors === 'vector' ? JSON.stringify(vector) : vector)) : 'NULL::float8';
      const { rows } = await pool.query(
        `SELECT r.id, r.name, r.version, r.license, ${distance} AS _distance FROM app.record r
         WHERE ${where.join(' AND ')} ORDER BY ${vector ? '_distance, ' : ''}r.id ${limit == null ? '' : `LIMIT ${add(limit)}`}`,
        params,
      );
      return rows;
    },
  },
  Project: {
    experiments: (p, { order_by, limit }, ctx) => ctx.children('experiment', 'project_id', order_by, limit).load(p.id),
  },
  Experiment: {
    trials: (e, { order_by, limit }, ctx) => ctx.children('trial', 'experiment_id', order_by, limit).load(e.id),
  },
  Trial: {
    runs: (t, { order_by, limit }, ctx) => ctx.children('run', 'trial_id', order_by, limit).load(t.id),
  },
  Record: {
    topic_classification: (r, _, ctx) => ctx.topicOfRecord.load(r.id),
  },
};
for (const [typeName, fields] of Object.entries(resolvers)) {
  const type = schema.getType(typeName);
  for (const [fieldName, resolve] of Object.entries(fields)) type.getFields()[fieldName].resolve = resolve;
}

/** Parsed and validated documents by text (bounded), as GraphQL servers commonly cache them. */
const documents = new Map();
const DOCUMENT_CACHE_SIZE = 100;

function documentFor(query) {
  let entry = documents.get(query);
  if (!entry) {
    try {
      const document = parse(query);
      const errors = validate(schema, document);
      entry = errors.length ? { errors } : { document };
    } catch (err) {
      entry = { errors: [err] };
    }
    if (documents.size >= DOCUMENT_CACHE_SIZE) documents.delete(documents.keys().next().value);
    documents.set(query, entry);
  }
  return entry;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/graphql') return send(res, 404, { errors: [{ message: 'POST /graphql' }] });
  const projects = String(req.headers['x-project-id'] ?? '').split(',').filter(Boolean);
  if (projects.length === 0 || !projects.every((p) => UUID.test(p))) {
    return send(res, 400, { errors: [{ message: 'need the header x-project-id: <uuid>[,<uuid>...]' }] });
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { errors: [{ message: 'the body must be JSON' }] });
    }
    const { document, errors } = documentFor(String(body.query ?? ''));
    if (errors) return send(res, 400, { errors: errors.map((e) => ({ message: e.message })) });
    try {
      const result = await execute({
        schema,
        document,
        variableValues: body.variables ?? undefined,
        operationName: body.operationName ?? undefined,
        contextValue: makeLoaders(projects),
      });
      send(res, 200, result);
    } catch (err) {
      send(res, 500, { errors: [{ message: err instanceof Error ? err.message : String(err) }] });
    }
  });
});
server.keepAliveTimeout = 60_000;

await pool.query('SELECT 1');
server.listen(0, '127.0.0.1', () => console.log(`listening http://127.0.0.1:${server.address().port}`));

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => pool.end().finally(() => process.exit(0)));
});
