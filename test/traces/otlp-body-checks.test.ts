/**
 * `POST /api/public/otel/v1/traces` with protobuf bodies near the server's generic request-body checks
 * (`src/nesting.ts`): nesting deeper than the limit is refused as a whole, as an OTLP/JSON body would be, although
 * the route reads the decoded protobuf messages directly (`otlp-decode.ts`); a non-finite double is kept as its
 * text, as OTLP/JSON spells it, with the rest of the export. PGlite and PostgreSQL.
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

  it('keeps a non-finite double attribute as its text, as OTLP/JSON spells it, and the rest of the export', async () => {
    const res = await send(
      exportWith([{ key: 'ok', value: { doubleValue: 1.5 } }, { key: 'big', value: { doubleValue: 'Infinity' } }], [{ name: 'e', attributes: [{ key: 'ratio', value: { doubleValue: 'NaN' } }] }]),
    );
    expect(res.statusCode).toBe(200);
    expect(decodeExportResponse(res.rawPayload)).toEqual({});
    const { rows } = await t.db.query<{ type: string; attributes: Record<string, unknown> }>(
      `SELECT type::text AS type, metadata->'attributes' AS attributes FROM app.observation ORDER BY type`,
    );
    expect(rows.find((r) => r.type === 'EVENT')?.attributes).toMatchObject({ ratio: 'NaN' });
    expect(rows.find((r) => r.type !== 'EVENT')?.attributes).toMatchObject({ ok: 1.5, big: 'Infinity' });
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
