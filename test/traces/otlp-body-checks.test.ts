/**
 * `POST /api/public/otel/v1/traces` with protobuf bodies that the server's generic request-body checks
 * (nesting depth, non-finite numbers; `src/nesting.ts`) refuse as a whole: the protobuf route answers them exactly
 * as it answers an OTLP/JSON body with the same problem would be walked, although it reads the decoded protobuf
 * messages directly (`otlp-decode.ts`). PGlite and PostgreSQL.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { decodeExportResponse, decodeStatus, encodeExportRequest } from '../../src/traces/otlp-decode.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const URL = '/api/public/otel/v1/traces';
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

/** An export of one span with these attributes (OTLP/JSON shape; `encodeExportRequest` makes it protobuf). */
const exportWith = (attributes: unknown[], events: unknown[] = []) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checks' } }] },
      scopeSpans: [{ scope: { name: 'test' }, spans: [{ traceId: TRACE, spanId: SPAN, name: 'op', startTimeUnixNano: '1772359200000000000', attributes, events }] }],
    },
  ],
});

/** An AnyValue of `levels` nested arrays around a string. */
function nestedArray(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = { stringValue: 'deep' };
  for (let i = 0; i < levels; i++) v = { arrayValue: { values: [v] } };
  return v;
}

describe.each(TEST_KINDS)('OTLP protobuf body checks on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let basic: string;

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    const key = await createApiKey(t.db, { projectId: await createProject(t.db, 'checks'), role: 'editor' });
    basic = `Basic ${Buffer.from(`${key.public_key}:${key.secret_key}`).toString('base64')}`;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const send = (body: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: URL, headers: { authorization: basic, 'content-type': 'application/x-protobuf' }, payload: encodeExportRequest(body) });

  it('refuses a non-finite double attribute as a whole, naming where it is', async () => {
    const res = await send(exportWith([{ key: 'ok', value: { doubleValue: 1.5 } }], [{ name: 'e', attributes: [{ key: 'ratio', value: { doubleValue: 'NaN' } }] }]));
    expect(res.statusCode).toBe(400);
    expect(decodeStatus(res.rawPayload)).toEqual({
      code: 3,
      message:
        'The request body holds a number too large to represent at request.resourceSpans[0].scopeSpans[0].spans[0].events[0].attributes[0].value.doubleValue; numbers must be finite (magnitude below about 1.8e308).',
    });
  });

  it('refuses attribute values nested deeper than the JSON nesting limit, and accepts them one level less deep', async () => {
    // The span's AnyValue sits 11 levels deep in {encoding, request: {resourceSpans: [...]}}; each array adds 3.
    const tooDeep = await send(exportWith([{ key: 'deep', value: nestedArray(40) }]));
    expect(tooDeep.statusCode).toBe(400);
    expect(decodeStatus(tooDeep.rawPayload).message).toBe('The request body is nested more than 128 levels deep; flatten it.');
    const deepest = await send(exportWith([{ key: 'deep', value: nestedArray(39) }]));
    expect(deepest.statusCode).toBe(200);
    expect(decodeExportResponse(deepest.rawPayload)).toEqual({});
  });
});
