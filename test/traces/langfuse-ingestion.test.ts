/**
 * `POST /api/public/ingestion` and the Langfuse read routes over raw HTTP (SPEC R-6): update events merged into
 * their row, deduplication by envelope id across resent batches, bad input answered per event without losing
 * the good events, children before parents, tenant isolation on every route, and routes that follow the served
 * model. PGlite and PostgreSQL.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import type { AppContext } from '../../src/server/context.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

type Event = { id: string; type: string; timestamp?: string; body: Record<string, unknown> };
const ev = (id: string, type: string, body: Record<string, unknown>): Event => ({ id, type, timestamp: '2026-03-01T12:00:00.000Z', body });

describe.each(TEST_KINDS)('Langfuse ingestion and public API on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let ctx: AppContext;
  let keyA: string;
  let keyB: string;
  let viewerA: string;

  const basic = (k: { public_key: string; secret_key: string }) => `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}`;
  const ingest = async (auth: string, batch: unknown, extra: object = {}) => {
    const res = await app.inject({ method: 'POST', url: '/api/public/ingestion', headers: { authorization: auth }, payload: { batch, ...extra } });
    return { status: res.statusCode, body: res.json() };
  };
  const get = async (auth: string, url: string) => {
    const res = await app.inject({ method: 'GET', url, headers: { authorization: auth } });
    return { status: res.statusCode, body: res.json() };
  };

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    const A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    keyA = basic(await createApiKey(t.db, { projectId: A, role: 'editor' }));
    keyB = basic(await createApiKey(t.db, { projectId: B, role: 'editor' }));
    viewerA = basic(await createApiKey(t.db, { projectId: A, role: 'viewer' }));
    ({ app, ctx } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('merges update events into the row: only given fields change; metadata by key, tags united, earliest timestamp kept', async () => {
    const first = await ingest(keyA, [
      ev('m1', 'trace-create', { id: 't-merge', name: 'first name', timestamp: '2026-03-01T10:00:05.000Z', userId: 'u-merge', metadata: { a: 1, keep: 'x' }, tags: ['x'] }),
      ev('m2', 'span-create', { id: 's-merge', traceId: 't-merge', name: 'step', startTime: '2026-03-01T10:00:05.000Z', input: { q: 1 } }),
    ]);
    expect(first).toEqual({ status: 207, body: { successes: [{ id: 'm1', status: 201 }, { id: 'm2', status: 201 }], errors: [] } });
    const second = await ingest(keyA, [
      ev('m3', 'trace-create', { id: 't-merge', timestamp: '2026-03-01T10:00:00.000Z', metadata: { a: 2 }, tags: ['y'] }),
      ev('m4', 'trace-create', { id: 't-merge', timestamp: '2026-03-01T10:00:09.000Z', release: 'r2' }),
      ev('m5', 'span-update', { id: 's-merge', traceId: 't-merge', endTime: '2026-03-01T10:00:06.500Z', output: { a: 1 } }),
    ]);
    expect(second.body.errors).toEqual([]);
    await get(keyA, '/api/public/traces/t-merge'); // the key is now in the credential cache
    const before = t.db.stats.statements;
    const trace = (await get(keyA, '/api/public/traces/t-merge')).body;
    expect(t.db.stats.statements - before).toBe(1); // the trace, its observations and scores: one statement
    expect(trace).toMatchObject({
      id: 't-merge', name: 'first name', userId: 'u-merge', release: 'r2', timestamp: '2026-03-01T10:00:00.000Z',
      metadata: { a: 2, keep: 'x' }, tags: ['x', 'y'],
    });
    expect(trace.observations).toEqual([
      expect.objectContaining({ id: 's-merge', name: 'step', input: { q: 1 }, output: { a: 1 }, startTime: '2026-03-01T10:00:05.000Z', endTime: '2026-03-01T10:00:06.500Z', latency: 1.5 }),
    ]);
  });

  it('deduplicates resent events by envelope id; failed events are applied when resent', async () => {
    const batch1 = [
      ev('d1', 'span-create', { id: 's-dedupe', traceId: 't-dedupe', name: 'v1' }),
      ev('d2', 'score-create', { id: 'sc-dedupe', traceId: 't-dedupe', name: 'ok', value: 2, dataType: 'BOOLEAN' }),
    ];
    const r1 = await ingest(keyA, batch1);
    expect(r1.body.successes).toEqual([{ id: 'd1', status: 201 }]);
    expect(r1.body.errors).toEqual([{ id: 'd2', status: 400, message: expect.stringMatching(/BOOLEAN score's value must be 1 \(true\) or 0 \(false\)/) }]);
    expect((await ingest(keyA, [ev('d3', 'span-update', { id: 's-dedupe', traceId: 't-dedupe', name: 'v2' })])).body.errors).toEqual([]);
    // The SDK resends batch 1 as it was: d1 is acknowledged again but not re-applied (it would reset the name).
    const resent = await ingest(keyA, batch1);
    expect(resent.body.successes).toEqual([{ id: 'd1', status: 201 }]);
    expect((await get(keyA, '/api/public/observations/s-dedupe')).body.name).toBe('v2');
    // d2 failed, so its id was not kept: corrected, it is applied.
    const fixed = await ingest(keyA, [ev('d2', 'score-create', { id: 'sc-dedupe', traceId: 't-dedupe', name: 'ok', value: 1, dataType: 'BOOLEAN' })]);
    expect(fixed.body).toEqual({ successes: [{ id: 'd2', status: 201 }], errors: [] });
    expect((await get(keyA, '/api/public/scores?name=ok')).body.data).toEqual([expect.objectContaining({ id: 'sc-dedupe', value: 1, stringValue: 'True' })]);
    // The same id twice in one batch: processed once; with another body it is refused.
    const twice = await ingest(keyA, [
      ev('d4', 'trace-create', { id: 't-twice', name: 'once' }),
      ev('d4', 'trace-create', { id: 't-twice', name: 'once' }),
      ev('d4', 'trace-create', { id: 't-twice', name: 'other' }),
    ]);
    expect(twice.body.successes).toEqual([{ id: 'd4', status: 201 }, { id: 'd4', status: 201 }]);
    expect(twice.body.errors).toEqual([{ id: 'd4', status: 409, message: expect.stringMatching(/give every event its own id/) }]);
  });

  it('answers bad events with 4xx entries and stores the good events of the same batch', async () => {
    const res = await ingest(keyA, [
      ev('g1', 'trace-create', { id: 't-good', name: 'good' }),
      ev('b1', 'trace-delete', { id: 't-good' }),
      { id: 'b2', type: 'span-create' },
      ev('b3', 'span-create', { id: 's-bad', traceId: 't-good', colour: 'red' }),
      ev('b4', 'generation-create', { id: 'g-bad', traceId: 't-good', startTime: 'yesterday' }),
      ev('b5', 'generation-create', { id: 'g-bad', traceId: 't-good', usage: { input: -3 } }),
      ev('b6', 'span-update', { id: 's-no-trace', name: 'x' }),
      42,
      ev('g2', 'generation-create', { id: 'g-good', traceId: 't-good', name: 'gen', usage: { promptTokens: 7, completionTokens: 3 } }),
      ev('g3', 'sdk-log', { log: { level: 'info', message: 'hello' } }),
    ]);
    expect(res.status).toBe(207);
    expect(res.body.successes).toEqual([{ id: 'g1', status: 201 }, { id: 'g2', status: 201 }, { id: 'g3', status: 201 }]);
    const errors = Object.fromEntries(res.body.errors.map((e: { id: string; status: number; message: string }) => [e.id, `${e.status} ${e.message}`]));
    expect(errors).toEqual({
      b1: expect.stringMatching(/^400 Unknown event type "trace-delete"; supported: trace-create, span-create/),
      b2: expect.stringMatching(/^400 Invalid event: batch\[2\]\.body is required/),
      b3: expect.stringMatching(/^400 Invalid span-create event: body\.colour unknown field/),
      b4: expect.stringMatching(/^400 Invalid generation-create event: body\.startTime must be a valid date-time/),
      b5: expect.stringMatching(/^400 Invalid generation-create event: body\.usage\.input must be >= 0/),
      b6: expect.stringMatching(/^400 span-update "s-no-trace" has no traceId/),
      'batch[7]': expect.stringMatching(/^400 Invalid event: batch\[7\] must be object/),
    });
    const trace = (await get(keyA, '/api/public/traces/t-good')).body;
    expect(trace.observations).toEqual([expect.objectContaining({ id: 'g-good', usage: expect.objectContaining({ input: 7, output: 3, total: 10 }) })]);
  });

  it('refuses malformed requests as a whole', async () => {
    const post = (payload: unknown, headers: Record<string, string> = { authorization: keyA }) =>
      app.inject({ method: 'POST', url: '/api/public/ingestion', headers, payload: payload as string });
    expect((await post({})).statusCode).toBe(400);
    expect((await post({ batch: 'x' })).json().error.message).toMatch(/body\.batch must be array/);
    const tooMany = await post({ batch: Array.from({ length: 1001 }, (_, i) => ev(`x${i}`, 'sdk-log', { log: i })) });
    expect(tooMany.statusCode).toBe(413);
    expect((await post('{"batch": [', { authorization: keyA, 'content-type': 'application/json' })).statusCode).toBe(400);
    expect((await post('batch', { authorization: keyA, 'content-type': 'text/plain' })).statusCode).toBe(415);
    expect((await post({ batch: [] }, {})).statusCode).toBe(401);
    const viewer = await post({ batch: [ev('v1', 'trace-create', { id: 't-viewer' })] }, { authorization: viewerA });
    expect(viewer.statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/public/traces?colour=red', headers: { authorization: keyA } })).json().error.message).toMatch(/colour/);
  });

  it('stores children that arrive before their trace and parent, and completes the tree when those arrive', async () => {
    const early = await ingest(keyA, [ev('c1', 'span-create', { id: 'child', traceId: 't-late', parentObservationId: 'parent', name: 'child', startTime: '2026-03-01T09:00:02.000Z' })]);
    expect(early.body.errors).toEqual([]);
    const late = await ingest(keyA, [
      ev('c2', 'trace-create', { id: 't-late', name: 'late trace', timestamp: '2026-03-01T09:00:00.000Z' }),
      ev('c3', 'span-create', { id: 'parent', traceId: 't-late', name: 'parent', startTime: '2026-03-01T09:00:01.000Z', endTime: '2026-03-01T09:00:04.000Z' }),
    ]);
    expect(late.body.errors).toEqual([]);
    const trace = (await get(keyA, '/api/public/traces/t-late')).body;
    expect(trace).toMatchObject({ name: 'late trace', timestamp: '2026-03-01T09:00:00.000Z', latency: 3 });
    expect(trace.observations.map((o: { id: string; name: string; parentObservationId: string | null }) => [o.id, o.name, o.parentObservationId])).toEqual([
      ['parent', 'parent', null],
      ['child', 'child', 'parent'],
    ]);
  });

  it('isolates projects: B never reads, scores, updates or dedupes against A, and reused ids are 409s', async () => {
    const a = await ingest(keyA, [
      ev('iso-1', 'trace-create', { id: 't-iso', name: 'A trace', sessionId: 'sess-A' }),
      ev('iso-2', 'span-create', { id: 'o-iso', traceId: 't-iso', name: 'A span' }),
      ev('iso-3', 'score-create', { id: 'sc-iso', traceId: 't-iso', name: 'iso-score', value: 0.5 }),
    ]);
    expect(a.body.errors).toEqual([]);
    await app.inject({ method: 'POST', url: '/api/public/v2/prompts', headers: { authorization: keyA }, payload: { name: 'iso-prompt', prompt: 'Hi {{x}}', labels: ['production'] } });

    // Reads.
    expect((await get(keyB, '/api/public/traces/t-iso')).status).toBe(404);
    expect((await get(keyB, '/api/public/observations/o-iso')).status).toBe(404);
    expect((await get(keyB, '/api/public/traces')).body.data.map((x: { id: string }) => x.id)).not.toContain('t-iso');
    expect((await get(keyB, '/api/public/observations?traceId=t-iso')).body.meta.totalItems).toBe(0);
    expect((await get(keyB, '/api/public/scores?name=iso-score')).body.meta.totalItems).toBe(0);
    expect((await get(keyB, '/api/public/v2/prompts/iso-prompt')).status).toBe(404);
    const compile = await app.inject({ method: 'POST', url: '/api/public/prompts/iso-prompt/compile', headers: { authorization: keyB }, payload: { variables: { x: 1 } } });
    expect(compile.statusCode).toBe(404);
    const relabel = (key: string) =>
      app.inject({ method: 'PATCH', url: '/api/public/v2/prompts/iso-prompt/versions/1', headers: { authorization: key }, payload: { newLabels: ['staging'] } });
    expect((await relabel(keyB)).statusCode).toBe(404); // A's prompt version is not B's to relabel

    // Writes naming A's ids.
    const b = await ingest(keyB, [
      ev('iso-1', 'trace-create', { id: 't-b-own', name: 'B trace' }), // A's envelope id: not deduplicated for B
      ev('b-2', 'trace-create', { id: 't-iso', name: 'hijack' }),
      ev('b-3', 'span-update', { id: 'o-iso', traceId: 't-iso', name: 'hijack' }),
      ev('b-4', 'span-create', { id: 'o-b-new', traceId: 't-iso', name: 'into A trace' }),
      ev('b-5', 'score-create', { id: 'sc-b', traceId: 't-iso', name: 'iso-score', value: 1 }),
      ev('b-6', 'score-create', { id: 'sc-iso', traceId: 't-b-own', name: 'iso-score', value: 1 }),
      ev('b-7', 'trace-create', { id: 't-b-sess', sessionId: 'sess-A' }),
    ]);
    expect(b.body.successes).toEqual([{ id: 'iso-1', status: 201 }]);
    const statuses = Object.fromEntries(b.body.errors.map((e: { id: string; status: number; message: string }) => [e.id, e.status]));
    expect(statuses).toEqual({ 'b-2': 409, 'b-3': 409, 'b-4': 409, 'b-5': 409, 'b-6': 409, 'b-7': 409 });
    expect(b.body.errors.find((e: { id: string }) => e.id === 'b-4').message).toMatch(/its trace "t-iso" failed: trace "t-iso": this id is already used in another project/);
    expect((await get(keyB, '/api/public/traces/t-b-own')).body.name).toBe('B trace');
    const score = await app.inject({ method: 'POST', url: '/api/public/scores', headers: { authorization: keyB }, payload: { traceId: 't-iso', name: 'x', value: 1 } });
    expect(score.statusCode).toBe(409);

    // A's data is untouched; B's prompt of the same name starts at version 1.
    const trace = (await get(keyA, '/api/public/traces/t-iso')).body;
    expect(trace).toMatchObject({ name: 'A trace', sessionId: 'sess-A' });
    expect(trace.observations.map((o: { name: string }) => o.name)).toEqual(['A span']);
    expect(trace.scores).toEqual([expect.objectContaining({ id: 'sc-iso', value: 0.5 })]);
    const bPrompt = await app.inject({ method: 'POST', url: '/api/public/v2/prompts', headers: { authorization: keyB }, payload: { name: 'iso-prompt', prompt: 'Hello' } });
    expect(bPrompt.json()).toMatchObject({ version: 1, labels: ['latest'] });
    expect((await relabel(keyB)).json()).toMatchObject({ version: 1, prompt: 'Hello', labels: ['staging', 'latest'] }); // B's own
    expect((await get(keyA, '/api/public/v2/prompts/iso-prompt')).body).toMatchObject({ version: 1, prompt: 'Hi {{x}}' });
    expect((await get(keyA, '/api/public/v2/prompts/iso-prompt?label=staging')).status).toBe(404);
  });

  it('filters, orders and pages the lists like Langfuse', async () => {
    const r = await ingest(keyA, [
      ev('f1', 'trace-create', { id: 'f-1', name: 'filter', userId: 'fu', timestamp: '2026-03-02T08:00:00.000Z', tags: ['x', 'y'], environment: 'prod' }),
      ev('f2', 'trace-create', { id: 'f-2', name: 'filter', userId: 'fu2', timestamp: '2026-03-02T08:10:00.000Z', tags: ['x'], release: 'r1' }),
      ev('f3', 'generation-create', { id: 'fo-1', traceId: 'f-1', name: 'fgen', startTime: '2026-03-02T08:00:01.000Z' }),
      ev('f4', 'span-create', { id: 'fo-2', traceId: 'f-2', name: 'fspan', startTime: '2026-03-02T08:10:01.000Z' }),
      ev('f5', 'score-create', { id: 'fs-1', traceId: 'f-1', name: 'fscore', value: 0.2 }),
      ev('f6', 'score-create', { id: 'fs-2', traceId: 'f-2', name: 'fscore', value: 0.9 }),
      ev('f7', 'score-create', { id: 'fs-3', traceId: 'f-2', name: 'fscore', value: 'good' }),
    ]);
    expect(r.body.errors).toEqual([]);
    const ids = async (url: string) => {
      const res = await get(keyA, url);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.data.map((x: { id: string }) => x.id);
    };
    expect(await ids('/api/public/traces?name=filter&orderBy=timestamp.asc')).toEqual(['f-1', 'f-2']);
    expect(await ids('/api/public/traces?name=filter')).toEqual(['f-2', 'f-1']);
    expect(await ids('/api/public/traces?name=filter&fromTimestamp=2026-03-02T08:05:00Z')).toEqual(['f-2']);
    expect(await ids('/api/public/traces?name=filter&toTimestamp=2026-03-02T08:05:00Z')).toEqual(['f-1']);
    expect(await ids('/api/public/traces?name=filter&tags=x&tags=y')).toEqual(['f-1']);
    expect(await ids('/api/public/traces?release=r1')).toEqual(['f-2']);
    expect(await ids('/api/public/traces?name=filter&environment=prod')).toEqual(['f-1']);
    expect(await ids('/api/public/traces?name=filter&orderBy=userId.desc')).toEqual(['f-2', 'f-1']);
    expect(await ids('/api/public/traces?name=filter&orderBy=sessionId.asc&limit=1&page=2')).toHaveLength(1);
    expect((await get(keyA, '/api/public/traces?orderBy=colour.asc')).status).toBe(400);
    expect((await get(keyA, '/api/public/traces?limit=101')).status).toBe(400);

    expect(await ids('/api/public/observations?userId=fu')).toEqual(['fo-1']);
    expect(await ids('/api/public/observations?fromStartTime=2026-03-02T08:05:00Z&toStartTime=2026-03-02T09:00:00Z')).toEqual(['fo-2']);
    expect(await ids('/api/public/observations?type=SPAN&traceId=f-2')).toEqual(['fo-2']);

    expect(await ids('/api/public/scores?name=fscore&operator=%3E%3D&value=0.5')).toEqual(['fs-2']);
    expect((await ids('/api/public/scores?scoreIds=fs-1,fs-3')).sort()).toEqual(['fs-1', 'fs-3']);
    expect(await ids('/api/public/scores?name=fscore&dataType=CATEGORICAL')).toEqual(['fs-3']);
    expect(await ids('/api/public/scores?name=fscore&traceTags=y')).toEqual(['fs-1']);
    expect((await ids('/api/public/scores?userId=fu2')).sort()).toEqual(['fs-2', 'fs-3']);
    expect((await get(keyA, '/api/public/scores?operator=%3E')).body.error.message).toMatch(/"operator" and "value" together/);
  });

  it('prompt routes refuse bad input and keep "production" on one version', async () => {
    const post = (payload: object, auth = keyA) => app.inject({ method: 'POST', url: '/api/public/v2/prompts', headers: { authorization: auth }, payload });
    expect((await post({ name: 'p', prompt: ['not', 'messages'] })).statusCode).toBe(400);
    expect((await post({ name: 'p', type: 'text', prompt: [{ role: 'user', content: 'x' }] })).json().error.message).toMatch(/text prompt's "prompt" must be a string/);
    expect((await post({ name: 'p', prompt: 'x', labels: ['latest'] })).json().error.message).toMatch(/"latest" is managed by the server/);
    expect((await post({ name: 'p', prompt: 'x' }, viewerA)).statusCode).toBe(403);
    for (let i = 0; i < 3; i++) expect((await post({ name: 'p', prompt: `v${i + 1}`, labels: ['production'] })).statusCode).toBe(201);
    const { rows } = await t.db.query<{ version: number; labels: string[] }>(`SELECT version, labels FROM app.prompt WHERE name = 'p' ORDER BY version`);
    expect(rows).toEqual([{ version: 1, labels: [] }, { version: 2, labels: [] }, { version: 3, labels: ['production', 'latest'] }]);
    const both = await get(keyA, '/api/public/v2/prompts/p?version=1&label=production');
    expect(both.status).toBe(400);
    const none = await get(keyA, '/api/public/v2/prompts/p?label=staging');
    expect(none).toMatchObject({ status: 404, body: { error: { message: expect.stringMatching(/No prompt "p" with label "staging"/) } } });
  });

  it('answers 404 on these routes while the served model lacks the traces entities', async () => {
    const experiments = await loadPreset('experiments');
    ctx.models!.swap(experiments, 99);
    try {
      const res = await get(keyA, '/api/public/traces');
      expect(res.status).toBe(404);
      expect(res.body.error.message).toMatch(/GET \/api\/public\/traces belongs to the traces preset .* served model "experiments" does not have its shape: it has no entity "session"/);
      expect((await ingest(keyA, [])).status).toBe(404);
    } finally {
      ctx.models!.swap(t.model, 100);
    }
    expect((await get(keyA, '/api/public/traces')).status).toBe(200);
  });
});
