/**
 * Reading span attributes into observation fields (SPEC R-6), after Langfuse's OTel ingestion
 * (`packages/shared/src/server/otel/OtelIngestionProcessor.ts` and `ObservationTypeMapper.ts` in
 * langfuse/langfuse) and the OpenTelemetry GenAI semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/):
 *
 * - type: `langfuse.observation.type`, else OpenInference `openinference.span.kind`, else
 *   `gen_ai.operation.name` (chat, text_completion, generate_content → GENERATION; embeddings → EMBEDDING;
 *   invoke_agent, create_agent → AGENT; execute_tool → TOOL), else `gen_ai.tool.*` → TOOL, else GENERATION when a
 *   model is named, else SPAN;
 * - model: `langfuse.observation.model.name`, `gen_ai.response.model`, `gen_ai.request.model` (the model that
 *   answered before the one asked for, as Langfuse does); parameters: `langfuse.observation.model.parameters`
 *   (JSON) or every `gen_ai.request.*` but the model;
 * - usage and cost: `langfuse.observation.usage_details` / `.cost_details` (JSON), read exactly as the batch API
 *   reads the SDK's `usageDetails` / `costDetails`; else `gen_ai.usage.*` (`input_tokens`/`prompt_tokens`,
 *   `output_tokens`/`completion_tokens`, `total_tokens`; a missing total is input + output, since GenAI's input
 *   count includes cached tokens; every count kept in the details as sent) and `gen_ai.usage.cost` (total).
 *
 * An {@link AttributeBag} records which attributes were turned into fields; every other attribute stays in the
 * observation's `metadata.attributes`, so nothing a client sent is dropped.
 */
import { jsonNesting, MAX_JSON_NESTING } from '../nesting.js';
import { usageColumns } from './langfuse-events.js';
import { setAttribute, type AttrValue, type Attributes } from './otlp-span-model.js';
import type { ObservationRecord } from './records.js';

/** Span attributes with a record of which ones were used for a field. */
export class AttributeBag {
  private readonly used = new Set<string>();
  /** `Object.keys(all)`, listed once for the prefix look-ups and {@link rest}. */
  private keyList: string[] | undefined;

  constructor(readonly all: Attributes) {}

  /** The attribute keys (`Object.keys(all)`, listed once). */
  keys(): readonly string[] {
    return (this.keyList ??= Object.keys(this.all));
  }

  /** The value, without marking it used. */
  peek(key: string): AttrValue | undefined {
    const v = this.all[key];
    return v === null ? undefined : v;
  }

  /** The value (undefined when absent or null), marked used. */
  take(key: string): AttrValue | undefined {
    const v = this.peek(key);
    if (v !== undefined) this.used.add(key);
    return v;
  }

  /** The first present key's value as text (numbers and booleans are written as text), marked used. */
  takeString(...keys: string[]): string | undefined {
    for (const key of keys) {
      const v = this.peek(key);
      if (v === undefined || v === '') continue;
      this.used.add(key);
      return typeof v === 'string' ? v : JSON.stringify(v);
    }
    return undefined;
  }

  /** Keys starting with `prefix`, with the rest of the key, marked used. */
  takePrefix(prefix: string, except: (key: string) => boolean = () => false): Array<[string, AttrValue]> {
    const out: Array<[string, AttrValue]> = [];
    for (const key of this.keys()) {
      if (!key.startsWith(prefix) || key.length === prefix.length || except(key)) continue;
      this.used.add(key);
      out.push([key.slice(prefix.length), this.all[key]]);
    }
    return out;
  }

  /** The attributes not used for any field. */
  rest(): Attributes {
    const out: Attributes = {};
    for (const k of this.keys()) if (!this.used.has(k)) setAttribute(out, k, this.all[k]);
    return out;
  }
}

/**
 * A string holding a JSON object or array (as Langfuse SDKs and GenAI instrumentations write structured values)
 * → the parsed value; anything else unchanged (a plain string stays a string). Values nested deeper than
 * {@link MAX_JSON_NESTING} stay text, so the database never parses them.
 */
export function parseJsonish(v: AttrValue | undefined): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return v;
  try {
    const parsed: unknown = JSON.parse(v);
    // Each level of nesting takes two characters ({} or []): short text cannot nest too deeply, so is not walked.
    return v.length > 2 * MAX_JSON_NESTING + 1 && jsonNesting(parsed) > MAX_JSON_NESTING ? v : parsed;
  } catch {
    return v;
  }
}

/** A JSON object value (given as an object or as JSON text), or undefined. */
export function jsonObject(v: AttrValue | undefined): Record<string, unknown> | undefined {
  const parsed = parseJsonish(v);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

/** The observation types of the traces preset. */
export type ObservationType = 'SPAN' | 'GENERATION' | 'EVENT' | 'AGENT' | 'TOOL' | 'CHAIN' | 'RETRIEVER' | 'EVALUATOR' | 'EMBEDDING' | 'GUARDRAIL';
const TYPES = new Set<string>(['SPAN', 'GENERATION', 'EVENT', 'AGENT', 'TOOL', 'CHAIN', 'RETRIEVER', 'EVALUATOR', 'EMBEDDING', 'GUARDRAIL']);

const OPENINFERENCE_KINDS: Readonly<Record<string, ObservationType>> = {
  LLM: 'GENERATION', CHAIN: 'CHAIN', RETRIEVER: 'RETRIEVER', EMBEDDING: 'EMBEDDING', AGENT: 'AGENT', TOOL: 'TOOL', GUARDRAIL: 'GUARDRAIL', EVALUATOR: 'EVALUATOR',
};
const GENAI_OPERATIONS: Readonly<Record<string, ObservationType>> = {
  chat: 'GENERATION', completion: 'GENERATION', text_completion: 'GENERATION', generate_content: 'GENERATION', generate: 'GENERATION',
  embeddings: 'EMBEDDING', invoke_agent: 'AGENT', create_agent: 'AGENT', execute_tool: 'TOOL',
};
const MODEL_KEYS = ['langfuse.observation.model.name', 'gen_ai.response.model', 'gen_ai.request.model'];

/** The observation type (see the module comment); `langfuse.observation.type` is used, the others stay attributes. */
export function observationType(bag: AttributeBag): ObservationType {
  const explicit = bag.peek('langfuse.observation.type');
  if (typeof explicit === 'string' && TYPES.has(explicit.toUpperCase())) {
    bag.take('langfuse.observation.type');
    return explicit.toUpperCase() as ObservationType;
  }
  const oi = bag.peek('openinference.span.kind');
  if (typeof oi === 'string' && OPENINFERENCE_KINDS[oi.toUpperCase()]) return OPENINFERENCE_KINDS[oi.toUpperCase()];
  const op = bag.peek('gen_ai.operation.name');
  if (typeof op === 'string' && GENAI_OPERATIONS[op]) return GENAI_OPERATIONS[op];
  if (bag.peek('gen_ai.tool.name') !== undefined || bag.peek('gen_ai.tool.call.id') !== undefined) return 'TOOL';
  if (MODEL_KEYS.some((k) => bag.peek(k) !== undefined && bag.peek(k) !== '')) return 'GENERATION';
  return 'SPAN';
}

/** The model name (see the module comment). */
export function modelName(bag: AttributeBag): string | undefined {
  return bag.takeString(...MODEL_KEYS);
}

/** Model parameters: `langfuse.observation.model.parameters` or `gen_ai.request.*` (without the model). */
export function modelParameters(bag: AttributeBag): Record<string, unknown> | undefined {
  const explicit = jsonObject(bag.peek('langfuse.observation.model.parameters'));
  if (explicit) {
    bag.take('langfuse.observation.model.parameters');
    return explicit;
  }
  const pairs = bag.takePrefix('gen_ai.request.', (key) => key === 'gen_ai.request.model');
  return pairs.length ? Object.fromEntries(pairs) : undefined;
}

/** A count of tokens for an `int` column: a non-negative safe integer within int32, else undefined. */
function tokenCount(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 2_147_483_647 ? n : undefined;
}

/** A finite number (numbers or numeric text), else undefined. */
function finite(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** Token usage of a generation. */
export interface Usage {
  /** Units by kind (numbers only). */
  readonly details: Record<string, number>;
  readonly input?: number;
  readonly output?: number;
  readonly total?: number;
}

/** Usage and cost as the store's observation fields. */
export type UsageFields = Pick<ObservationRecord, 'usageDetails' | 'inputTokens' | 'outputTokens' | 'totalTokens' | 'costDetails' | 'inputCost' | 'outputCost' | 'totalCost'>;

/** True when every value is a number (or null), or `o` is an OpenAI usage object: nothing in it is lost. */
function fullyRead(o: Record<string, unknown>): boolean {
  if ('total_tokens' in o && ('prompt_tokens' in o || 'input_tokens' in o)) return true;
  return Object.values(o).every((v) => v === null || typeof v === 'number');
}

/**
 * Usage and cost of a span (see the module comment). `langfuse.observation.usage_details` / `.cost_details` are
 * the Langfuse SDK's `usageDetails` / `costDetails` and are read exactly as the batch API reads them
 * (`usageColumns` in `langfuse-events.ts`: OpenAI usage objects split into kinds, a missing total summed), so
 * both routes store the same numbers; an attribute holding values that are not counts also stays in
 * `metadata.attributes`. Otherwise `gen_ai.usage.*` and `gen_ai.usage.cost`.
 */
export function usageAndCost(bag: AttributeBag): UsageFields {
  const usageDetails = jsonObject(bag.peek('langfuse.observation.usage_details'));
  const costDetails = jsonObject(bag.peek('langfuse.observation.cost_details'));
  if (usageDetails && fullyRead(usageDetails)) bag.take('langfuse.observation.usage_details');
  if (costDetails && fullyRead(costDetails)) bag.take('langfuse.observation.cost_details');
  const fromLangfuse = usageDetails || costDetails ? usageColumns({ usageDetails, costDetails }) : {};
  const genAi = usageDetails ? undefined : usage(bag);
  const total = costDetails ? undefined : finite(bag.peek('gen_ai.usage.cost'));
  if (total !== undefined) bag.take('gen_ai.usage.cost');
  return {
    ...(genAi ? { usageDetails: genAi.details, inputTokens: genAi.input ?? null, outputTokens: genAi.output ?? null, totalTokens: genAi.total ?? null } : {}),
    ...(total !== undefined ? { costDetails: { total }, totalCost: total } : {}),
    ...fromLangfuse,
  };
}

/** GenAI usage (`gen_ai.usage.*`, numbers only), or undefined when the span reports none. */
function usage(bag: AttributeBag): Usage | undefined {
  const prefix = 'gen_ai.usage.';
  let d: Record<string, number> | undefined;
  for (const key of bag.keys()) {
    if (key.length === prefix.length || !key.startsWith(prefix) || key === 'gen_ai.usage.cost') continue;
    const n = finite(bag.peek(key));
    if (n === undefined) continue; // not a number: stays in metadata.attributes
    bag.take(key);
    setAttribute((d ??= {}), key.slice(prefix.length), n);
  }
  if (d === undefined) return undefined;
  const input = tokenCount(d.input_tokens ?? d.prompt_tokens);
  const output = tokenCount(d.output_tokens ?? d.completion_tokens);
  const total = tokenCount(d.total_tokens) ?? (input !== undefined && output !== undefined ? tokenCount(input + output) : undefined);
  return { details: d, input, output, total };
}

/** An ISO-8601 timestamp from text (also JSON-quoted text, as older Langfuse SDKs wrote it), else undefined. */
export function isoTime(v: AttrValue | undefined): string | undefined {
  if (typeof v !== 'string') return undefined;
  let s = v.trim();
  if (s.startsWith('"')) {
    try {
      s = String(JSON.parse(s));
    } catch {
      return undefined;
    }
  }
  // A date and a time are required: Date.parse alone also accepts "2024" or "March 7".
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(s) || Number.isNaN(Date.parse(s))) return undefined;
  return new Date(Date.parse(s)).toISOString();
}

/** The `langfuse.observation.level` value, if it is one of the preset's levels. */
export function explicitLevel(bag: AttributeBag): 'DEBUG' | 'DEFAULT' | 'WARNING' | 'ERROR' | undefined {
  const v = bag.peek('langfuse.observation.level');
  const level = typeof v === 'string' ? v.trim().toUpperCase() : '';
  if (level !== 'DEBUG' && level !== 'DEFAULT' && level !== 'WARNING' && level !== 'ERROR') return undefined;
  bag.take('langfuse.observation.level');
  return level;
}

/**
 * Metadata under a Langfuse prefix: the JSON object at `prefix` merged with `prefix.<key>` attributes
 * (`langfuse.observation.metadata.user_tier` → `{ user_tier }`), values parsed when they are JSON text.
 */
export function prefixedMetadata(bag: AttributeBag, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const whole = jsonObject(bag.peek(prefix));
  if (whole) {
    bag.take(prefix);
    for (const key of Object.keys(whole)) setAttribute(out as Attributes, key, whole[key] as AttrValue);
  }
  for (const [key, value] of bag.takePrefix(`${prefix}.`)) setAttribute(out as Attributes, key, parseJsonish(value) as AttrValue);
  return out;
}

/** Tags: an array, a JSON array as text, or comma-separated text. */
export function tags(v: AttrValue | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const parsed = parseJsonish(v);
  if (Array.isArray(parsed)) return parsed.map((t) => (typeof t === 'string' ? t : JSON.stringify(t)));
  if (typeof parsed === 'string') return parsed.split(',').map((t) => t.trim()).filter(Boolean);
  return undefined;
}
