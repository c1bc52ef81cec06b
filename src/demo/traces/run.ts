/**
 * The traces demo: a small retrieval assistant over Lattice's own documentation that really runs, instrumented
 * with the plain OpenTelemetry SDK (`NodeTracerProvider`, `BatchSpanProcessor`, the OTLP/HTTP protobuf exporter)
 * and exported to a running Lattice at `POST /api/public/otel/v1/traces`, exactly as any instrumented application
 * would. Spans carry Langfuse's `langfuse.*` attributes (trace name, user, session, observation type, input,
 * output, model, usage and cost details). The automatic checks' scores are then sent through the generic batch
 * API (`POST /api/v1/ingest`, `score.create`): the Langfuse score routes take their project from the key, and
 * the key `lattice serve` creates on first start is an admin key that names its project separately.
 *
 * Per question: a root span `answer-question` with a retriever (`retrieve`, BM25 top {@link TOP_K}) and a
 * generation (`generate`, {@link DEMO_MODEL}) as children. Method and meaning of the numbers: docs/traces.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT_CONTEXT, trace as otelTrace, type Span } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { latticeRoot } from '../../package-root.js';
import { rowIdFor } from '../../traces/ids.js';
import { OTLP_TRACES_PATH, PROJECT_HEADER } from '../../traces/otlp-routes.js';
import { IngestClient, IngestError } from '../ingest-client.js';
import { Bm25Index, loadCorpus } from './corpus.js';
import { buildPrompt, DEMO_MODEL, DEMO_PRICES, generate, MAX_SENTENCES } from './generate.js';
import { keywordFound, QUESTIONS, type DemoQuestion } from './questions.js';

/** Chunks retrieved per question. */
export const TOP_K = 5;
/** Simulated users the questions are spread over (round robin). */
export const USERS = 4;
/** Consecutive questions of one user that form one session. */
export const SESSION_LENGTH = 2;

export interface TracesDemoOptions {
  /** Server origin, e.g. `http://127.0.0.1:4000`. */
  readonly baseUrl: string;
  /** Full `Authorization` header value of a key that may write. */
  readonly auth: string;
  /** Target project; required when the key is an admin key. */
  readonly projectId?: string;
  /** The repository whose README.md and docs/*.md are answered from (default: Lattice's own). */
  readonly rootDir?: string;
  /** The questions (default {@link QUESTIONS}); those whose document is absent are skipped. */
  readonly questions?: readonly DemoQuestion[];
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** What the demo sent, every number measured or computed while it ran. */
export interface TracesDemoSummary {
  readonly traces: number;
  readonly spans: number;
  readonly scores: number;
  readonly chunks: number;
  readonly documents: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** USD, from the stated demo price table. */
  readonly cost: number;
  /** Share of questions whose answering document is among the top 3 chunks' documents. */
  readonly hitAt3: number;
  /** Mean reciprocal rank of the answering document within the top {@link TOP_K}. */
  readonly meanReciprocalRank: number;
  /** Share of answers containing a reference keyword. */
  readonly keywordRate: number;
  readonly skippedQuestions: number;
}

/** The user of the i-th question, e.g. `demo-user-2`. */
export function userOf(i: number): string {
  return `demo-user-${(i % USERS) + 1}`;
}

/**
 * The session of the i-th question: each user's questions in runs of {@link SESSION_LENGTH}, e.g.
 * `demo-user-2-session-1-9f86d081`. `run` makes the ids of one demo run unique: session ids, like every client id
 * of the traces preset, are global, so a second run into another project must not reuse them.
 */
export function sessionOf(i: number, run: string): string {
  return `${userOf(i)}-session-${Math.floor(Math.floor(i / USERS) / SESSION_LENGTH) + 1}-${run}`;
}

/** The context of a span, for starting its children without a global context manager. */
const within = (span: Span) => otelTrace.setSpan(ROOT_CONTEXT, span);

/** One score to send, by client ids. */
interface PendingScore {
  readonly traceId: string;
  readonly spanId: string;
  readonly name: string;
  readonly value: number;
  readonly boolean: boolean;
  readonly comment: string;
}

/**
 * Run the assistant over the questions, export its spans over OTLP, and send the scores.
 *
 * @returns what was sent (all acknowledged by the server)
 * @throws Error when no document is found under `rootDir`, or the OTLP export fails (unreachable server, refused
 *         credentials, an error status)
 * @throws IngestError when the scores are refused — also the case when the spans they refer to were not stored
 */
export async function runTracesDemo(options: TracesDemoOptions): Promise<TracesDemoSummary> {
  const log = options.log ?? (() => {});
  const rootDir = options.rootDir ?? latticeRoot();
  const started = performance.now();
  const chunks = loadCorpus(rootDir);
  if (chunks.length === 0) throw new Error(`No README.md or docs/*.md under ${rootDir}: nothing to answer from.`);
  const index = new Bm25Index(chunks);
  const documents = new Set(chunks.map((c) => c.document));
  const indexMs = performance.now() - started;
  log(`indexed ${chunks.length} chunks of ${documents.size} documents with BM25 (${indexMs.toFixed(1)} ms)`);

  const all = options.questions ?? QUESTIONS;
  const questions = all.filter((q) => existsSync(path.join(rootDir, q.document)));
  if (questions.length < all.length) log(`skipped ${all.length - questions.length} questions whose document is not under ${rootDir}`);

  const run = randomBytes(4).toString('hex');
  const results: number[] = [];
  const exporter = new OTLPTraceExporter({
    url: `${options.baseUrl.replace(/\/+$/, '')}${OTLP_TRACES_PATH}`,
    headers: { authorization: options.auth, ...(options.projectId ? { [PROJECT_HEADER]: options.projectId } : {}) },
  });
  const exportSpans = exporter.export.bind(exporter);
  let exportError: Error | undefined;
  exporter.export = (spans, done) =>
    exportSpans(spans, (r) => {
      results.push(r.code);
      if (r.code !== ExportResultCode.SUCCESS) exportError ??= r.error ?? new Error('export failed');
      done(r);
    });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'lattice-docs-assistant', 'service.version': '1.0.0', 'deployment.environment.name': 'demo' }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 256, scheduledDelayMillis: 200 })],
  });
  const tracer = provider.getTracer('lattice-demo-traces', '1.0.0');

  let spans = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  let cost = 0;
  let hits = 0;
  let rrSum = 0;
  let keywordHits = 0;
  const scores: PendingScore[] = [];

  try {
    // The indexing of the documentation, timed, as its own trace.
    const indexSpan = tracer.startSpan('index-documentation', { startTime: performance.timeOrigin + started });
    indexSpan.setAttributes({
      'langfuse.trace.name': 'index-documentation',
      'langfuse.observation.type': 'span',
      'langfuse.observation.input': JSON.stringify({ documents: [...documents] }),
      'langfuse.observation.output': JSON.stringify({ chunks: chunks.length, vocabulary: index.vocabularySize }),
      'langfuse.observation.metadata.method': 'Okapi BM25',
      'langfuse.observation.metadata.k1': Bm25Index.K1,
      'langfuse.observation.metadata.b': Bm25Index.B,
    });
    indexSpan.end(performance.timeOrigin + started + indexMs);
    spans++;

    questions.forEach((q, i) => {
      const root = tracer.startSpan('answer-question');
      const traceId = root.spanContext().traceId;
      root.setAttributes({
        'langfuse.trace.name': 'docs-qa',
        'langfuse.user.id': userOf(i),
        'langfuse.session.id': sessionOf(i, run),
        'langfuse.trace.tags': ['docs-qa', 'demo'],
        'langfuse.trace.input': JSON.stringify({ question: q.question }),
        'langfuse.observation.type': 'chain',
      });

      const retrieval = tracer.startSpan('retrieve', {}, within(root));
      const found = index.search(q.question, TOP_K);
      retrieval.setAttributes({
        'langfuse.observation.type': 'retriever',
        'langfuse.observation.input': JSON.stringify({ query: q.question, k: TOP_K }),
        'langfuse.observation.output': JSON.stringify({ chunks: found.map((h) => ({ id: h.chunk.id, document: h.chunk.document, score: Number(h.score.toFixed(4)) })) }),
        'langfuse.observation.metadata.method': 'Okapi BM25',
      });
      retrieval.end();

      const generation = tracer.startSpan('generate', {}, within(root));
      const prompt = buildPrompt(q.question, found);
      const g = generate(index, q.question, found, prompt);
      generation.setAttributes({
        'langfuse.observation.type': 'generation',
        'langfuse.observation.model.name': DEMO_MODEL,
        'langfuse.observation.model.parameters': JSON.stringify({ max_sentences: MAX_SENTENCES, context_chunks: found.length }),
        'langfuse.observation.input': prompt,
        'langfuse.observation.output': g.answer,
        'langfuse.observation.usage_details': JSON.stringify({ input: g.inputTokens, output: g.outputTokens, total: g.inputTokens + g.outputTokens }),
        'langfuse.observation.cost_details': JSON.stringify({ input: g.inputCost, output: g.outputCost, total: g.inputCost + g.outputCost }),
        'langfuse.observation.metadata.price_table': `demo prices: $${DEMO_PRICES.input * 1e6} / 1M input tokens, $${DEMO_PRICES.output * 1e6} / 1M output tokens (stated, not a bill)`,
        'langfuse.observation.metadata.sources': JSON.stringify(g.sources),
      });
      generation.end();

      root.setAttributes({
        'langfuse.trace.output': JSON.stringify({ answer: g.answer, sources: g.sources }),
        'langfuse.observation.output': JSON.stringify({ answer: g.answer }),
      });
      root.end();
      spans += 3;

      // The automatic checks.
      const rank = found.findIndex((h) => h.chunk.document === q.document) + 1;
      const hit = rank >= 1 && rank <= 3;
      const keyword = keywordFound(g.answer, q);
      const retrievalId = retrieval.spanContext().spanId;
      const generationId = generation.spanContext().spanId;
      scores.push(
        { traceId, spanId: retrievalId, name: 'retrieval_hit@3', value: hit ? 1 : 0, boolean: true, comment: `answering document ${q.document} ${rank ? `at rank ${rank}` : `not in the top ${TOP_K}`}` },
        { traceId, spanId: retrievalId, name: 'retrieval_reciprocal_rank', value: rank ? 1 / rank : 0, boolean: false, comment: `1 / rank of the first chunk of ${q.document} in the top ${TOP_K} (0 when absent)` },
        { traceId, spanId: generationId, name: 'answer_keyword', value: keyword ? 1 : 0, boolean: true, comment: keyword ? `contains "${keyword}"` : `contains none of: ${q.keywords.join(', ')}` },
      );
      inputTokens += g.inputTokens;
      outputTokens += g.outputTokens;
      cost += g.inputCost + g.outputCost;
      if (hit) hits++;
      rrSum += rank ? 1 / rank : 0;
      if (keyword) keywordHits++;
    });
    // A failed export rejects the flush with the exporter's error; it is reported below with its HTTP status.
    await provider.forceFlush().catch((err: Error) => void (exportError ??= err));
  } finally {
    await provider.shutdown();
  }
  if (exportError) {
    const code = (exportError as Error & { code?: number }).code;
    const detail = [code ? `HTTP ${code}` : '', exportError.message].filter(Boolean).join(' ') || exportError.name;
    const hint = code === 401 || code === 403 ? ' (check the key, and the project for an admin key)' : '';
    throw new Error(`The OTLP export to ${options.baseUrl} failed: ${detail}${hint}`);
  }
  log(`exported ${spans} spans of ${questions.length + 1} traces over OTLP/HTTP protobuf in ${results.length} requests`);

  const client = new IngestClient({ baseUrl: options.baseUrl, auth: options.auth });
  const now = new Date().toISOString();
  for (const s of scores) {
    const id = rowIdFor('score', `${s.traceId}:${s.spanId}:${s.name}`);
    await client.add({
      id,
      type: 'score.create',
      body: {
        id,
        ...(options.projectId ? { project_id: options.projectId } : {}),
        external_id: id,
        trace_id: rowIdFor('trace', s.traceId),
        observation_id: rowIdFor('observation', s.spanId),
        name: s.name,
        value: s.value,
        ...(s.boolean ? { string_value: s.value ? 'true' : 'false' } : {}),
        data_type: s.boolean ? 'BOOLEAN' : 'NUMERIC',
        source: 'EVAL',
        comment: s.comment,
        timestamp: now,
      },
    });
  }
  try {
    await client.flush();
  } catch (err) {
    if (err instanceof IngestError && err.failures.some((f) => f.status === 422)) {
      throw new IngestError(`${err.message} (the spans these scores refer to were not stored: check the server log)`, err.failures, err.status);
    }
    throw err;
  }
  const n = questions.length || 1;
  const summary: TracesDemoSummary = {
    traces: questions.length + 1,
    spans,
    scores: scores.length,
    chunks: chunks.length,
    documents: documents.size,
    inputTokens,
    outputTokens,
    cost,
    hitAt3: hits / n,
    meanReciprocalRank: rrSum / n,
    keywordRate: keywordHits / n,
    skippedQuestions: all.length - questions.length,
  };
  log(
    `${questions.length} questions: retrieval hit@3 ${summary.hitAt3.toFixed(2)}, MRR@${TOP_K} ${summary.meanReciprocalRank.toFixed(2)}, ` +
      `answers with a reference keyword ${summary.keywordRate.toFixed(2)}; ${inputTokens} input + ${outputTokens} output tokens (o200k_base), ` +
      `$${cost.toFixed(6)} at the stated demo prices (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  return summary;
}

