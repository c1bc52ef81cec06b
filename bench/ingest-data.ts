/**
 * The ingestion benchmark's data (`ingest.ts`), generated deterministically before anything is timed: the same
 * rows as COPY text-format chunks and as the request bodies of every HTTP path, already serialised.
 *
 * - **Metrics** (experiments preset): row i belongs to run `i mod runs` (and that run's trial), key cycles
 *   over train_loss / test_loss / test_accuracy, step = ⌊i / 3⌋ mod 1000, a value from a closed formula.
 *   Sent to `POST /api/v1/ingest` as `metric.create` events with the row id in the body.
 * - **Observations** (traces preset): traces of `OBSERVATIONS_PER_TRACE` observations — a root SPAN and
 *   generations under it with model, token usage, input and output. Sent to `POST /api/public/ingestion` as
 *   `span-create` / `generation-create` events (UUID ids, as the v3 SDK sends), and to
 *   `POST /api/public/otel/v1/traces` as OTLP protobuf spans (Langfuse and GenAI attributes, as the Langfuse
 *   OpenTelemetry exporter sends), one export request per batch. COPY loads the trace rows and the same
 *   observation rows (in the Langfuse route's ids) on one connection.
 *
 * Ids are UUID v7 shaped (time prefix from the row index, so index inserts stay local like a real client's).
 */
import { encodeExportRequest } from '../src/traces/otlp-decode.js';
import { copyChunks, copyRow } from './copy.js';

/** Observations per trace: one root span and its generations. */
export const OBSERVATIONS_PER_TRACE = 10;

const BASE_MS = Date.UTC(2026, 2, 1, 10, 0, 0);
const KEYS = ['train_loss', 'test_loss', 'test_accuracy'] as const;
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku'] as const;

/**
 * A deterministic UUID v7-shaped id: 48-bit time prefix BASE_MS + i, version 7, a tag per kind of row.
 * @param tag 0–15, distinguishes row kinds with the same index
 */
export function benchUuid(tag: number, i: number): string {
  const t = (BASE_MS + i).toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${tag.toString(16)}00-8000-${i.toString(16).padStart(12, '0')}`;
}

/** A parent run of the metric rows. */
export interface MetricParent {
  readonly runId: string;
  readonly trialId: string;
}

/** The same metric rows, ready for each path. */
export interface MetricData {
  readonly rows: number;
  /** COPY text chunks of columns `METRIC_COPY_COLUMNS`. */
  readonly copyChunks: Buffer[];
  /** `{ batch }` bodies of `POST /api/v1/ingest`, serialised. */
  readonly restBodies: string[];
  /** Events per body. */
  readonly restCounts: number[];
}

export const METRIC_COPY_COLUMNS = ['id', 'project_id', 'trial_id', 'run_id', 'key', 'value', 'step'] as const;

/**
 * Generate `rows` metric rows of one project over the given runs.
 * @param parents at least one run with its trial
 * @param batchSize events per ingestion request (≤ 1,000, Lattice's limit)
 */
export function metricData(rows: number, projectId: string, parents: readonly MetricParent[], batchSize: number): MetricData {
  if (parents.length === 0) throw new Error('metricData needs at least one run');
  const lines: string[] = [];
  const bodies: string[] = [];
  const counts: number[] = [];
  let batch: unknown[] = [];
  for (let i = 0; i < rows; i++) {
    const p = parents[i % parents.length];
    const step = Math.floor(i / 3) % 1000;
    const key = KEYS[i % 3];
    const value = key === 'test_accuracy' ? 1 - 0.6 * Math.exp(-step / 100) : Math.exp(-step / 150) + 0.01 * (i % 7);
    const id = benchUuid(1, i);
    lines.push(copyRow([id, projectId, p.trialId, p.runId, key, value, step]));
    batch.push({ id: `m-${i}`, type: 'metric.create', body: { id, trial_id: p.trialId, run_id: p.runId, key, value, step } });
    if (batch.length === batchSize || i === rows - 1) {
      bodies.push(JSON.stringify({ batch }));
      counts.push(batch.length);
      batch = [];
    }
  }
  return { rows, copyChunks: copyChunks(lines), restBodies: bodies, restCounts: counts };
}

/** One observation as every path describes it. */
interface Observation {
  readonly i: number;
  readonly trace: number;
  readonly root: boolean;
  readonly id: string;
  readonly traceId: string;
  readonly parentId: string | null;
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly model: string | null;
  readonly input: unknown;
  readonly output: unknown;
  readonly usage: { input: number; output: number; total: number } | null;
}

function observation(i: number): Observation {
  const trace = Math.floor(i / OBSERVATIONS_PER_TRACE);
  const j = i % OBSERVATIONS_PER_TRACE;
  const traceStart = BASE_MS + trace * 1000;
  const root = j === 0;
  const inputTokens = 100 + ((i * 37) % 900);
  const outputTokens = 20 + ((i * 13) % 200);
  return {
    i,
    trace,
    root,
    id: benchUuid(3, i),
    traceId: benchUuid(2, trace),
    parentId: root ? null : benchUuid(3, trace * OBSERVATIONS_PER_TRACE),
    name: root ? 'agent-run' : `llm-call-${j}`,
    start: root ? traceStart : traceStart + j * 80,
    end: root ? traceStart + 900 : traceStart + j * 80 + 60,
    model: root ? null : MODELS[i % MODELS.length],
    input: root ? { question: `Question ${trace}` } : [{ role: 'user', content: `Question ${trace}, step ${j}` }],
    output: root ? { answer: `Answer ${trace}` } : { role: 'assistant', content: `Answer ${trace}, step ${j}` },
    usage: root ? null : { input: inputTokens, output: outputTokens, total: inputTokens + outputTokens },
  };
}

/** The same observation rows, ready for each path. */
export interface ObservationData {
  readonly rows: number;
  readonly traces: number;
  /** COPY text chunks of `TRACE_COPY_COLUMNS` (all traces) … */
  readonly traceCopyChunks: Buffer[];
  /** … and of `OBSERVATION_COPY_COLUMNS`. */
  readonly observationCopyChunks: Buffer[];
  /** `{ batch }` bodies of `POST /api/public/ingestion`, serialised. */
  readonly langfuseBodies: string[];
  /** OTLP `ExportTraceServiceRequest`s, protobuf-encoded. */
  readonly otlpBodies: Buffer[];
  /** Observations per body (the same for both routes). */
  readonly counts: number[];
}

export const TRACE_COPY_COLUMNS = ['id', 'project_id', 'external_id', 'name', 'timestamp'] as const;
export const OBSERVATION_COPY_COLUMNS = [
  'id', 'project_id', 'external_id', 'trace_id', 'parent_id', 'type', 'name', 'start_time', 'end_time', 'model',
  'input', 'output', 'input_tokens', 'output_tokens', 'total_tokens', 'usage_details',
] as const;

const iso = (ms: number): string => new Date(ms).toISOString();
const nanos = (ms: number): string => `${BigInt(ms) * 1_000_000n}`;
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
const intAttr = (key: string, value: number) => ({ key, value: { intValue: value } });

/** OTLP span of an observation: ids in OpenTelemetry's hex form, Langfuse and GenAI attributes. */
function otlpSpan(o: Observation) {
  const spanId = (n: number) => `a${(n + 1).toString(16).padStart(15, '0')}`; // never all zeros (invalid)
  const attributes: { key: string; value: Record<string, unknown> }[] = [
    str('langfuse.observation.type', o.root ? 'span' : 'generation'),
    str('langfuse.observation.input', JSON.stringify(o.input)),
    str('langfuse.observation.output', JSON.stringify(o.output)),
  ];
  if (o.model) attributes.push(str('gen_ai.request.model', o.model));
  if (o.usage) attributes.push(intAttr('gen_ai.usage.input_tokens', o.usage.input), intAttr('gen_ai.usage.output_tokens', o.usage.output));
  return {
    traceId: o.traceId.replaceAll('-', ''),
    spanId: spanId(o.i),
    ...(o.parentId ? { parentSpanId: spanId(o.trace * OBSERVATIONS_PER_TRACE) } : {}),
    name: o.name,
    kind: 1,
    startTimeUnixNano: nanos(o.start),
    endTimeUnixNano: nanos(o.end),
    attributes,
  };
}

/**
 * Generate `rows` observations (traces of `OBSERVATIONS_PER_TRACE`, parents first) of one project.
 * @param batchSize observations per request (≤ 1,000)
 */
export function observationData(rows: number, projectId: string, batchSize: number): ObservationData {
  const traceLines: string[] = [];
  const obsLines: string[] = [];
  const langfuse: string[] = [];
  const otlp: Buffer[] = [];
  const counts: number[] = [];
  let events: unknown[] = [];
  let spans: unknown[] = [];
  for (let i = 0; i < rows; i++) {
    const o = observation(i);
    if (o.root) traceLines.push(copyRow([o.traceId, projectId, o.traceId, null, iso(o.start)]));
    obsLines.push(
      copyRow([
        o.id, projectId, o.id, o.traceId, o.parentId, o.root ? 'SPAN' : 'GENERATION', o.name, iso(o.start), iso(o.end), o.model,
        o.input, o.output, o.usage?.input ?? null, o.usage?.output ?? null, o.usage?.total ?? null, o.usage,
      ]),
    );
    const body: Record<string, unknown> = {
      id: o.id,
      traceId: o.traceId,
      name: o.name,
      startTime: iso(o.start),
      endTime: iso(o.end),
      input: o.input,
      output: o.output,
    };
    if (o.parentId) body.parentObservationId = o.parentId;
    if (o.model) body.model = o.model;
    if (o.usage) body.usage = { input: o.usage.input, output: o.usage.output, total: o.usage.total, unit: 'TOKENS' };
    events.push({ id: benchUuid(4, i), type: o.root ? 'span-create' : 'generation-create', timestamp: iso(o.start), body });
    spans.push(otlpSpan(o));
    if (events.length === batchSize || i === rows - 1) {
      langfuse.push(JSON.stringify({ batch: events, metadata: { sdk_name: 'lattice-bench' } }));
      otlp.push(
        encodeExportRequest({
          resourceSpans: [{ resource: { attributes: [str('service.name', 'lattice-bench')] }, scopeSpans: [{ scope: { name: 'lattice-bench' }, spans }] }],
        }),
      );
      counts.push(events.length);
      events = [];
      spans = [];
    }
  }
  return {
    rows,
    traces: traceLines.length,
    traceCopyChunks: copyChunks(traceLines),
    observationCopyChunks: copyChunks(obsLines),
    langfuseBodies: langfuse,
    otlpBodies: otlp,
    counts,
  };
}
