/**
 * OTLP spans → the traces store's normalized records (`records.ts`, written by `store.ts`; SPEC R-6): the mapping
 * Langfuse's OTel ingestion applies (learned from langfuse/langfuse `OtelIngestionProcessor.ts`, not copied), on
 * the traces preset. Every span gives a trace record, an observation record, and one per remaining span event.
 *
 * - **Trace** (by OTel trace id; created on first sight, merged afterwards by the store: earliest timestamp,
 *   metadata merged by key, tags united, other fields last written). Any span may set trace-level attributes:
 *   `langfuse.trace.name`, user (`langfuse.user.id`, `user.id`), session (`langfuse.session.id`, `session.id`,
 *   `gen_ai.conversation.id`), `langfuse.trace.tags`, `langfuse.trace.public`, `langfuse.trace.metadata[.*]`,
 *   `langfuse.trace.input` / `.output`, `langfuse.release`, `langfuse.version`, `langfuse.environment`
 *   (also `deployment.environment[.name]`). A root span (no parent, or `langfuse.internal.as_root`) also sets, as
 *   Langfuse does, the trace name (its own name unless `langfuse.trace.name` is given), input and output (its own
 *   unless `langfuse.trace.input` / `.output` are given), release and version from its resource (`langfuse.release`,
 *   `service.version`), and the resource attributes as `metadata.resourceAttributes`.
 * - **Observation** per span: id = span id, parent = parent span id (the store creates a placeholder for a
 *   parent not seen yet: OpenTelemetry exports children before their parents, and the parent's own span merges
 *   into it later), type / model / usage / cost / parameters (`otlp-attributes.ts`), input / output (`otlp-io.ts`),
 *   start and end from the nanosecond timestamps (microseconds kept), `completion_start_time` from
 *   `langfuse.observation.completion_start_time`, level from `langfuse.observation.level`, else ERROR for status
 *   code ERROR, else DEFAULT; status message from `langfuse.observation.status_message`, else the span status.
 *   `metadata` = the user metadata (`langfuse.observation.metadata[.*]`, `langfuse.metadata`) at the top level
 *   (as Langfuse answers it), plus `attributes` (every attribute not turned into a field), `resourceAttributes`,
 *   `scope` (`{ name, version, attributes }`) and `otel` (span id, parent span id, kind, status code, trace
 *   state, flags, links, dropped counts): nothing the client sent is dropped. These keys win over user metadata
 *   keys of the same name.
 * - **Span events** (decision): each event not read as the span's input or output (GenAI message events) becomes
 *   an EVENT observation, a child of its span, with id `<span id>-event-<index>` (stable, so a resent span
 *   changes nothing), start time = the event time, its attributes in `metadata.attributes`; an `exception` event
 *   has level ERROR and `exception.type: exception.message` as status message. Events thus appear in the
 *   observation tree like Langfuse SDK events, and exceptions are visible without opening metadata.
 */
import {
  AttributeBag,
  explicitLevel,
  isoTime,
  jsonObject,
  modelName,
  modelParameters,
  observationType,
  parseJsonish,
  prefixedMetadata,
  tags,
  usageAndCost,
} from './otlp-attributes.js';
import { inputOutput } from './otlp-io.js';
import type { Attributes, OtlpSpan } from './otlp-spans.js';
import type { ObservationRecord, TraceRecord } from './records.js';

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];

/**
 * Nanoseconds since the Unix epoch → ISO-8601 with microseconds (PostgreSQL's `timestamptz` precision).
 * @param nanos non-negative
 */
export function nanosToIso(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const micros = Math.floor(Number(nanos % 1_000_000n) / 1000); // 0–999
  // The spans of an export are close in time: the text up to the second is reused while the second repeats.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecondText = new Date(second * 1000).toISOString().slice(0, -4); // "YYYY-MM-DDTHH:MM:SS."
    lastSecond = second;
  }
  const milli = ms - second * 1000; // 0–999
  return `${lastSecondText}${pad3(milli)}${pad3(micros)}Z`;
}

let lastSecond = Number.NaN;
let lastSecondText = '';

/** 0–999 as three digits. */
function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

/** The records of one span: its trace's contribution and its observations (the span, then its events). */
export interface SpanRecords {
  readonly trace: TraceRecord;
  readonly observations: ObservationRecord[];
}

/** A mutable record while it is assembled. */
type Draft<T> = { -readonly [K in keyof T]: T[K] };

/** The first non-empty text among span attributes (used), else among resource attributes when `useResource`. */
function fromSpanOrResource(bag: AttributeBag, resource: Attributes, useResource: boolean, keys: string[], resourceKeys: string[] = keys): string | undefined {
  const own = bag.takeString(...keys);
  return own !== undefined || !useResource ? own : resourceValue(resource, resourceKeys);
}

/** Only the defined entries of `o`. */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as Partial<T>;
}

/**
 * Map one span (see the module comment).
 * @returns the trace record and the observation records (the span's, then its events'), with client ids
 */
export function mapSpan(span: OtlpSpan): SpanRecords {
  const bag = new AttributeBag(span.attributes);
  const asRoot = bag.take('langfuse.internal.as_root');
  const root = span.parentSpanId === null || asRoot === true || asRoot === 'true';
  const start = nanosToIso(span.startNanos);
  const publicFlag = bag.take('langfuse.trace.public');

  // Trace-level attributes.
  const traceMetadata: Record<string, unknown> = prefixedMetadata(bag, 'langfuse.trace.metadata');
  const trace: Draft<TraceRecord> = {
    kind: 'trace',
    id: span.traceId,
    timestamp: start,
    ...defined({
      name: bag.takeString('langfuse.trace.name'),
      userId: bag.takeString('langfuse.user.id', 'user.id'),
      sessionId: bag.takeString('langfuse.session.id', 'session.id', 'gen_ai.conversation.id'),
      tags: tags(bag.take('langfuse.trace.tags')),
      public: publicFlag === undefined ? undefined : publicFlag === true || publicFlag === 'true',
      input: parseJsonish(bag.take('langfuse.trace.input')),
      output: parseJsonish(bag.take('langfuse.trace.output')),
      release: fromSpanOrResource(bag, span.resource, root, ['langfuse.release']),
      version: fromSpanOrResource(bag, span.resource, root, ['langfuse.version'], ['langfuse.version', 'service.version']),
      environment: fromSpanOrResource(bag, span.resource, true, ENVIRONMENT_KEYS),
    }),
  };

  // Observation fields.
  const type = observationType(bag);
  const io = inputOutput(bag, span.events);
  const model = modelName(bag);
  const parameters = modelParameters(bag);
  const spent = usageAndCost(bag);
  const completionStart = isoTime(bag.peek('langfuse.observation.completion_start_time'));
  if (completionStart) bag.take('langfuse.observation.completion_start_time');
  const level = explicitLevel(bag) ?? (span.status.code === 2 ? 'ERROR' : 'DEFAULT');
  const statusMessage = bag.takeString('langfuse.observation.status_message') ?? (span.status.message || undefined);
  const observationMetadata = prefixedMetadata(bag, 'langfuse.observation.metadata');
  const plainMetadata = jsonObject(bag.peek('langfuse.metadata'));
  if (plainMetadata) bag.take('langfuse.metadata');
  const prompt = promptOf(bag);

  if (root) {
    trace.name ??= span.name || undefined;
    if (trace.input === undefined && io.input !== undefined) trace.input = io.input;
    if (trace.output === undefined && io.output !== undefined) trace.output = io.output;
    if (Object.keys(span.resource).length) traceMetadata.resourceAttributes = span.resource;
  }
  if (Object.keys(traceMetadata).length) trace.metadata = traceMetadata;
  if (trace.name === undefined) delete trace.name;

  // Optional keys are added in place (no temporary objects per span), in this order.
  const otel: Record<string, unknown> = { trace_id: span.traceId, span_id: span.spanId };
  if (span.parentSpanId) otel.parent_span_id = span.parentSpanId;
  otel.kind = KINDS[span.kind] ?? String(span.kind);
  if (span.status.code) otel.status_code = STATUS[span.status.code] ?? String(span.status.code);
  if (span.traceState) otel.trace_state = span.traceState;
  if (span.flags) otel.flags = span.flags;
  if (span.links.length) otel.links = span.links;
  if (span.dropped.attributes) otel.dropped_attributes_count = span.dropped.attributes;
  if (span.dropped.events) otel.dropped_events_count = span.dropped.events;
  if (span.dropped.links) otel.dropped_links_count = span.dropped.links;
  const scope: Record<string, unknown> = { name: span.scope.name };
  if (span.scope.version) scope.version = span.scope.version;
  if (hasKeys(span.scope.attributes)) scope.attributes = span.scope.attributes;
  const attributes = bag.rest();
  const version = trace.version ?? resourceValue(span.resource, ['langfuse.version', 'service.version']);
  const environment = trace.environment ?? null;

  const observation: ObservationRecord = {
    kind: 'observation',
    id: span.spanId,
    traceId: span.traceId,
    parentObservationId: span.parentSpanId,
    type,
    name: span.name,
    startTime: start,
    endTime: span.endNanos > 0n ? nanosToIso(span.endNanos) : null,
    completionStartTime: completionStart ?? null,
    model: model ?? null,
    modelParameters: parameters ?? null,
    input: io.input ?? null,
    output: io.output ?? null,
    metadata: observationMetadataOf(plainMetadata, observationMetadata, attributes, span.resource, scope, otel),
    level,
    statusMessage: statusMessage ?? null,
    version: version ?? null,
    environment,
    inputTokens: null,
    outputTokens: null,
    totalTokens: null,
    usageDetails: null,
    inputCost: null,
    outputCost: null,
    totalCost: null,
    costDetails: null,
    ...spent,
    ...prompt,
  };

  const events = span.events.flatMap((e, i): ObservationRecord[] => {
    if (io.usedEvents.has(i)) return [];
    const exception = e.name === 'exception';
    const exceptionText = exception
      ? [e.attributes['exception.type'], e.attributes['exception.message']].filter((x) => typeof x === 'string' && x).join(': ')
      : '';
    return [
      {
        kind: 'observation',
        id: `${span.spanId}-event-${i}`,
        traceId: span.traceId,
        parentObservationId: span.spanId,
        type: 'EVENT',
        name: e.name,
        startTime: e.timeNanos > 0n ? nanosToIso(e.timeNanos) : start,
        endTime: null,
        metadata: {
          ...(Object.keys(e.attributes).length ? { attributes: e.attributes } : {}),
          otel: { span_id: span.spanId, event_index: i, ...(e.droppedAttributesCount ? { dropped_attributes_count: e.droppedAttributesCount } : {}) },
        },
        level: exception ? 'ERROR' : 'DEFAULT',
        statusMessage: exceptionText || null,
        version: version ?? null,
        environment,
      },
    ];
  });
  return { trace, observations: [observation, ...events] };
}

/**
 * An observation's `metadata`: the user metadata, then `attributes` and `resourceAttributes` when not empty,
 * `scope` and `otel` (these win over user keys of the same name, which keep their place).
 */
function observationMetadataOf(
  plain: Record<string, unknown> | undefined,
  user: Record<string, unknown>,
  attributes: Attributes,
  resource: Attributes,
  scope: Record<string, unknown>,
  otel: Record<string, unknown>,
): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...plain, ...user };
  if (hasKeys(attributes)) metadata.attributes = attributes;
  if (hasKeys(resource)) metadata.resourceAttributes = resource;
  metadata.scope = scope;
  metadata.otel = otel;
  return metadata;
}

/** True when `o` has an own enumerable key (without listing them). */
function hasKeys(o: object): boolean {
  for (const _ in o) if (Object.prototype.hasOwnProperty.call(o, _)) return true;
  return false;
}

const ENVIRONMENT_KEYS = ['langfuse.environment', 'deployment.environment.name', 'deployment.environment'];

/** The first non-empty text among resource attributes. */
function resourceValue(resource: Attributes, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = resource[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/**
 * The prompt a generation used (`langfuse.observation.prompt.name` / `.version`; the store links it when the
 * project has that version). The attributes also stay in `metadata.attributes`, since the link may not exist.
 */
function promptOf(bag: AttributeBag): Pick<ObservationRecord, 'promptName' | 'promptVersion'> {
  const name = bag.peek('langfuse.observation.prompt.name');
  const version = Number(bag.peek('langfuse.observation.prompt.version'));
  return typeof name === 'string' && name && Number.isInteger(version) ? { promptName: name, promptVersion: version } : {};
}
