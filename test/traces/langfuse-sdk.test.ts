/**
 * The Langfuse v3 JS SDK (npm `langfuse`, unmodified) pointed at Lattice by base URL and keys (SPEC R-6, issue 7
 * item 3): batch ingestion of a trace with nested spans, generations with usage (Langfuse's and OpenAI's usage
 * shapes), an event, updates and scores; read back through the SDK's public-API calls and through GraphQL;
 * prompts created, fetched and compiled through the SDK and the seed's compile route. PGlite and PostgreSQL.
 */
import type { FastifyInstance } from 'fastify';
import { Langfuse } from 'langfuse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

describe.each(TEST_KINDS)('Langfuse v3 SDK against Lattice on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseUrl: string;
  let secret: string;
  let langfuse: Langfuse;
  const problems: unknown[] = [];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    const project = await createProject(t.db, 'A');
    const key = await createApiKey(t.db, { projectId: project, role: 'editor' });
    secret = key.secret_key;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    langfuse = new Langfuse({ publicKey: key.public_key, secretKey: key.secret_key, baseUrl, flushAt: 1000, flushInterval: 0, fetchRetryCount: 0 });
    langfuse.on('error', (e) => problems.push(e));
    langfuse.on('warning', (e) => problems.push(e));

    // One request of a retrieval assistant: nested spans, two generations, an event, updates and scores.
    const trace = langfuse.trace({ id: 'chat-1', name: 'answer question', timestamp: at(0), userId: 'u1', sessionId: 'sess-1', tags: ['b', 'a'], input: { question: 'What is Lattice?' }, metadata: { a: 1 } });
    const root = trace.span({ name: 'pipeline', startTime: at(0) });
    const retrieve = root.span({ name: 'retrieve', startTime: at(100), input: { k: 3 } });
    retrieve.event({ name: 'cache-miss', startTime: at(150), level: 'WARNING', statusMessage: 'cold cache' });
    retrieve.update({ endTime: at(400), output: { documents: 3 } });
    const draft = root.generation({ name: 'draft', model: 'small-model', modelParameters: { temperature: 0 }, input: [{ role: 'user', content: 'What is Lattice?' }], startTime: at(500), completionStartTime: at(750) });
    draft.update({ endTime: at(2500), output: 'A data API server.', usage: { input: 120, output: 30, inputCost: 0.00012, outputCost: 0.00006 } });
    const final = root.generation({ name: 'final', model: 'large-model', startTime: at(2550) });
    final.update({
      endTime: at(2950),
      output: 'Lattice is a data API server.',
      usageDetails: { prompt_tokens: 200, completion_tokens: 50, total_tokens: 250, prompt_tokens_details: { cached_tokens: 80 } },
      costDetails: { input: 0.001, output: 0.0005 },
    });
    root.update({ endTime: at(3000) });
    trace.update({ output: { answer: 'Lattice is a data API server.' }, tags: ['c'], metadata: { b: 2 } });
    trace.score({ name: 'helpful', value: 1, dataType: 'BOOLEAN' });
    draft.score({ name: 'faithfulness', value: 0.75, comment: 'one claim unsupported' });
    trace.score({ name: 'tone', value: 'friendly' });
    Object.assign(ids, { root: root.id, retrieve: retrieve.id, draft: draft.id, final: final.id });
    await langfuse.flushAsync();
  });
  afterAll(async () => {
    await langfuse?.shutdownAsync();
    await app?.close();
    await t?.close();
  });

  it('accepts the whole batch (no 207 errors reported to the SDK)', () => {
    expect(problems).toEqual([]);
  });

  it('fetchTrace answers the trace with its observation tree, scores, merged updates and database-computed latency and cost', async () => {
    const { data } = await langfuse.fetchTrace('chat-1');
    expect(data).toMatchObject({
      id: 'chat-1',
      name: 'answer question',
      timestamp: '2026-03-01T10:00:00.000Z',
      userId: 'u1',
      sessionId: 'sess-1',
      tags: ['a', 'b', 'c'],
      metadata: { a: 1, b: 2 },
      input: { question: 'What is Lattice?' },
      output: { answer: 'Lattice is a data API server.' },
      latency: 3,
    });
    expect(data.totalCost).toBeCloseTo(0.00018 + 0.0015, 12);
    const byName = Object.fromEntries(data.observations.map((o) => [o.name, o]));
    expect(data.observations.map((o) => o.name)).toEqual(['pipeline', 'retrieve', 'cache-miss', 'draft', 'final']);
    expect(byName.pipeline).toMatchObject({ id: ids.root, type: 'SPAN', parentObservationId: null, traceId: 'chat-1', latency: 3 });
    expect(byName.retrieve).toMatchObject({ parentObservationId: ids.root, startTime: '2026-03-01T10:00:00.100Z', endTime: '2026-03-01T10:00:00.400Z', output: { documents: 3 } });
    expect(byName['cache-miss']).toMatchObject({ type: 'EVENT', parentObservationId: ids.retrieve, level: 'WARNING', statusMessage: 'cold cache' });
    expect(byName.draft).toMatchObject({
      type: 'GENERATION', model: 'small-model', modelParameters: { temperature: 0 }, output: 'A data API server.', latency: 2, timeToFirstToken: 0.25,
      usage: { input: 120, output: 30, total: 150, unit: 'TOKENS' }, usageDetails: { input: 120, output: 30, total: 150 },
      costDetails: { input: 0.00012, output: 0.00006 },
    });
    expect(byName.draft.calculatedTotalCost).toBeCloseTo(0.00018, 12);
    // OpenAI's usage shape: cached prompt tokens split out of the input count.
    expect(byName.final).toMatchObject({
      usage: { input: 120, output: 50, total: 250 }, usageDetails: { input: 120, input_cached_tokens: 80, output: 50, total: 250 },
      costDetails: { input: 0.001, output: 0.0005, total: 0.0015 }, calculatedTotalCost: 0.0015,
    });
    const scores = Object.fromEntries(data.scores.map((s) => [s.name, s]));
    expect(scores.helpful).toMatchObject({ dataType: 'BOOLEAN', value: 1, stringValue: 'True', traceId: 'chat-1', observationId: null, source: 'API' });
    expect(scores.faithfulness).toMatchObject({ dataType: 'NUMERIC', value: 0.75, observationId: ids.draft, comment: 'one claim unsupported' });
    expect(scores.tone).toMatchObject({ dataType: 'CATEGORICAL', value: null, stringValue: 'friendly' });
  });

  it('fetchTraces, fetchObservations and fetchObservation filter and paginate like Langfuse', async () => {
    const traces = await langfuse.fetchTraces({ sessionId: 'sess-1', tags: ['c'] });
    expect(traces.meta).toEqual({ page: 1, limit: 50, totalItems: 1, totalPages: 1 });
    expect(traces.data[0]).toMatchObject({ id: 'chat-1', observations: expect.arrayContaining([ids.draft, ids.final]), latency: 3 });
    expect(traces.data[0].scores).toHaveLength(3);
    expect((await langfuse.fetchTraces({ userId: 'someone-else' })).meta.totalItems).toBe(0);

    const generations = await langfuse.fetchObservations({ traceId: 'chat-1', type: 'GENERATION', limit: 1 });
    expect(generations.meta).toEqual({ page: 1, limit: 1, totalItems: 2, totalPages: 2 });
    expect(generations.data.map((o) => o.name)).toEqual(['final']); // newest start first
    const page2 = await langfuse.fetchObservations({ traceId: 'chat-1', type: 'GENERATION', limit: 1, page: 2 });
    expect(page2.data.map((o) => o.name)).toEqual(['draft']);
    expect((await langfuse.fetchObservations({ parentObservationId: ids.root })).meta.totalItems).toBe(3);

    const { data: one } = await langfuse.fetchObservation(ids.draft);
    expect(one).toMatchObject({ id: ids.draft, traceId: 'chat-1', latency: 2, timeToFirstToken: 0.25 });
  });

  it('scores: created and listed through the SDK\'s public API client', async () => {
    const created = await langfuse.api.scoreCreate({ traceId: 'chat-1', observationId: ids.final, name: 'correct', value: 1, dataType: 'BOOLEAN' });
    expect(typeof created.id).toBe('string');
    const listed = await langfuse.api.scoreV2Get({ name: 'correct' });
    expect(listed.meta.totalItems).toBe(1);
    expect(listed.data[0]).toMatchObject({ id: created.id, traceId: 'chat-1', observationId: ids.final, value: 1, stringValue: 'True', trace: { userId: 'u1', tags: ['a', 'b', 'c'] } });
    expect((await langfuse.api.scoreV2Get({ userId: 'u1' })).meta.totalItems).toBe(4);
  });

  it('the same data through GraphQL: trace → observation tree → scores, latency and cost from the database', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: `Bearer ${secret}` },
      payload: {
        query: `{ traces(filter: { external_id: { eq: "chat-1" } }) {
          name session { external_id }
          observations(filter: { parent_id: { is_null: true } }) {
            external_id latency_ms
            children(order_by: { start_time: ASC }) { name latency_ms input_tokens output_tokens total_tokens children { name type } scores { name value } }
          }
          scores(order_by: { name: ASC }) { name value string_value data_type }
          observations_aggregate { sum { total_cost total_tokens } }
        } }`,
      },
    });
    const [trace] = res.json().data.traces;
    expect(trace.session).toEqual({ external_id: 'sess-1' });
    expect(trace.observations).toEqual([
      {
        external_id: ids.root,
        latency_ms: 3000,
        children: [
          { name: 'retrieve', latency_ms: 300, input_tokens: null, output_tokens: null, total_tokens: null, children: [{ name: 'cache-miss', type: 'EVENT' }], scores: [] },
          { name: 'draft', latency_ms: 2000, input_tokens: 120, output_tokens: 30, total_tokens: 150, children: [], scores: [{ name: 'faithfulness', value: 0.75 }] },
          { name: 'final', latency_ms: 400, input_tokens: 120, output_tokens: 50, total_tokens: 250, children: [], scores: [{ name: 'correct', value: 1 }] },
        ],
      },
    ]);
    expect(trace.scores.map((s: { name: string }) => s.name)).toEqual(['correct', 'faithfulness', 'helpful', 'tone']);
    expect(trace.observations_aggregate[0].sum.total_tokens).toBe(400);
    expect(trace.observations_aggregate[0].sum.total_cost).toBeCloseTo(0.00168, 12);
  });

  it('prompts: createPrompt makes versions and moves labels, getPrompt resolves them, compile fills variables', async () => {
    const v1 = await langfuse.createPrompt({ name: 'qa', prompt: 'Answer {{question}} in {{language}}.', labels: ['production'], config: { temperature: 0.2 } });
    expect(v1).toMatchObject({ name: 'qa', version: 1, labels: ['production', 'latest'], config: { temperature: 0.2 } });
    const v2 = await langfuse.createPrompt({ name: 'qa', prompt: 'Answer {{ question }} briefly, in {{language}}.', labels: ['production', 'staging'], tags: ['support'] });
    expect(v2.version).toBe(2);

    const production = await langfuse.getPrompt('qa', undefined, { cacheTtlSeconds: 0 });
    expect(production).toMatchObject({ version: 2, labels: ['production', 'staging', 'latest'], tags: ['support'] });
    expect(production.compile({ question: 'what is RLS', language: 'French' })).toBe('Answer what is RLS briefly, in French.');
    const first = await langfuse.getPrompt('qa', 1, { cacheTtlSeconds: 0 });
    expect(first).toMatchObject({ version: 1, labels: [], tags: ['support'] }); // labels moved to v2; tags apply to every version

    // updatePrompt: production moves back to version 1; version 2 keeps latest and staging.
    const relabelled = await langfuse.updatePrompt({ name: 'qa', version: 1, newLabels: ['production'] });
    expect(relabelled).toMatchObject({ version: 1, labels: ['production'] });
    expect(await langfuse.getPrompt('qa', undefined, { cacheTtlSeconds: 0 })).toMatchObject({ version: 1 });
    expect(await langfuse.getPrompt('qa', 2, { cacheTtlSeconds: 0 })).toMatchObject({ labels: ['staging', 'latest'] });
    const relabel = (version: number, payload: object) =>
      app.inject({ method: 'PATCH', url: `/api/public/v2/prompts/qa/versions/${version}`, headers: { authorization: `Bearer ${secret}` }, payload });
    expect((await relabel(9, { newLabels: ['production'] })).statusCode).toBe(404);
    expect((await relabel(1, { newLabels: ['latest'] })).statusCode).toBe(400);
    expect((await relabel(2, { newLabels: ['production', 'staging'] })).json()).toMatchObject({ version: 2, labels: ['production', 'staging', 'latest'] });

    const chat = await langfuse.createPrompt({ name: 'assistant', type: 'chat', prompt: [{ role: 'system', content: 'You are {{persona}}.' }, { role: 'user', content: '{{question}}' }], labels: ['production'] });
    expect(chat.version).toBe(1);
    const fetched = await langfuse.getPrompt('assistant', undefined, { type: 'chat', cacheTtlSeconds: 0 });
    expect(fetched.compile({ persona: 'a librarian', question: 'Where is the index?' })).toEqual([
      { role: 'system', content: 'You are a librarian.' },
      { role: 'user', content: 'Where is the index?' },
    ]);

    const compile = (name: string, payload: object) =>
      app.inject({ method: 'POST', url: `/api/public/prompts/${name}/compile`, headers: { authorization: `Bearer ${secret}` }, payload });
    const ok = await compile('qa', { variables: { question: 'why', language: 'German' } });
    expect(ok.json()).toMatchObject({ name: 'qa', version: 2, type: 'text', prompt: 'Answer why briefly, in German.' });
    const old = await compile('qa', { variables: { question: 'why', language: 'German' }, version: 1 });
    expect(old.json().prompt).toBe('Answer why in German.');
    const missing = await compile('qa', { variables: { question: 'why' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toMatch(/needs variable language/);
    const chatOk = await compile('assistant', { variables: { persona: 'terse', question: 'hi' } });
    expect(chatOk.json().prompt).toEqual([{ type: 'chatmessage', role: 'system', content: 'You are terse.' }, { type: 'chatmessage', role: 'user', content: 'hi' }]);

    const seedGet = await app.inject({ method: 'GET', url: '/api/public/prompts/qa?label=staging', headers: { authorization: `Bearer ${secret}` } });
    expect(seedGet.json()).toMatchObject({ name: 'qa', version: 2, type: 'text' });
  });
});
