/**
 * `GET /metrics` (SPEC R-4, issue 7 item 5): access (admin key, or open with LATTICE_METRICS_PUBLIC), Prometheus
 * text with the default process metrics, HTTP durations by route pattern (never the raw URL), GraphQL operation
 * durations by bounded operation name, SQL statement and transaction durations, pool usage (node-postgres only),
 * ingestion events by API, type and outcome (generic, Langfuse, OTLP), errors by code. PGlite and PostgreSQL.
 *
 * The metrics registry is the process's: every assertion compares a sample before and after the request.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { BoundedLabel, graphqlOperationName, metricsPublicFromEnv } from '../../src/server/metrics.js';
import { NO_TELEMETRY } from '../../src/server/telemetry.js';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

/** The sum of the samples of `name` whose labels include `labels` (0 when none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('metric label bounds', () => {
  it('keeps the first distinct values and counts later new ones as "other"', () => {
    const label = new BoundedLabel(2);
    expect([label.of('a'), label.of('b'), label.of('c'), label.of('a'), label.of('d')]).toEqual(['a', 'b', 'other', 'a', 'other']);
  });

  it('names GraphQL operations by operationName, else the first named operation, else anonymous', () => {
    expect(graphqlOperationName('Given', 'query Other { a }')).toBe('Given');
    expect(graphqlOperationName(undefined, '# c\nquery  ListTraces($n: Int) { a }')).toBe('ListTraces');
    expect(graphqlOperationName(null, 'mutation Save { a }')).toBe('Save');
    expect(graphqlOperationName(undefined, '{ traces { id } }')).toBe('anonymous');
    expect(graphqlOperationName('not a name!', '{ a }')).toBe('anonymous');
  });

  it('reads LATTICE_METRICS_PUBLIC strictly', () => {
    expect(metricsPublicFromEnv(undefined)).toBe(false);
    expect(metricsPublicFromEnv('TRUE')).toBe(true);
    expect(metricsPublicFromEnv('off')).toBe(false);
    expect(() => metricsPublicFromEnv('maybe')).toThrow(/LATTICE_METRICS_PUBLIC is "maybe"/);
  });
});

describe.each(TEST_KINDS)('GET /metrics on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let admin: string;
  let editor: { public_key: string; secret_key: string };
  const scrape = async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: admin } });
    expect(res.statusCode).toBe(200);
    return res.body;
  };
  const bearer = (k: { secret_key: string }) => `Bearer ${k.secret_key}`;
  const basic = (k: { public_key: string; secret_key: string }) => `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}`;
  const gql = (query: string, operationName?: string) =>
    app.inject({ method: 'POST', url: '/graphql', headers: { authorization: bearer(editor) }, payload: { query, ...(operationName ? { operationName } : {}) } });

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    const project = await createProject(t.db, 'metrics');
    editor = await createApiKey(t.db, { projectId: project, role: 'editor' });
    admin = bearer(await createApiKey(t.db, { projectId: null, role: 'admin' }));
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false, telemetry: NO_TELEMETRY, metricsPublic: false }));
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('needs an admin key unless public, and answers Prometheus text with the process metrics', async () => {
    const anonymous = await app.inject({ method: 'GET', url: '/metrics' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('LATTICE_METRICS_PUBLIC') });
    const notAdmin = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: bearer(editor) } });
    expect(notAdmin.statusCode).toBe(403);
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: admin } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(/^# HELP process_cpu_user_seconds_total/m);
    expect(res.body).toMatch(/^nodejs_heap_size_used_bytes \d/m);

    const open = await buildServer({ db: t.db, model: t.model, followModelChanges: false, telemetry: NO_TELEMETRY, metricsPublic: true });
    try {
      const publicRes = await open.app.inject({ method: 'GET', url: '/metrics' });
      expect(publicRes.statusCode).toBe(200);
      expect(publicRes.body).toContain('# TYPE lattice_http_request_duration_seconds histogram');
    } finally {
      await open.app.close();
    }
  });

  it('times HTTP requests by route pattern and status, never by raw URL, and counts errors by code', async () => {
    const id = randomUUID();
    const before = await scrape();
    const labels = { method: 'GET', route: '/api/v1/:plural/:id', status_code: '404' };
    const res = await app.inject({ method: 'GET', url: `/api/v1/traces/${id}?x=1`, headers: { authorization: bearer(editor) } });
    expect(res.statusCode).toBe(404);
    const stray = `/no-such-route-${randomUUID()}`;
    expect((await app.inject({ method: 'GET', url: stray })).statusCode).toBe(404);
    const after = await scrape();
    expect(sample(after, 'lattice_http_request_duration_seconds_count', labels) - sample(before, 'lattice_http_request_duration_seconds_count', labels)).toBe(1);
    const unmatched = { method: 'GET', route: '(unmatched)', status_code: '404' };
    expect(sample(after, 'lattice_http_request_duration_seconds_count', unmatched) - sample(before, 'lattice_http_request_duration_seconds_count', unmatched)).toBe(1);
    expect(after).not.toContain(id);
    expect(after).not.toContain(stray);
    expect(sample(after, 'lattice_errors_total', { code: 'NOT_FOUND' }) - sample(before, 'lattice_errors_total', { code: 'NOT_FOUND' })).toBe(2);
  });

  it('times GraphQL operations by name (anonymous when unnamed) and outcome, and the SQL they send', async () => {
    const before = await scrape();
    expect((await gql('query ListTraces { traces { id } }')).json().data).toEqual({ traces: [] });
    expect((await gql('{ traces { id } }')).statusCode).toBe(200);
    expect((await gql('query A { traces { id } } query B { traces { name } }', 'B')).json().data).toEqual({ traces: [] });
    expect((await gql('query Broken { no_such_field }')).json().errors).toHaveLength(1);
    const after = await scrape();
    const delta = (labels: Record<string, string>) =>
      sample(after, 'lattice_graphql_operation_duration_seconds_count', labels) - sample(before, 'lattice_graphql_operation_duration_seconds_count', labels);
    expect(delta({ operation_name: 'ListTraces', outcome: 'ok' })).toBe(1);
    expect(delta({ operation_name: 'anonymous', outcome: 'ok' })).toBe(1);
    expect(delta({ operation_name: 'B', outcome: 'ok' })).toBe(1);
    expect(delta({ operation_name: 'Broken', outcome: 'error' })).toBe(1);
    // The three reads sent one statement each as the principal (plus key look-ups, which may be cached).
    const reads = { via: 'query_as', outcome: 'ok' };
    expect(sample(after, 'lattice_db_statement_duration_seconds_count', reads) - sample(before, 'lattice_db_statement_duration_seconds_count', reads)).toBeGreaterThanOrEqual(3);
    expect(sample(after, 'lattice_db_statement_duration_seconds_sum', reads)).toBeGreaterThan(sample(before, 'lattice_db_statement_duration_seconds_sum', reads));
  });

  it('reports node-postgres pool usage per pool, the request pool included (and nothing for PGlite, which has no pool)', async () => {
    await t.db.query('SELECT 1'); // at least one (now idle) connection in the owner pool
    await t.db.queryAs(testPrincipal('viewer', []), 'SELECT 1'); // opens the request pool
    const text = await scrape();
    if (kind === 'postgres') {
      expect(text).toMatch(/^lattice_db_pool_connections\{pool="owner",state="total"\} [1-9]/m);
      expect(text).toMatch(/^lattice_db_pool_connections\{pool="owner",state="idle"\} \d/m);
      expect(text).toMatch(/^lattice_db_pool_connections\{pool="owner",state="waiting"\} 0/m);
      if ((await t.db.requestIsolation?.()) === 'login') {
        expect(text).toMatch(/^lattice_db_pool_connections\{pool="request",state="total"\} [1-9]/m);
        expect(text).toMatch(/^lattice_db_pool_connections\{pool="request",state="waiting"\} 0/m);
      } else {
        expect(text).not.toMatch(/pool="request"/);
      }
    } else {
      expect(text).not.toMatch(/^lattice_db_pool_connections\{/m);
    }
  });

  it('counts ingestion events by API, type and outcome on the generic, Langfuse and OTLP routes', async () => {
    const before = await scrape();
    const generic = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: { authorization: bearer(editor) },
      payload: { batch: [{ id: 'g1', type: 'trace.create', body: { name: 'metrics', timestamp: new Date().toISOString() } }, { id: 'g2', type: 'nothing.create', body: {} }] },
    });
    expect(generic.statusCode).toBe(207);
    expect(generic.json().successes).toHaveLength(1);
    const langfuse = await app.inject({
      method: 'POST',
      url: '/api/public/ingestion',
      headers: { authorization: basic(editor) },
      payload: {
        batch: [
          { id: randomUUID(), type: 'trace-create', timestamp: new Date().toISOString(), body: { id: randomUUID(), name: 'metrics' } },
          { id: randomUUID(), type: 'no-such-event', body: {} },
        ],
      },
    });
    expect(langfuse.statusCode).toBe(207);
    expect(langfuse.json().successes).toHaveLength(1);
    const now = BigInt(Date.now()) * 1_000_000n;
    const otlp = await app.inject({
      method: 'POST',
      url: '/api/public/otel/v1/traces',
      headers: { authorization: basic(editor), 'content-type': 'application/json' },
      payload: {
        resourceSpans: [
          {
            resource: { attributes: [] },
            scopeSpans: [{ scope: { name: 'metrics-test' }, spans: [{ traceId: randomUUID().replace(/-/g, ''), spanId: '00f067aa0ba902b7', name: 's', kind: 1, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1000n) }] }],
          },
        ],
      },
    });
    expect(otlp.statusCode).toBe(200);
    const after = await scrape();
    const delta = (labels: Record<string, string>) => sample(after, 'lattice_ingestion_events_total', labels) - sample(before, 'lattice_ingestion_events_total', labels);
    expect(delta({ api: 'lattice', type: 'trace.create', outcome: 'accepted' })).toBe(1);
    expect(delta({ api: 'lattice', type: 'unknown', outcome: 'rejected' })).toBe(1);
    expect(delta({ api: 'langfuse', type: 'trace-create', outcome: 'accepted' })).toBe(1);
    expect(delta({ api: 'langfuse', type: 'unknown', outcome: 'rejected' })).toBe(1);
    expect(delta({ api: 'otlp', type: 'span', outcome: 'accepted' })).toBe(1);
    // Writes ran in a transaction as the principal.
    const tx = { kind: 'principal', outcome: 'commit' };
    expect(sample(after, 'lattice_db_transaction_duration_seconds_count', tx) - sample(before, 'lattice_db_transaction_duration_seconds_count', tx)).toBeGreaterThanOrEqual(3);
  });
});
