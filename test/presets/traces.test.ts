/**
 * The traces preset (SPEC M-6, issue 7 item 1): a trace read with its observation tree (through `parent` /
 * `children`) and scores in ONE statement, latency computed by the database, and the dashboard aggregates
 * (cost per model per day, trace totals, latency percentiles) — checked against values computed here. PGlite and PostgreSQL.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const T = '0190f5a8-0000-7000-8000-000000000001';
const ROOT = '0190f5a8-0000-7000-8000-0000000000a1';
const GEN1 = '0190f5a8-0000-7000-8000-0000000000a2';
const GEN2 = '0190f5a8-0000-7000-8000-0000000000a3';
const TOOL = '0190f5a8-0000-7000-8000-0000000000a4';

describe.each(TEST_KINDS)('traces preset on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let key: string;
  const gql = async (query: string) =>
    (await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${key}` }, payload: { query } })).json();

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    const project = await createProject(t.db, 'P');
    key = (await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
    const ev = (id: string, type: string, body: Record<string, unknown>) => ({ id, type, body });
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: { authorization: `Bearer ${key}` },
      payload: {
        batch: [
          ev('1', 'trace.create', { id: T, external_id: 'chat-1', name: 'answer question', timestamp: '2026-03-01T10:00:00Z', user_id: 'u1' }),
          ev('2', 'observation.create', { id: ROOT, trace_id: T, type: 'SPAN', name: 'pipeline', start_time: '2026-03-01T10:00:00Z', end_time: '2026-03-01T10:00:03Z' }),
          ev('3', 'observation.create', { id: GEN1, trace_id: T, parent_id: ROOT, type: 'GENERATION', name: 'draft', model: 'small', start_time: '2026-03-01T10:00:00.100Z', end_time: '2026-03-01T10:00:01.100Z', completion_start_time: '2026-03-01T10:00:00.350Z', input_tokens: 120, output_tokens: 30, total_tokens: 150, total_cost: 0.0003 }),
          ev('4', 'observation.create', { id: TOOL, trace_id: T, parent_id: GEN1, type: 'TOOL', name: 'search', start_time: '2026-03-01T10:00:00.200Z', end_time: '2026-03-01T10:00:00.300Z' }),
          ev('5', 'observation.create', { id: GEN2, trace_id: T, parent_id: ROOT, type: 'GENERATION', name: 'final', model: 'large', start_time: '2026-03-01T10:00:01.200Z', end_time: '2026-03-01T10:00:02.950Z', input_tokens: 400, output_tokens: 80, total_tokens: 480, total_cost: 0.0048 }),
          ev('6', 'score.create', { trace_id: T, name: 'helpful', value: 1, string_value: 'true', data_type: 'BOOLEAN' }),
          ev('7', 'score.create', { trace_id: T, observation_id: GEN2, name: 'faithfulness', value: 0.75 }),
        ],
      },
    });
    expect(res.json().errors).toEqual([]);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('reads a trace with its observation tree and scores in one statement; latency comes from the database', async () => {
    const before = t.db.stats.statements;
    const data = await gql(`{
      traces {
        external_id name
        observations(filter: { parent_id: { is_null: true } }) {
          name type latency_ms
          children(order_by: { start_time: ASC }) { name model latency_ms time_to_first_token_ms children { name type latency_ms } scores { name value } }
        }
        scores(order_by: { name: ASC }) { name value string_value data_type }
        observations_aggregate { sum { total_cost total_tokens } min { start_time } max { end_time } }
      }
    }`);
    expect(t.db.stats.statements - before).toBe(1);
    const [trace] = data.data.traces;
    expect(trace.observations).toEqual([
      {
        name: 'pipeline',
        type: 'SPAN',
        latency_ms: 3000,
        children: [
          { name: 'draft', model: 'small', latency_ms: 1000, time_to_first_token_ms: 250, children: [{ name: 'search', type: 'TOOL', latency_ms: 100 }], scores: [] },
          { name: 'final', model: 'large', latency_ms: 1750, time_to_first_token_ms: null, children: [], scores: [{ name: 'faithfulness', value: 0.75 }] },
        ],
      },
    ]);
    expect(trace.scores).toEqual([
      { name: 'faithfulness', value: 0.75, string_value: null, data_type: 'NUMERIC' },
      { name: 'helpful', value: 1, string_value: 'true', data_type: 'BOOLEAN' },
    ]);
    const [agg] = trace.observations_aggregate;
    expect(agg.sum.total_tokens).toBe(630);
    expect(agg.sum.total_cost).toBeCloseTo(0.0051, 10);
    expect(new Date(agg.max.end_time).getTime() - new Date(agg.min.start_time).getTime()).toBe(3000);
  });

  it('answers latency percentiles (interpolated, computed by the database), also as an ordering', async () => {
    const data = await gql(`{
      observation_aggregate(group_by: [type], order_by: [{ p95: { latency_ms: DESC } }]) { key { type } count p50 { latency_ms } p95 { latency_ms } p99 { total_tokens } }
    }`);
    expect(data.errors).toBeUndefined();
    expect(data.data.observation_aggregate).toEqual([
      { key: { type: 'SPAN' }, count: 1, p50: { latency_ms: 3000 }, p95: { latency_ms: 3000 }, p99: { total_tokens: null } },
      { key: { type: 'GENERATION' }, count: 2, p50: { latency_ms: 1375 }, p95: { latency_ms: 1712.5 }, p99: { total_tokens: 476.7 } },
      { key: { type: 'TOOL' }, count: 1, p50: { latency_ms: 100 }, p95: { latency_ms: 100 }, p99: { total_tokens: null } },
    ]);
  });

  it('answers cost and tokens per model per day, with latency averages and maxima', async () => {
    const data = await gql(`{
      observation_aggregate(filter: { type: { eq: GENERATION } }, group_by: [model, start_time_day], order_by: [{ key: { model: ASC } }]) {
        key { model start_time_day } count sum { total_cost total_tokens } avg { latency_ms } max { latency_ms }
      }
    }`);
    expect(data.errors).toBeUndefined();
    const rows = data.data.observation_aggregate.map((r: { key: { model: string; start_time_day: string }; count: number; sum: { total_cost: number; total_tokens: number }; avg: { latency_ms: number } }) => ({
      model: r.key.model,
      day: new Date(r.key.start_time_day).toISOString().slice(0, 10),
      count: r.count,
      tokens: r.sum.total_tokens,
      cost: Number(r.sum.total_cost.toFixed(6)),
      latency: r.avg.latency_ms,
    }));
    expect(rows).toEqual([
      { model: 'large', day: '2026-03-01', count: 1, tokens: 480, cost: 0.0048, latency: 1750 },
      { model: 'small', day: '2026-03-01', count: 1, tokens: 150, cost: 0.0003, latency: 1000 },
    ]);
  });
});
