/**
 * Normalized tracing records: what every ingestion route of the traces preset (the Langfuse batch API
 * `langfuse-ingestion.ts`, `POST /api/public/scores`, the OTLP endpoint) turns its input into before writing
 * through `store.ts`. Field names are Langfuse's (camelCase), ids are the client's own (any non-empty text;
 * `ids.ts` maps them to row UUIDs), timestamps are ISO-8601 strings with a zone offset.
 *
 * Merge semantics (the same for every route): a key that is absent (or `undefined`) leaves the stored value
 * unchanged; `null` clears it. Several records for the same id — in one batch or over time — merge into one row
 * (see `store-sql.ts` for the per-column rules: earliest timestamp, metadata merged by key, tags united).
 */
import type { MergeRule } from './store-sql.js';

/** A trace (Langfuse `trace-create`; an OpenTelemetry trace's root attributes). */
export interface TraceRecord {
  readonly kind: 'trace';
  readonly id: string;
  /** When the trace started (the earliest given value is kept). A new trace without one gets "now". */
  readonly timestamp?: string;
  readonly name?: string | null;
  readonly userId?: string | null;
  /** The application's session id (a session row is created in the trace's project when new). */
  readonly sessionId?: string | null;
  readonly release?: string | null;
  readonly version?: string | null;
  readonly environment?: string | null;
  readonly tags?: readonly string[] | null;
  readonly public?: boolean | null;
  readonly bookmarked?: boolean | null;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly metadata?: unknown;
}

/** The observation types of the traces preset (Langfuse's spelling). */
export type ObservationType = 'SPAN' | 'GENERATION' | 'EVENT' | 'AGENT' | 'TOOL' | 'CHAIN' | 'RETRIEVER' | 'EVALUATOR' | 'EMBEDDING' | 'GUARDRAIL';

/** A span, generation or event (Langfuse `span-*`, `generation-*`, `event-create`; an OpenTelemetry span). */
export interface ObservationRecord {
  readonly kind: 'observation';
  readonly id: string;
  /** The trace (created as a placeholder when it does not exist yet). Never changed once stored. */
  readonly traceId: string;
  /** The parent observation (created as a placeholder in the same trace when it does not exist yet). */
  readonly parentObservationId?: string | null;
  readonly type?: ObservationType;
  readonly name?: string | null;
  /** The earliest given value is kept. */
  readonly startTime?: string | null;
  readonly endTime?: string | null;
  readonly completionStartTime?: string | null;
  readonly model?: string | null;
  readonly modelParameters?: unknown;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly metadata?: unknown;
  readonly level?: 'DEBUG' | 'DEFAULT' | 'WARNING' | 'ERROR';
  readonly statusMessage?: string | null;
  readonly version?: string | null;
  readonly environment?: string | null;
  /** Token counts (integers ≥ 0, below 2^31). */
  readonly inputTokens?: number | null;
  readonly outputTokens?: number | null;
  readonly totalTokens?: number | null;
  /** Units by kind as sent (`input`, `output`, `cache_read_input_tokens`, …). */
  readonly usageDetails?: Readonly<Record<string, number>> | null;
  /** Costs in USD. */
  readonly inputCost?: number | null;
  readonly outputCost?: number | null;
  readonly totalCost?: number | null;
  readonly costDetails?: Readonly<Record<string, number>> | null;
  /** The prompt version a generation used: linked when the project has that name and version, else ignored. */
  readonly promptName?: string | null;
  readonly promptVersion?: number | null;
}

/** A score of a trace, an observation (give its `traceId` too) or a session. */
export interface ScoreRecord {
  readonly kind: 'score';
  readonly id: string;
  readonly traceId?: string | null;
  readonly observationId?: string | null;
  readonly sessionId?: string | null;
  readonly name: string;
  /** The numeric value (boolean scores: 1 or 0; categorical scores: null). */
  readonly value?: number | null;
  /** The category (categorical scores) or "True"/"False" (boolean scores). */
  readonly stringValue?: string | null;
  readonly dataType?: 'NUMERIC' | 'BOOLEAN' | 'CATEGORICAL';
  readonly source?: 'API' | 'EVAL' | 'ANNOTATION';
  readonly comment?: string | null;
  /** Kept from the first write. A new score without one gets "now". */
  readonly timestamp?: string;
  readonly environment?: string | null;
  readonly configId?: string | null;
  readonly metadata?: unknown;
}

/** A session's own attributes (sessions named by traces and scores are created without a record). */
export interface SessionRecord {
  readonly kind: 'session';
  readonly id: string;
  readonly environment?: string | null;
  readonly metadata?: unknown;
}

export type TraceStoreRecord = TraceRecord | ObservationRecord | ScoreRecord | SessionRecord;

/** The entities the store writes, in write order (parents first). */
export const STORE_ENTITIES = ['session', 'trace', 'observation', 'score'] as const;
export type StoreEntity = (typeof STORE_ENTITIES)[number];

/** Record field → column, per entity (references and prompt links are resolved by the store). */
export const COLUMNS: Readonly<Record<StoreEntity, Readonly<Record<string, string>>>> = {
  session: { environment: 'environment', metadata: 'metadata' },
  trace: {
    timestamp: 'timestamp', name: 'name', userId: 'user_id', release: 'release', version: 'version', environment: 'environment',
    tags: 'tags', public: 'public', bookmarked: 'bookmarked', input: 'input', output: 'output', metadata: 'metadata',
  },
  observation: {
    type: 'type', name: 'name', startTime: 'start_time', endTime: 'end_time', completionStartTime: 'completion_start_time',
    model: 'model', modelParameters: 'model_parameters', input: 'input', output: 'output', metadata: 'metadata', level: 'level',
    statusMessage: 'status_message', version: 'version', environment: 'environment', inputTokens: 'input_tokens',
    outputTokens: 'output_tokens', totalTokens: 'total_tokens', usageDetails: 'usage_details', inputCost: 'input_cost',
    outputCost: 'output_cost', totalCost: 'total_cost', costDetails: 'cost_details',
  },
  score: {
    name: 'name', value: 'value', stringValue: 'string_value', dataType: 'data_type', source: 'source', comment: 'comment',
    timestamp: 'timestamp', environment: 'environment', configId: 'config_id', metadata: 'metadata',
  },
};

/** Merge rules per entity (Langfuse keeps ids, a trace's timestamp, an observation's trace and start). */
export const RULES: Readonly<Record<StoreEntity, Readonly<Record<string, MergeRule>>>> = {
  session: { external_id: 'keep', metadata: 'merge_object' },
  trace: { external_id: 'keep', timestamp: 'least', metadata: 'merge_object', tags: 'union' },
  observation: { external_id: 'keep', trace_id: 'keep', start_time: 'least', metadata: 'merge_object' },
  score: { external_id: 'keep', trace_id: 'keep', observation_id: 'keep', session_id: 'keep', timestamp: 'keep', metadata: 'merge_object' },
};

/**
 * Merge column values of two records of the same row, as the database would (`store-sql.ts`), later `b` over
 * earlier `a`: `keep` keeps `a`'s value, `least` the earlier time, `merge_object` merges objects by key,
 * `union` unites arrays (sorted), `set` takes `b`'s.
 */
export function mergeValues(rules: Readonly<Record<string, MergeRule>>, a: Record<string, unknown>, b: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return mergeInto(rules, { ...a }, b);
}

/**
 * {@link mergeValues} in place: merges `b` into `out` (which the caller owns) and returns `out` — for folding
 * many records of one row without copying the row at every step.
 */
export function mergeInto(rules: Readonly<Record<string, MergeRule>>, out: Record<string, unknown>, b: Readonly<Record<string, unknown>>): Record<string, unknown> {
  for (const column in b) {
    const v = b[column];
    if (!(column in out)) {
      out[column] = v;
      continue;
    }
    const old = out[column];
    switch (rules[column] ?? 'set') {
      case 'keep':
        break;
      case 'least':
        out[column] = old === null || old === undefined ? v : v === null || v === undefined ? old : Date.parse(String(v)) < Date.parse(String(old)) ? v : old;
        break;
      case 'merge_object':
        out[column] = isObject(old) && isObject(v) ? { ...old, ...v } : v;
        break;
      case 'union':
        out[column] = v === null ? old : sortedSet([...((old as string[] | null) ?? []), ...(v as string[])]);
        break;
      default:
        out[column] = v;
    }
  }
  return out;
}

/** A plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Distinct strings in code-point order (the order PostgreSQL's `ORDER BY` gives under the C collation). */
export function sortedSet(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
