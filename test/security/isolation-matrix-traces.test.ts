/**
 * The tenant-isolation matrix of the traces preset's routes (SPEC R-6, A-4; issue 8 "Done when") on every test
 * database, with the principals of `isolation-matrix-support.ts` (API key of A as Basic credentials like the
 * Langfuse SDKs, JWT naming A, proxy headers naming A, editor member of A and C): Langfuse ingestion, the trace,
 * observation and score reads, scores, prompts (get, compile, create, relabel) and OTLP never read, write,
 * count or deduplicate against project B's data; B's ids are conflicts. After every attempt B's data, read back
 * by B's owner, is unchanged. The member, who may write into A and C, names A with the `X-Lattice-Project-Id`
 * header on every write route (without it: the clear 400; naming B: 403). A separate file because these routes
 * are served only for the traces model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPreset } from '../../src/model/load.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { gql, http, PRINCIPALS, setupMatrix, type Headers, type Matrix, type MatrixPrincipal } from './isolation-matrix-support.js';

const OTLP = '/api/public/otel/v1/traces';
/** B's OpenTelemetry trace and span ids (hex). */
const OTEL_TRACE_B = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';
const OTEL_SPAN_B = 'b1b1b1b1b1b1b1b1';

const ev = (id: string, type: string, body: Record<string, unknown>) => ({ id, type, timestamp: '2026-03-01T12:00:00.000Z', body });

/** An OTLP/JSON export of spans `[traceId, spanId, name]`. */
function otlp(...spans: [string, string, string][]) {
  const start = 1772359200n * 1_000_000_000n;
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'matrix' } }] },
      scopeSpans: [{ scope: { name: 'matrix' }, spans: spans.map(([traceId, spanId, name]) => ({
        traceId, spanId, name, kind: 1, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1_000_000_000n), attributes: [],
      })) }],
    }],
  };
}

/** B's data in full, as B's owner reads it over GraphQL. */
const B_STATE = `{
  sessions(order_by: [{ id: ASC }]) { id external_id metadata updated_at }
  traces(order_by: [{ id: ASC }]) { id external_id name user_id session_id tags metadata updated_at }
  observations(order_by: [{ id: ASC }]) { id external_id trace_id name type input output end_time updated_at }
  scores(order_by: [{ id: ASC }]) { id external_id trace_id name value string_value updated_at }
  prompts(order_by: [{ id: ASC }]) { id name version prompt labels updated_at }
}`;

describe.each(TEST_KINDS)('tenant-isolation matrix of the traces routes on %s', (kind) => {
  let t: TestDb;
  let m: Matrix;

  async function bState(): Promise<Record<string, unknown[]>> {
    const r = await gql(m.app, m.ownerB, B_STATE);
    expect(r.errors, r.text).toBeUndefined();
    return r.data;
  }

  /** Run `attempt`, then expect B's data unchanged. */
  async function bUnchangedBy(attempt: () => Promise<void>): Promise<void> {
    const before = await bState();
    expect(before.traces.length).toBeGreaterThanOrEqual(2);
    await attempt();
    expect(await bState()).toEqual(before);
  }

  /** External ids of `table`'s rows in `projects`, as the database owner reads them. */
  async function externalIds(table: string, projects: readonly string[]): Promise<string[]> {
    const { rows } = await t.db.query<{ id: string }>(`SELECT external_id AS id FROM app.${table} WHERE project_id = ANY($1::uuid[]) ORDER BY 1`, [projects]);
    return rows.map((r) => r.id).sort();
  }

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    m = await setupMatrix(t, true);
    const batch = (p: string) => [
      ev(`${p}-1`, 'trace-create', { id: `t-${p}`, name: `${p} trace`, sessionId: `sess-${p}`, userId: `user-${p}`, tags: [p] }),
      ev(`${p}-2`, 'span-create', { id: `o-${p}`, traceId: `t-${p}`, name: `${p} span`, input: { secret: `private-${p}` } }),
      ev(`${p}-3`, 'score-create', { id: `sc-${p}`, traceId: `t-${p}`, name: 'iso-score', value: 0.5 }),
    ];
    for (const [owner, p] of [[m.ownerA, 'a'], [m.ownerB, 'b']] as const) {
      const r = await http(m.app, owner, 'POST', '/api/public/ingestion', { batch: batch(p) });
      expect(r.data.errors, r.body).toEqual([]);
    }
    // B's envelope ids the principals reuse, B's prompts of the names they use, B's OTLP trace.
    const reused = PRINCIPALS.map((who) => ev(`evt-${who}`, 'trace-create', { id: `t-b-${who}`, name: 'B reused' }));
    expect((await http(m.app, m.ownerB, 'POST', '/api/public/ingestion', { batch: reused })).data.errors).toEqual([]);
    for (const who of PRINCIPALS) {
      for (const text of ['B v1', 'B v2']) {
        const r = await http(m.app, m.ownerB, 'POST', '/api/public/v2/prompts', { name: `prompt ${who}`, prompt: text, labels: ['production'] });
        expect(r.statusCode, r.body).toBe(201);
      }
    }
    const o = await http(m.app, { ...m.ownerB, 'content-type': 'application/json' }, 'POST', OTLP, otlp([OTEL_TRACE_B, OTEL_SPAN_B, 'b-root']));
    expect(o.statusCode, o.body).toBe(200);
  });
  afterAll(async () => {
    await m?.app.close();
    await t?.close();
  });

  describe.each(PRINCIPALS)('%s', (who) => {
    const P = (): MatrixPrincipal => m.principals[who];
    const h = (): Headers => P().headers;
    /** Headers of a write: the member, who may write into A and C, names A with the project header. */
    const hw = (): Headers => (who === 'member' ? { ...h(), 'x-lattice-project-id': m.projects.A } : h());

    it("Langfuse reads (traces, observations, scores, prompts) show its projects only, nothing of B", async () => {
      const traces = await http(m.app, h(), 'GET', '/api/public/traces?limit=100');
      expect(traces.statusCode, traces.body).toBe(200);
      expect(traces.data.data.map((x: { id: string }) => x.id).sort()).toEqual(await externalIds('trace', P().visible));
      expect(traces.data.meta.totalItems).toBe((await externalIds('trace', P().visible)).length);
      const observations = await http(m.app, h(), 'GET', '/api/public/observations?limit=100');
      expect(observations.data.data.map((x: { id: string }) => x.id).sort()).toEqual(await externalIds('observation', P().visible));
      for (const url of ['/api/public/scores?name=iso-score', '/api/public/v2/scores?name=iso-score']) {
        const scores = await http(m.app, h(), 'GET', url);
        expect(scores.data.data.map((x: { id: string }) => x.id), url).toEqual(['sc-a']);
      }
      for (const url of ['/api/public/traces?sessionId=sess-b', '/api/public/traces?userId=user-b', '/api/public/traces?tags=b',
        '/api/public/observations?traceId=t-b', '/api/public/scores?scoreIds=sc-b', '/api/public/scores?userId=user-b']) {
        const r = await http(m.app, h(), 'GET', url);
        expect([r.statusCode, r.data.meta.totalItems, r.data.data], `${url} ${r.body}`).toEqual([200, 0, []]);
      }
      for (const url of ['/api/public/traces/t-b', '/api/public/observations/o-b', `/api/public/traces/${OTEL_TRACE_B}`, `/api/public/observations/${OTEL_SPAN_B}`,
        `/api/public/v2/prompts/${encodeURIComponent(`prompt ${who}`)}`, `/api/public/prompts/${encodeURIComponent(`prompt ${who}`)}?label=production`]) {
        const r = await http(m.app, h(), 'GET', url);
        expect(r.statusCode, `${url} ${r.body}`).toBe(404);
        expect(r.body).not.toMatch(/private-b|B v[12]/);
      }
      const compile = await http(m.app, h(), 'POST', `/api/public/prompts/${encodeURIComponent(`prompt ${who}`)}/compile`, { variables: {} });
      expect(compile.statusCode, compile.body).toBe(404);
      const g = await gql(m.app, h(), `{ traces(filter: { external_id: { in: ["t-b", "${OTEL_TRACE_B}"] } }) { id } trace_aggregate { count } prompts(filter: { name: { eq: "prompt ${who}" } }) { id } }`);
      expect(g.data).toEqual({ traces: [], trace_aggregate: [{ count: (await externalIds('trace', P().visible)).length }], prompts: [] });
    });

    it("Langfuse ingestion and POST /api/public/scores: B's ids are 409s, B's envelope ids dedupe nothing", async () => {
      const batch = [
        ev(`evt-${who}`, 'trace-create', { id: `t-own-${who}`, name: 'own trace' }),
        ev('x-1', 'trace-create', { id: 't-b', name: 'hijack' }),
        ev('x-2', 'span-update', { id: 'o-b', traceId: 't-b', name: 'hijack', output: { leaked: true } }),
        ev('x-3', 'span-create', { id: `o-into-b-${who}`, traceId: 't-b', name: 'into B trace' }),
        ev('x-4', 'score-create', { id: `sc-into-b-${who}`, traceId: 't-b', name: 'iso-score', value: 1 }),
        ev('x-5', 'score-create', { id: 'sc-b', traceId: `t-own-${who}`, name: 'iso-score', value: 1 }),
        ev('x-6', 'trace-create', { id: `t-sess-${who}`, sessionId: 'sess-b' }),
        ev('x-7', 'generation-create', { id: OTEL_SPAN_B, traceId: `t-own-${who}`, name: 'copy of B span' }),
      ];
      await bUnchangedBy(async () => {
        if (who === 'member') {
          // Several writable projects: without the project header the clear 400; the header cannot name B.
          for (const res of [
            await http(m.app, h(), 'POST', '/api/public/ingestion', { batch }),
            await http(m.app, h(), 'POST', '/api/public/scores', { traceId: 't-b', name: 'x', value: 1 }),
          ]) {
            expect(res.statusCode, res.body).toBe(400);
            expect(res.data.error.message).toMatch(/can write into 2 projects: name the target project with the x-lattice-project-id header/);
            expect(res.data.error.message).not.toContain(m.projects.B);
          }
          const intoB = await http(m.app, { ...h(), 'x-lattice-project-id': m.projects.B }, 'POST', '/api/public/ingestion', { batch });
          expect(intoB.statusCode, intoB.body).toBe(403);
        }
        const r = await http(m.app, hw(), 'POST', '/api/public/ingestion', { batch });
        const score = await http(m.app, hw(), 'POST', '/api/public/scores', { traceId: 't-b', name: 'x', value: 1 });
        expect(r.statusCode, r.body).toBe(207);
        expect(r.data.successes).toEqual([{ id: `evt-${who}`, status: 201 }]);
        const statuses = Object.fromEntries(r.data.errors.map((e: { id: string; status: number }) => [e.id, e.status]));
        expect(statuses).toEqual({ 'x-1': 409, 'x-2': 409, 'x-3': 409, 'x-4': 409, 'x-5': 409, 'x-6': 409, 'x-7': 409 });
        expect(r.body).not.toMatch(/private-b/);
        expect(score.statusCode, score.body).toBe(409);
      });
      const own = await t.db.query<{ project_id: string }>(`SELECT project_id::text AS project_id FROM app.trace WHERE external_id = $1`, [`t-own-${who}`]);
      expect(own.rows).toEqual([{ project_id: m.projects.A }]);
    });

    it("prompts: B's versions are neither relabelled nor counted; its own prompt of the same name starts at version 1", async () => {
      const name = encodeURIComponent(`prompt ${who}`);
      await bUnchangedBy(async () => {
        if (who === 'member') {
          const ambiguous = await http(m.app, h(), 'POST', '/api/public/v2/prompts', { name: `prompt ${who}`, prompt: 'own', labels: ['production'] });
          expect(ambiguous.statusCode, ambiguous.body).toBe(400);
          const intoB = await http(m.app, { ...h(), 'x-lattice-project-id': m.projects.B }, 'PATCH', `/api/public/v2/prompts/${name}/versions/2`, { newLabels: ['staging'] });
          expect(intoB.statusCode, intoB.body).toBe(403);
        }
        const relabel = await http(m.app, hw(), 'PATCH', `/api/public/v2/prompts/${name}/versions/2`, { newLabels: ['staging'] });
        expect(relabel.statusCode, relabel.body).toBe(404);
        const created = await http(m.app, hw(), 'POST', '/api/public/v2/prompts', { name: `prompt ${who}`, prompt: 'own', labels: ['production'] });
        expect(created.statusCode, created.body).toBe(201);
        expect(created.data).toMatchObject({ version: 1, labels: ['production', 'latest'] });
        const own = await http(m.app, hw(), 'PATCH', `/api/public/v2/prompts/${name}/versions/1`, { newLabels: ['staging'] });
        expect(own.statusCode, own.body).toBe(200);
        expect(own.data).toMatchObject({ version: 1, prompt: 'own' });
        expect((await http(m.app, h(), 'GET', `/api/public/v2/prompts/${name}?label=staging`)).data).toMatchObject({ version: 1, prompt: 'own' });
      });
    });

    it("OTLP: a span in B's trace or with B's span id is rejected, never merged; the project header cannot name B", async () => {
      const json = { ...h(), 'content-type': 'application/json' };
      const ownTrace = `a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0${String(PRINCIPALS.indexOf(who)).padStart(2, '0')}`;
      const spans = otlp([OTEL_TRACE_B, `c0c0c0c0c0c0c0${String(PRINCIPALS.indexOf(who)).padStart(2, '0')}`, 'intruder'], [ownTrace, OTEL_SPAN_B, 'copy'], [ownTrace, `d0d0d0d0d0d0d0${String(PRINCIPALS.indexOf(who)).padStart(2, '0')}`, 'fine']);
      await bUnchangedBy(async () => {
        const intoB = await http(m.app, { ...json, 'x-lattice-project-id': m.projects.B }, 'POST', OTLP, otlp([ownTrace, 'e0e0e0e0e0e0e0e0', 'into-b']));
        expect(intoB.statusCode, intoB.body).toBe(403);
        if (who === 'member') {
          const ambiguous = await http(m.app, json, 'POST', OTLP, spans);
          expect(ambiguous.statusCode, ambiguous.body).toBe(400);
        }
        const res = await http(m.app, who === 'member' ? { ...json, 'x-lattice-project-id': m.projects.A } : json, 'POST', OTLP, spans);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.data.partialSuccess.rejectedSpans).toBe('2');
        expect(res.data.partialSuccess.errorMessage).toContain(`trace "${OTEL_TRACE_B}": this id is already used in another project`);
        expect(res.data.partialSuccess.errorMessage).toContain(`observation "${OTEL_SPAN_B}": this id is already used in another project`);
      });
      const { rows } = await t.db.query<{ name: string; project_id: string }>(
        `SELECT o.name, o.project_id::text AS project_id FROM app.observation o JOIN app.trace tr ON tr.id = o.trace_id WHERE tr.external_id = $1`, [ownTrace]);
      expect(rows).toEqual([{ name: 'fine', project_id: m.projects.A }]);
    });
  });
});
