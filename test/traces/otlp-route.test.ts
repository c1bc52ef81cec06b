/**
 * `POST /api/public/otel/v1/traces` beyond the SDKs (SPEC R-6, issue 7 item 2): OTLP answers in both
 * encodings with partial success, bad input (truncated protobuf, wrong content type or coding, gzip bomb,
 * undecodable JSON, huge attributes) answered 4xx or rejected per span while the good spans of the same export
 * are kept, credentials and roles, tenant isolation (a trace id of another project is a conflict, never an
 * overwrite), and one trace merged over several exports. PGlite and PostgreSQL.
 */
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { decodeExportResponse, decodeStatus, encodeExportRequest } from '../../src/traces/otlp-decode.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const URL = '/api/public/otel/v1/traces';
type Attr = { key: string; value: Record<string, unknown> };

/** A string attribute. */
const str = (key: string, value: string): Attr => ({ key, value: { stringValue: value } });

/** An OTLP/JSON span; times are seconds after 2026-03-01T10:00:00Z. */
function span(traceId: string, spanId: string, o: { parent?: string; name?: string; start?: number; end?: number; attributes?: Attr[] } = {}) {
  const base = 1772359200n * 1_000_000_000n;
  const nanos = (s: number) => String(base + BigInt(Math.round(s * 1e6)) * 1000n);
  return {
    traceId,
    spanId,
    ...(o.parent ? { parentSpanId: o.parent } : {}),
    name: o.name ?? spanId,
    kind: 1,
    startTimeUnixNano: nanos(o.start ?? 0),
    endTimeUnixNano: nanos(o.end ?? (o.start ?? 0) + 1),
    attributes: o.attributes ?? [],
  };
}

/** An ExportTraceServiceRequest of one resource and scope. */
const exportOf = (...spans: unknown[]) => ({
  resourceSpans: [{ resource: { attributes: [str('service.name', 'route-test')] }, scopeSpans: [{ scope: { name: 'test' }, spans }] }],
});

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');
let counter = 1;
/** A fresh trace id (32 hex) / span id (16 hex). */
const newTraceId = () => `${hex(Date.now(), 16)}${hex(counter++, 16)}`;
const newSpanId = () => `${hex(counter++, 8)}${hex(Math.floor(Math.random() * 2 ** 32), 8)}`;

describe.each(TEST_KINDS)('OTLP trace route on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let a: { public_key: string; secret_key: string };
  let b: { public_key: string; secret_key: string };
  let viewer: { secret_key: string };
  let admin: { secret_key: string };
  let projectA: string;
  const basic = (k: { public_key: string; secret_key: string }) => `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}`;

  /** Send a JSON export with key `k`. */
  const sendJson = (body: unknown, k = a, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: URL, headers: { authorization: basic(k), 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
  /** Send a protobuf export with key `k`. */
  const sendProto = (body: Record<string, unknown>, k = a) =>
    app.inject({ method: 'POST', url: URL, headers: { authorization: basic(k), 'content-type': 'application/x-protobuf' }, payload: encodeExportRequest(body) });
  /** GraphQL as key `k`. */
  const gql = async (query: string, k = a) =>
    (await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${k.secret_key}` }, payload: { query } })).json();
  /** A trace by its OTel id as key `k`, with its observations by name. */
  const traceAs = async (traceId: string, k = a) =>
    (
      await gql(
        `{ traces(filter: { external_id: { eq: "${traceId}" } }) { name user_id tags timestamp metadata observations(order_by: { name: ASC }) { name external_id parent { name } } } }`,
        k,
      )
    ).data.traces[0];

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    projectA = await createProject(t.db, 'A');
    const projectB = await createProject(t.db, 'B');
    a = await createApiKey(t.db, { projectId: projectA, role: 'editor' });
    b = await createApiKey(t.db, { projectId: projectB, role: 'editor' });
    viewer = await createApiKey(t.db, { projectId: projectA, role: 'viewer' });
    admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('answers an accepted export with an empty ExportTraceServiceResponse in the request encoding', async () => {
    const json = await sendJson(exportOf(span(newTraceId(), newSpanId())));
    expect(json.statusCode).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.json()).toEqual({});
    const proto = await sendProto(exportOf(span(newTraceId(), newSpanId())));
    expect(proto.statusCode).toBe(200);
    expect(proto.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeExportResponse(proto.rawPayload)).toEqual({});
    // An export without spans (an exporter's empty flush) is accepted too.
    expect((await sendJson({})).json()).toEqual({});
  });

  it('rejects unreadable spans in partialSuccess, naming each, and keeps the good spans of the same export', async () => {
    const trace = newTraceId();
    const good = newSpanId();
    const huge = newSpanId();
    const body = exportOf(
      span(trace, good, { name: 'good' }),
      span('not-a-trace-id', newSpanId()),
      { ...span(trace, newSpanId()), startTimeUnixNano: undefined, endTimeUnixNano: undefined },
      span(trace, huge, { attributes: [str('prompt', 'x'.repeat(4 * 1024 * 1024 + 10))] }),
      { ...span(trace, newSpanId()), attributes: { not: 'a list' } },
    );
    const json = await sendJson(body);
    expect(json.statusCode).toBe(200);
    const partial = json.json().partialSuccess;
    expect(partial.rejectedSpans).toBe('4'); // OTLP/JSON writes int64 as a decimal string
    expect(partial.errorMessage).toMatch(/^4 of 5 spans rejected: /);
    expect(partial.errorMessage).toContain('resourceSpans[0].scopeSpans[0].spans[1]');
    expect(partial.errorMessage).toContain('traceId "not-a-trace-id" must be 32 hex digits');
    expect(partial.errorMessage).toContain('spans[2]');
    expect(partial.errorMessage).toContain('startTimeUnixNano is missing');
    expect(partial.errorMessage).toContain(`spans[3] (span ${huge}): the span is larger than 4194304 characters`);
    expect(partial.errorMessage).toContain('spans[4]');
    expect(partial.errorMessage).toContain('attributes must be an array');

    const proto = await sendProtoSafe(body);
    expect(proto.statusCode).toBe(200);
    const p = decodeExportResponse(proto.rawPayload).partialSuccess!;
    expect(p.rejectedSpans).toBe(4);
    expect(p.errorMessage).toMatch(/spans\[1\] \(span [0-9a-f]{16}\): traceId is missing/);
    expect(p.errorMessage).toContain(`spans[3] (span ${huge}): the span is larger than`);
    const stored = await traceAs(trace);
    expect(stored.observations.map((o: { name: string }) => o.name)).toEqual(['good']);
  });

  /** The protobuf encoding of a body that may hold spans protobuf cannot carry (bad ids, wrong types): those are left out. */
  const sendProtoSafe = (body: ReturnType<typeof exportOf>) => {
    const spans = body.resourceSpans[0].scopeSpans[0].spans as Array<Record<string, unknown>>;
    // Keep the same positions: unencodable spans become spans without ids (rejected for the same kind of reason).
    const encodable = spans.map((s) => (typeof s.traceId === 'string' && /^[0-9a-f]{32}$/.test(s.traceId) && Array.isArray(s.attributes) ? s : { ...s, traceId: undefined, attributes: [] }));
    return sendProto({ resourceSpans: [{ ...body.resourceSpans[0], scopeSpans: [{ scope: { name: 'test' }, spans: encodable }] }] });
  };

  it('refuses a truncated protobuf body with 400 and a google.rpc.Status saying so; invalid JSON with 400', async () => {
    const whole = encodeExportRequest(exportOf(span(newTraceId(), newSpanId(), { attributes: [str('k', 'v'.repeat(100))] })));
    const res = await app.inject({ method: 'POST', url: URL, headers: { authorization: basic(a), 'content-type': 'application/x-protobuf' }, payload: whole.subarray(0, whole.length - 20) });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    const status = decodeStatus(res.rawPayload);
    expect(status.code).toBe(3); // INVALID_ARGUMENT
    expect(status.message).toMatch(/^The protobuf body is truncated/);

    const bad = await app.inject({ method: 'POST', url: URL, headers: { authorization: basic(a), 'content-type': 'application/json' }, payload: '{"resourceSpans": [' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/^The body is not valid JSON/);
    const notObject = await sendJson([1, 2]);
    expect(notObject.statusCode).toBe(400);
    expect(notObject.json().error.message).toContain('must be a JSON object');
    const badStructure = await sendJson({ resourceSpans: { spans: [] } });
    expect(badStructure.statusCode).toBe(400);
    expect(badStructure.json().error.message).toBe('Invalid ExportTraceServiceRequest: resourceSpans: resourceSpans must be an array.');
  });

  it('answers 415 for another content type or content coding, naming what to send', async () => {
    const plain = await app.inject({ method: 'POST', url: URL, headers: { authorization: basic(a), 'content-type': 'text/plain' }, payload: 'hello' });
    expect(plain.statusCode).toBe(415);
    expect(plain.json().error.message).toBe(
      'Unsupported media type "text/plain": OTLP/HTTP trace exports are "application/x-protobuf" (binary protobuf) or "application/json" (OTLP/JSON).',
    );
    const none = await app.inject({ method: 'POST', url: URL, headers: { authorization: basic(a) }, payload: Buffer.from('abc') });
    expect(none.statusCode).toBe(415);
    expect(none.json().error.message).toContain('(no Content-Type)');
    const brotli = await app.inject({
      method: 'POST',
      url: URL,
      headers: { authorization: basic(a), 'content-type': 'application/json', 'content-encoding': 'br' },
      payload: Buffer.from('{}'),
    });
    expect(brotli.statusCode).toBe(415);
    expect(brotli.json().error.message).toContain('Unsupported Content-Encoding "br"');
  });

  it('accepts gzip bodies, refuses a gzip bomb with 413 and a corrupt gzip stream with 400', async () => {
    const trace = newTraceId();
    const ok = await app.inject({
      method: 'POST',
      url: URL,
      headers: { authorization: basic(a), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify(exportOf(span(trace, newSpanId(), { name: 'zipped' })))),
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({});
    expect((await traceAs(trace)).observations[0].name).toBe('zipped');

    // 64 MiB of spaces compress to ~64 KiB: far under the 10 MiB body limit, far over it once expanded.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, ' '));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const res = await app.inject({ method: 'POST', url: URL, headers: { authorization: basic(a), 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: bomb });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(res.json().error.message).toContain('expands to more than 10 MiB');

    const corrupt = await app.inject({
      method: 'POST',
      url: URL,
      headers: { authorization: basic(a), 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      payload: Buffer.from('definitely not gzip'),
    });
    expect(corrupt.statusCode).toBe(400);
    expect(decodeStatus(corrupt.rawPayload).message).toMatch(/^The body is not a valid gzip stream/);
  });

  it('needs credentials that may write; Bearer works like Basic; an admin names the project', async () => {
    const body = exportOf(span(newTraceId(), newSpanId()));
    const none = await app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(none.statusCode).toBe(401);
    const proto401 = await app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'application/x-protobuf' }, payload: encodeExportRequest(body) });
    expect(proto401.statusCode).toBe(401);
    expect(decodeStatus(proto401.rawPayload).code).toBe(16); // UNAUTHENTICATED
    const asViewer = await app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${viewer.secret_key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(asViewer.statusCode).toBe(403);
    expect(asViewer.json().error.message).toContain("Role 'viewer' cannot write data");
    const bearer = await app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${a.secret_key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(bearer.statusCode).toBe(200);

    const trace = newTraceId();
    const adminBody = JSON.stringify(exportOf(span(trace, newSpanId(), { name: 'by admin' })));
    const unnamed = await app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${admin.secret_key}`, 'content-type': 'application/json' }, payload: adminBody });
    expect(unnamed.statusCode).toBe(400);
    expect(unnamed.json().error.message).toContain('name the target project');
    const named = await app.inject({
      method: 'POST',
      url: URL,
      headers: { authorization: `Bearer ${admin.secret_key}`, 'content-type': 'application/json', 'x-lattice-project-id': projectA },
      payload: adminBody,
    });
    expect(named.json()).toEqual({});
    expect((await traceAs(trace)).observations[0].name).toBe('by admin');
  });

  it('keeps projects apart: a trace or span id of another project is a rejected span, never an overwrite or a read', async () => {
    const trace = newTraceId();
    const spanB = newSpanId();
    expect((await sendJson(exportOf(span(trace, spanB, { name: 'b-root', attributes: [str('langfuse.trace.name', 'B trace')] })), b)).json()).toEqual({});

    // Project A sends a span into B's trace id, and a span with B's span id in a trace of its own.
    const ownTrace = newTraceId();
    const res = await sendJson(
      exportOf(
        span(trace, newSpanId(), { name: 'a-intruder', attributes: [str('langfuse.trace.name', 'A took over')] }),
        span(ownTrace, spanB, { name: 'a-copy' }),
        span(ownTrace, newSpanId(), { name: 'a-fine' }),
      ),
    );
    const partial = res.json().partialSuccess;
    expect(partial.rejectedSpans).toBe('2');
    expect(partial.errorMessage).toContain(`trace "${trace}": this id is already used in another project`);
    expect(partial.errorMessage).toContain(`observation "${spanB}": this id is already used in another project`);

    // B's trace and span are unchanged; A sees only its own trace and span.
    const asB = await traceAs(trace, b);
    expect(asB).toMatchObject({ name: 'B trace', observations: [{ name: 'b-root', external_id: spanB }] });
    expect(await traceAs(trace, a)).toBeUndefined();
    expect((await traceAs(ownTrace, a)).observations.map((o: { name: string }) => o.name)).toEqual(['a-fine']);
    const aSees = await gql(`{ observations(filter: { external_id: { eq: "${spanB}" } }) { name } }`);
    expect(aSees.data.observations).toEqual([]);

    // B resending its own span still works (no lock-out by A's attempt).
    expect((await sendProto(exportOf(span(trace, spanB, { name: 'b-root' })), b)).statusCode).toBe(200);
  });

  it('merges one trace over several exports: children before the root, attributes from any span; resending changes nothing', async () => {
    const trace = newTraceId();
    const root = newSpanId();
    const child = newSpanId();
    const grandchild = newSpanId();
    // 1. The grandchild ends first: its parent and the trace are not known yet.
    await sendJson(exportOf(span(trace, grandchild, { parent: child, name: 'tool', start: 2, end: 2.5, attributes: [str('user.id', 'u-1'), str('langfuse.trace.tags', '["b"]')] })));
    // 2. The child, with trace metadata.
    await sendProto(exportOf(span(trace, child, { parent: root, name: 'step', start: 1, end: 3, attributes: [str('langfuse.trace.metadata.region', 'eu'), str('langfuse.trace.tags', '["a"]')] })));
    // 3. The root, last, with the trace name.
    const last = await sendJson(exportOf(span(trace, root, { name: 'request', start: 0, end: 4, attributes: [str('langfuse.trace.name', 'checkout'), str('langfuse.trace.metadata', '{"plan":"pro"}')] })));
    expect(last.json()).toEqual({});

    const merged = await traceAs(trace);
    expect(merged).toMatchObject({
      name: 'checkout',
      user_id: 'u-1',
      tags: ['a', 'b'],
      timestamp: '2026-03-01T10:00:00.000000Z',
      metadata: { region: 'eu', plan: 'pro', resourceAttributes: { 'service.name': 'route-test' } },
    });
    expect(merged.observations.map((o: { name: string; parent: { name: string } | null }) => [o.name, o.parent?.name ?? null])).toEqual([
      ['request', null],
      ['step', 'request'],
      ['tool', 'step'],
    ]);

    const count = async () => Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM app.observation')).rows[0].n);
    const before = await count();
    await sendJson(exportOf(span(trace, root, { name: 'request', start: 0, end: 4, attributes: [str('langfuse.trace.name', 'checkout'), str('langfuse.trace.metadata', '{"plan":"pro"}')] })));
    expect(await count()).toBe(before);
    expect(await traceAs(trace)).toEqual(merged);
  });

  it('reads a trace sent through OTLP like the same trace sent through the Langfuse batch API', async () => {
    const otlpTrace = newTraceId();
    const batchTrace = newTraceId();
    const [root, gen] = [newSpanId(), newSpanId()];
    const [rootB, genB] = [newSpanId(), newSpanId()];
    const t0 = '2026-03-01T10:00:00.000000Z';
    const at = (s: number) => new Date(Date.parse(t0) + s * 1000).toISOString();
    const otlp = await sendJson(
      exportOf(
        span(otlpTrace, gen, {
          parent: root,
          name: 'draft',
          start: 1,
          end: 3,
          attributes: [
            str('langfuse.observation.type', 'generation'),
            str('langfuse.observation.model.name', 'gpt-4o-mini'),
            str('langfuse.observation.model.parameters', '{"temperature":0.3}'),
            str('langfuse.observation.input', '[{"role":"user","content":"Hi"}]'),
            str('langfuse.observation.output', 'Hello!'), // the SDK sends strings as they are
            str('langfuse.observation.usage_details', '{"input":12,"output":3}'),
            str('langfuse.observation.cost_details', '{"input":0.0012,"output":0.0006}'),
            str('langfuse.observation.level', 'WARNING'),
            str('langfuse.observation.status_message', 'slow'),
          ],
        }),
        span(otlpTrace, root, {
          name: 'pipeline',
          start: 0,
          end: 4,
          attributes: [
            str('langfuse.trace.name', 'answer question'),
            str('user.id', 'u1'),
            str('session.id', `chat-42-${kind}`),
            str('langfuse.trace.tags', '["demo"]'),
            str('langfuse.trace.input', '{"question":"Hi"}'),
            str('langfuse.trace.output', '{"answer":"Hello!"}'),
            str('langfuse.observation.type', 'span'),
          ],
        }),
      ),
    );
    expect(otlp.json()).toEqual({});
    const ev = (type: string, body: Record<string, unknown>) => ({ id: `${type}-${String(body.id)}`, type, timestamp: at(0), body });
    const batch = await app.inject({
      method: 'POST',
      url: '/api/public/ingestion',
      headers: { authorization: basic(a) },
      payload: {
        batch: [
          ev('trace-create', { id: batchTrace, timestamp: at(0), name: 'answer question', userId: 'u1', sessionId: `chat-42-${kind}`, tags: ['demo'], input: { question: 'Hi' }, output: { answer: 'Hello!' } }),
          ev('span-create', { id: rootB, traceId: batchTrace, name: 'pipeline', startTime: at(0), endTime: at(4) }),
          ev('generation-create', {
            id: genB, traceId: batchTrace, parentObservationId: rootB, name: 'draft', startTime: at(1), endTime: at(3), model: 'gpt-4o-mini', modelParameters: { temperature: 0.3 },
            input: [{ role: 'user', content: 'Hi' }], output: 'Hello!', usageDetails: { input: 12, output: 3 }, costDetails: { input: 0.0012, output: 0.0006 }, level: 'WARNING', statusMessage: 'slow',
          }),
        ],
      },
    });
    expect(batch.statusCode).toBe(207);
    expect(batch.json().errors).toEqual([]);

    const read = async (traceId: string) =>
      (
        await gql(`{ traces(filter: { external_id: { eq: "${traceId}" } }) {
          name timestamp user_id tags input output session { external_id }
          observations(order_by: { name: ASC }) {
            name type model model_parameters input output start_time end_time latency_ms level status_message
            input_tokens output_tokens total_tokens usage_details input_cost output_cost total_cost cost_details parent { name }
          }
        } }`)
      ).data.traces[0];
    const fromOtlp = await read(otlpTrace);
    expect(fromOtlp.observations).toHaveLength(2);
    expect(fromOtlp).toEqual(await read(batchTrace));
  });

  it('answers 404 when the served model is not the traces preset', async () => {
    const { app: other } = await buildServer({ db: t.db, model: await loadPreset('experiments'), followModelChanges: false });
    try {
      const res = await other.inject({ method: 'POST', url: URL, headers: { authorization: basic(a), 'content-type': 'application/json' }, payload: JSON.stringify(exportOf(span(newTraceId(), newSpanId()))) });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.message).toContain('lattice serve --preset traces');
    } finally {
      await other.close();
    }
  });

  it('stores spans of several traces in one export, each under its trace', async () => {
    const [t1, t2] = [newTraceId(), newTraceId()];
    const res = await sendProto(exportOf(span(t1, newSpanId(), { name: 'one' }), span(t2, newSpanId(), { name: 'two' }), span(t1, newSpanId(), { name: 'three' })));
    expect(decodeExportResponse(res.rawPayload)).toEqual({});
    expect((await traceAs(t1)).observations.map((o: { name: string }) => o.name)).toEqual(['one', 'three']);
    expect((await traceAs(t2)).observations.map((o: { name: string }) => o.name)).toEqual(['two']);
  });
});
