/**
 * OTLP trace ingestion with the real SDKs (SPEC R-6, issue 7 item 2), against a listening Lattice server:
 * Langfuse's `@langfuse/tracing` + `@langfuse/otel` on the OpenTelemetry Node SDK (its default OTLP/JSON
 * exporter, batched; and the protobuf exporter with gzip, one export per span so children arrive before their
 * parents), and a plain OpenTelemetry span with GenAI attributes (JSON + gzip, protobuf). Everything is read
 * back through GraphQL in one statement. PGlite and PostgreSQL.
 */
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { propagateAttributes, setLangfuseTracerProvider, startActiveObservation } from '@langfuse/tracing';
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const OBSERVATION_FIELDS = `name type model model_parameters input output input_tokens output_tokens total_tokens input_cost output_cost total_cost
  level status_message environment metadata`;
const TRACE_QUERY = `query ($id: String!) {
  traces(filter: { external_id: { eq: $id } }) {
    name user_id tags version environment input output metadata session { external_id }
    observations(filter: { parent_id: { is_null: true } }) {
      ${OBSERVATION_FIELDS}
      children(order_by: { name: ASC }) { ${OBSERVATION_FIELDS} children { name type level status_message } }
    }
  }
}`;

// One global context manager (propagateAttributes and active spans need it); each case has its own provider.
new NodeTracerProvider().register();

describe.each(TEST_KINDS)('OTLP ingestion from the real SDKs on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseUrl: string;
  let keys: { public_key: string; secret_key: string };
  /** Content type (and coding) of every export the server received. */
  const received: string[] = [];
  const basic = () => `Basic ${Buffer.from(`${keys.public_key}:${keys.secret_key}`).toString('base64')}`;

  /** Read one trace through GraphQL; asserts the read is one SQL statement. */
  const readTrace = async (traceId: string) => {
    // The key is checked (and cached for a few seconds) first, so the read alone is counted.
    await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${keys.secret_key}` }, payload: { query: '{ __typename }' } });
    const before = t.db.stats.statements;
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${keys.secret_key}` }, payload: { query: TRACE_QUERY, variables: { id: traceId } } });
    expect(t.db.stats.statements - before).toBe(1);
    const body = res.json();
    expect(body.errors).toBeUndefined();
    expect(body.data.traces).toHaveLength(1);
    return body.data.traces[0];
  };

  /** Rows in the observation table (as the owner). */
  const observationCount = async () => Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM app.observation')).rows[0].n);

  /** An exporter that records the result of every export, so a refused export fails the test. */
  const recording = <E extends JsonExporter | ProtoExporter>(exporter: E, results: number[]): E => {
    const original = exporter.export.bind(exporter);
    exporter.export = (spans, done) => original(spans, (r) => (results.push(r.code), done(r)));
    return exporter;
  };

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    const project = await createProject(t.db, 'otel');
    keys = await createApiKey(t.db, { projectId: project, role: 'editor' });
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
    app.addHook('onRequest', async (request) => {
      if (request.url === '/api/public/otel/v1/traces') received.push(`${request.headers['content-type']}${request.headers['content-encoding'] ? ` ${request.headers['content-encoding']}` : ''}`);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  /**
   * The Langfuse SDK's usual instrumentation of a question-answering request: a root span with input and output,
   * trace attributes propagated to every span, a retriever, a generation updated with its output, usage and cost,
   * and an event. @returns the trace id and the finished spans
   */
  const runLangfuseApp = async (processor: LangfuseSpanProcessor, session: string): Promise<{ traceId: string; spans: ReadableSpan[] }> => {
    const memory = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'qa-bot', 'service.version': '1.2.0' }),
      spanProcessors: [processor, new SimpleSpanProcessor(memory)],
    });
    setLangfuseTracerProvider(provider);
    let traceId = '';
    await startActiveObservation('handle-question', async (root) => {
      traceId = root.traceId;
      root.update({ input: { question: 'What is Lattice?' } });
      await propagateAttributes({ userId: 'user-7', sessionId: session, traceName: 'qa', tags: ['qa', 'docs'], metadata: { tenant: 'acme' } }, async () => {
        const retrieval = root.startObservation('retrieve-docs', { input: { query: 'Lattice' } }, { asType: 'retriever' });
        retrieval.update({ output: { documents: ['README.md'] } }).end();
        const generation = root.startObservation(
          'answer',
          { model: 'gpt-4o-mini', modelParameters: { temperature: 0.2, max_tokens: 256 }, input: [{ role: 'user', content: 'What is Lattice?' }] },
          { asType: 'generation' },
        );
        generation.update({ output: { role: 'assistant', content: 'A data API server.' }, usageDetails: { input: 42, output: 7 }, costDetails: { input: 0.000063, output: 0.000042 } });
        generation.end();
        root.startObservation('cache-miss', { metadata: { key: 'lattice' }, level: 'WARNING', statusMessage: 'cold cache' }, { asType: 'event' });
      });
      root.update({ output: { answer: 'A data API server.' } });
    });
    await provider.forceFlush();
    const spans = [...memory.getFinishedSpans()];
    await provider.shutdown();
    return { traceId, spans };
  };

  /** What the Langfuse app's trace must read as (ids and times left out). */
  const expectLangfuseTrace = (trace: Record<string, any>, session: string) => {
    expect(trace).toMatchObject({
      name: 'qa',
      user_id: 'user-7',
      tags: ['docs', 'qa'],
      version: '1.2.0',
      environment: 'staging',
      input: { question: 'What is Lattice?' },
      output: { answer: 'A data API server.' },
      session: { external_id: session },
    });
    expect(trace.metadata).toMatchObject({ tenant: 'acme', resourceAttributes: { 'service.name': 'qa-bot', 'service.version': '1.2.0' } });
    expect(trace.observations).toHaveLength(1);
    const [root] = trace.observations;
    expect(root).toMatchObject({ name: 'handle-question', type: 'SPAN', level: 'DEFAULT', environment: 'staging', input: { question: 'What is Lattice?' }, output: { answer: 'A data API server.' } });
    expect(root.children.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([
      ['answer', 'GENERATION'],
      ['cache-miss', 'EVENT'],
      ['retrieve-docs', 'RETRIEVER'],
    ]);
    const [generation, event, retrieval] = root.children;
    expect(retrieval).toMatchObject({ input: { query: 'Lattice' }, output: { documents: ['README.md'] }, model: null });
    expect(generation).toMatchObject({
      model: 'gpt-4o-mini',
      model_parameters: { temperature: 0.2, max_tokens: 256 },
      input: [{ role: 'user', content: 'What is Lattice?' }],
      output: { role: 'assistant', content: 'A data API server.' },
      input_tokens: 42,
      output_tokens: 7,
      total_tokens: 49,
      input_cost: 0.000063,
      output_cost: 0.000042,
      children: [],
    });
    expect(generation.total_cost).toBeCloseTo(0.000105, 12);
    expect(event).toMatchObject({ level: 'WARNING', status_message: 'cold cache' });
    expect(event.metadata).toMatchObject({ key: 'lattice', scope: { name: 'langfuse-sdk' } });
    // Propagated trace attributes are trace fields; the observation keeps what was not mapped, never drops it.
    expect(generation.metadata.otel).toMatchObject({ kind: 'internal' });
    expect(generation.metadata.resourceAttributes).toEqual({ 'service.name': 'qa-bot', 'service.version': '1.2.0' });
  };

  it('Langfuse SDK, default OTLP/JSON exporter (batched): nested spans, a generation with usage and an update, read back through GraphQL', async () => {
    const processor = new LangfuseSpanProcessor({ publicKey: keys.public_key, secretKey: keys.secret_key, baseUrl, environment: 'staging', exportMode: 'batched' });
    received.length = 0;
    const { traceId } = await runLangfuseApp(processor, `session-json-${kind}`);
    expect(received).toEqual(['application/json']);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const trace = await readTrace(traceId);
    expectLangfuseTrace(trace, `session-json-${kind}`);
  });

  it('Langfuse SDK with the protobuf exporter and gzip, one export per span (children first): the same trace; a resent export changes nothing', async () => {
    const results: number[] = [];
    const exporter = recording(
      new ProtoExporter({ url: `${baseUrl}/api/public/otel/v1/traces`, headers: { Authorization: basic() }, compression: CompressionAlgorithm.GZIP }),
      results,
    );
    const processor = new LangfuseSpanProcessor({ exporter, environment: 'staging', exportMode: 'immediate' });
    received.length = 0;
    const { traceId, spans } = await runLangfuseApp(processor, `session-proto-${kind}`);
    expect(received).toEqual(Array(4).fill('application/x-protobuf gzip'));
    // Four spans, four exports, every one accepted; the root came last, after its children.
    expect(results).toEqual([ExportResultCode.SUCCESS, ExportResultCode.SUCCESS, ExportResultCode.SUCCESS, ExportResultCode.SUCCESS]);
    expect(spans.at(-1)!.name).toBe('handle-question');
    const first = await readTrace(traceId);
    expectLangfuseTrace(first, `session-proto-${kind}`);

    // The whole trace again, as one export: idempotent.
    const rows = await observationCount();
    const again: number[] = [];
    const resend = recording(new ProtoExporter({ url: `${baseUrl}/api/public/otel/v1/traces`, headers: { Authorization: basic() } }), again);
    await new Promise<void>((resolve) => resend.export(spans, () => resolve()));
    await resend.shutdown();
    expect(again).toEqual([ExportResultCode.SUCCESS]);
    expect(await observationCount()).toBe(rows);
    expect(await readTrace(traceId)).toEqual(first);
  });

  /** A chat call instrumented with OpenTelemetry's GenAI conventions only (no Langfuse attribute). */
  const genAiCall = (tracer: Tracer, attributes: Record<string, string | number>) =>
    tracer.startActiveSpan('chat gpt-4o-mini', { attributes }, (span) => {
      span.recordException(new RangeError('retrying after rate limit'));
      span.setStatus({ code: SpanStatusCode.OK });
      const id = span.spanContext().traceId;
      span.end();
      return id;
    });

  it('a plain OpenTelemetry GenAI span (OTLP/JSON + gzip) maps to a generation; unknown attributes stay in metadata', async () => {
    const results: number[] = [];
    const exporter = recording(new JsonExporter({ url: `${baseUrl}/api/public/otel/v1/traces`, headers: { Authorization: basic() }, compression: CompressionAlgorithm.GZIP }), results);
    const provider = new NodeTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'support-bot', 'deployment.environment.name': 'prod' }), spanProcessors: [new BatchSpanProcessor(exporter)] });
    const traceId = genAiCall(provider.getTracer('opentelemetry.instrumentation.openai_v2', '2.1b0'), {
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.request.temperature': 0.7,
      'gen_ai.request.max_tokens': 100,
      'gen_ai.usage.input_tokens': 25,
      'gen_ai.usage.output_tokens': 9,
      'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'Reset my password' }] }]),
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Use the reset link.' }], finish_reason: 'stop' }]),
      'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'Be brief.' }]),
      'app.ticket': 'T-17',
    });
    received.length = 0;
    await provider.forceFlush();
    await provider.shutdown();
    expect(results).toEqual([ExportResultCode.SUCCESS]);
    expect(received).toEqual(['application/json gzip']);

    const trace = await readTrace(traceId);
    // A root span names its trace; the resource gives the environment.
    expect(trace).toMatchObject({ name: 'chat gpt-4o-mini', environment: 'prod', user_id: null, session: null });
    const [generation] = trace.observations;
    expect(generation).toMatchObject({
      type: 'GENERATION',
      model: 'gpt-4o-mini-2024-07-18',
      model_parameters: { temperature: 0.7, max_tokens: 100 },
      input_tokens: 25,
      output_tokens: 9,
      total_tokens: 34,
      level: 'DEFAULT',
      environment: 'prod',
      input: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', parts: [{ type: 'text', content: 'Reset my password' }] },
      ],
      output: [{ role: 'assistant', parts: [{ type: 'text', content: 'Use the reset link.' }], finish_reason: 'stop' }],
      children: [{ type: 'EVENT', name: 'exception', level: 'ERROR', status_message: 'RangeError: retrying after rate limit' }],
    });
    // Attributes that are not fields are kept (the request model too, since the response model is the model).
    expect(generation.metadata.attributes).toEqual({ 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'app.ticket': 'T-17', 'gen_ai.request.model': 'gpt-4o-mini' });
    expect(generation.metadata.scope).toEqual({ name: 'opentelemetry.instrumentation.openai_v2', version: '2.1b0' });
    expect(generation.metadata.resourceAttributes).toMatchObject({ 'service.name': 'support-bot', 'deployment.environment.name': 'prod' });
    expect(generation.metadata.otel).toMatchObject({ kind: 'internal', status_code: 'ok' });
  });

  it('older GenAI attributes over protobuf: prompt/completion tokens and gen_ai.prompt / gen_ai.completion', async () => {
    const results: number[] = [];
    const exporter = recording(new ProtoExporter({ url: `${baseUrl}/api/public/otel/v1/traces`, headers: { Authorization: basic() } }), results);
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const traceId = genAiCall(provider.getTracer('opentelemetry.instrumentation.openai'), {
      'gen_ai.request.model': 'gpt-3.5-turbo',
      'gen_ai.usage.prompt_tokens': 11,
      'gen_ai.usage.completion_tokens': 4,
      'gen_ai.prompt.0.role': 'user',
      'gen_ai.prompt.0.content': 'Hi',
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.content': 'Hello!',
    });
    await provider.forceFlush();
    await provider.shutdown();
    expect(results).toEqual([ExportResultCode.SUCCESS]);
    expect(received.at(-1)).toBe('application/x-protobuf');
    const [generation] = (await readTrace(traceId)).observations;
    expect(generation).toMatchObject({
      type: 'GENERATION',
      model: 'gpt-3.5-turbo',
      input_tokens: 11,
      output_tokens: 4,
      total_tokens: 15,
      input: [{ role: 'user', content: 'Hi' }],
      output: [{ role: 'assistant', content: 'Hello!' }],
    });
    expect(generation.metadata.attributes ?? {}).toEqual({});
  });
});
