/**
 * OpenTelemetry spans and request context (SPEC G-15, issue 7 item 5): with an in-process exporter
 * (`InMemorySpanExporter`), a GraphQL request gives a SERVER span (semantic-convention attributes, the caller's
 * W3C trace as parent) with a CLIENT child span for its SQL statement (`db.query.text` only in development mode);
 * the `OTEL_*` environment decides whether tracing is on; log lines written through the server logger during a
 * request carry its request id. PGlite and PostgreSQL.
 */
import { Writable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createTelemetry } from '../../src/server/telemetry-sdk.js';
import { NO_TELEMETRY, telemetryFromEnv } from '../../src/server/telemetry.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

describe('tracing configuration from OTEL_* variables', () => {
  it('is off without an exporter, on for otlp (named or implied by an endpoint) and console', async () => {
    expect((await telemetryFromEnv({})).tracer).toBeUndefined();
    expect((await telemetryFromEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).tracer).toBeUndefined();
    expect((await telemetryFromEnv({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).tracer).toBeUndefined();
    for (const env of [{ OTEL_TRACES_EXPORTER: 'otlp' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, { OTEL_TRACES_EXPORTER: 'console' }]) {
      const t = await telemetryFromEnv(env);
      expect(t.tracer).toBeDefined();
      await t.shutdown();
    }
    await expect(telemetryFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' })).rejects.toThrow(/OTEL_TRACES_EXPORTER names "zipkin"/);
  });
});

describe.each(TEST_KINDS)('request spans and request ids on %s', (kind) => {
  let t: TestDb;
  let auth: { authorization: string };
  const exporter = new InMemorySpanExporter();
  const apps: FastifyInstance[] = [];
  const lines: Array<Record<string, unknown>> = [];

  /** A server with tracing into `exporter` in `mode`. */
  async function tracedApp(mode: 'development' | 'production'): Promise<FastifyInstance> {
    const { app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false, config: { mode }, telemetry: createTelemetry(exporter, { batch: false }) });
    apps.push(app);
    return app;
  }

  /** The finished spans of one trace: the SERVER span and its children, once the server span has ended. */
  async function traceOf(traceId: string): Promise<{ server: ReadableSpan; children: ReadableSpan[] }> {
    return vi.waitFor(() => {
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const server = spans.find((s) => s.kind === SpanKind.SERVER);
      expect(server).toBeDefined();
      return { server: server!, children: spans.filter((s) => s.parentSpanContext?.spanId === server!.spanContext().spanId) };
    });
  }

  beforeAll(async () => {
    t = await createTestDb(kind);
    auth = { authorization: `Bearer ${(await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key}` };
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await t?.close();
  });

  it('gives a GraphQL request a server span, child of the caller\'s trace, with a child span for its SQL', async () => {
    const app = await tracedApp('development');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { ...auth, traceparent: `00-${traceId}-${callerSpan}-01` },
      payload: { query: 'query ListExperiments { experiments { id name } }' },
    });
    expect(res.statusCode).toBe(200);
    const { server, children } = await traceOf(traceId);
    expect(server.name).toBe('POST /graphql');
    expect(server.parentSpanContext?.spanId).toBe(callerSpan);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'http.response.status_code': 200,
      'graphql.operation.name': 'ListExperiments',
      'lattice.request_id': res.headers['x-request-id'],
    });
    const read = children.find((s) => String(s.attributes['db.query.text'] ?? '').includes('experiment'));
    expect(read).toBeDefined();
    expect(read!.kind).toBe(SpanKind.CLIENT);
    expect(read!.attributes).toMatchObject({ 'db.system': 'postgresql', 'db.system.name': 'postgresql' });
    expect(read!.name).toMatch(/^[A-Z]+$/);
  });

  it('leaves the SQL text out of spans in production mode, and starts a new trace without traceparent', async () => {
    const app = await tracedApp('production');
    exporter.reset();
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: auth, payload: { query: '{ experiments { id } }' } });
    expect(res.statusCode).toBe(200);
    const server = await vi.waitFor(() => {
      const s = exporter.getFinishedSpans().find((x) => x.kind === SpanKind.SERVER && x.attributes['lattice.request_id'] === res.headers['x-request-id']);
      expect(s).toBeDefined();
      return s!;
    });
    expect(server.parentSpanContext).toBeUndefined();
    const { children } = await traceOf(server.spanContext().traceId);
    const sql = children.filter((s) => s.attributes['db.system'] === 'postgresql');
    expect(sql.length).toBeGreaterThan(0);
    for (const s of sql) expect(s.attributes['db.query.text']).toBeUndefined();
  });

  it('writes the request id on lines the server logger writes during a request, not outside requests', async () => {
    const stream = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const { app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false, telemetry: NO_TELEMETRY, logger: { level: 'info', stream } });
    apps.push(app);
    // The server logger as the database layer, model registry or live hub use it, inside a request.
    app.get('/test/log', async (request) => {
      app.log.info('from the server logger');
      request.log.info('from the request logger');
      await t.db.query('SELECT 1');
      app.log.info('after an await');
      return { ok: true };
    });
    await app.ready();
    app.log.info('outside any request');
    const res = await app.inject({ method: 'GET', url: '/test/log', headers: { 'x-request-id': 'req-log-1' } });
    expect(res.statusCode).toBe(200);
    const byMsg = (msg: string) => lines.find((l) => l.msg === msg);
    expect(byMsg('from the server logger')?.request_id).toBe('req-log-1');
    expect(byMsg('after an await')?.request_id).toBe('req-log-1');
    expect(byMsg('from the request logger')?.request_id).toBe('req-log-1');
    expect(byMsg('outside any request')).toBeDefined();
    expect(byMsg('outside any request')?.request_id).toBeUndefined();
  });

  it('does not repeat request_id on request logger lines', async () => {
    const raw: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        raw.push(String(chunk));
        done();
      },
    });
    const { app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false, telemetry: NO_TELEMETRY, logger: { level: 'info', stream } });
    apps.push(app);
    app.get('/test/log-once', async (request) => {
      request.log.info('request line');
      return { ok: true };
    });
    await app.inject({ method: 'GET', url: '/test/log-once', headers: { 'x-request-id': 'req-log-2' } });
    const line = raw.join('').split('\n').find((l) => l.includes('"request line"'));
    expect(line?.match(/"request_id"/g)).toHaveLength(1);
  });
});
