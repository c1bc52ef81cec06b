/**
 * The event bodies of Langfuse's batch ingestion API (`POST /api/public/ingestion`, as sent by the v3 JS SDK
 * `langfuse` and the Python SDK v2): JSON Schemas of each event type (from the SDK's own OpenAPI types,
 * `langfuse-core` `IngestionEvent`) and the mapping of a valid body to a normalized record (`records.ts`).
 *
 * Unknown body fields are refused with a 400 naming them (SPEC R-1: never acknowledge what is not stored).
 *
 * Usage and cost (Langfuse's ingestion service, `mapObservationEventsToRecords` and `getUsageUnits`):
 * - `usage` ({ input, output, total, unit, inputCost, outputCost, totalCost }, or OpenAI's { promptTokens,
 *   completionTokens, totalTokens }) gives the usage details input / output / total (total defaults to
 *   input + output) and the cost details input / output / total;
 * - `usageDetails` is a map of unit counts by kind, or an OpenAI usage object: chat completions
 *   ({ prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details, completion_tokens_details }) or
 *   responses ({ input_tokens, output_tokens, total_tokens, input_tokens_details, output_tokens_details }),
 *   whose detail counts become `input_<kind>` / `output_<kind>` and are subtracted from input / output;
 *   it overrides the same keys of `usage`; a missing total is the sum of the other counts;
 * - `costDetails` (USD by kind) overrides the same keys of `usage`'s costs; a missing total is input + output
 *   when only those are given.
 * The columns `input_tokens` / `output_tokens` / `total_tokens` hold the integer counts of input / output /
 * total; `input_cost` / `output_cost` / `total_cost` the costs; every kind stays in `usage_details` /
 * `cost_details`.
 */
import { badInput } from '../errors.js';
import type { JsonSchema } from '../rest/schemas.js';
import type { ObservationRecord, ObservationType, ScoreRecord, TraceRecord, TraceStoreRecord } from './records.js';

/** The event types of the v3 SDK's batch API (plus `observation-*`, which the API also defines). */
export const EVENT_TYPES = [
  'trace-create', 'span-create', 'span-update', 'generation-create', 'generation-update', 'event-create', 'score-create', 'sdk-log',
  'observation-create', 'observation-update',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Largest integer a token column holds (PostgreSQL `integer`). */
const MAX_INT = 2_147_483_647;

const str = (maxLength = 1000): JsonSchema => ({ type: ['string', 'null'], maxLength });
const id = { type: 'string', minLength: 1, maxLength: 1000 } as const;
const time = { type: ['string', 'null'], format: 'date-time' } as const;
const count = { type: ['number', 'null'], minimum: 0 } as const;
const money = { type: ['number', 'null'], minimum: 0 } as const;
const environment = { type: ['string', 'null'], pattern: '^(?!langfuse)[a-z0-9_-]{1,40}$' } as const;
const numberMap = { type: ['object', 'null'], additionalProperties: { type: ['number', 'null'], minimum: 0 } } as const;
const detailsMap = { type: ['object', 'null'], additionalProperties: { type: ['number', 'null'], minimum: 0 } } as const;
const openAiCompletion = {
  type: 'object',
  required: ['prompt_tokens', 'completion_tokens', 'total_tokens'],
  properties: { prompt_tokens: count, completion_tokens: count, total_tokens: count, prompt_tokens_details: detailsMap, completion_tokens_details: detailsMap },
} as const;
const openAiResponse = {
  type: 'object',
  required: ['input_tokens', 'output_tokens', 'total_tokens'],
  properties: { input_tokens: count, output_tokens: count, total_tokens: count, input_tokens_details: detailsMap, output_tokens_details: detailsMap },
} as const;
const usage = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    input: count, output: count, total: count, unit: { enum: ['CHARACTERS', 'TOKENS', 'MILLISECONDS', 'SECONDS', 'IMAGES', 'REQUESTS', null] },
    inputCost: money, outputCost: money, totalCost: money, promptTokens: count, completionTokens: count, totalTokens: count,
  },
} as const;

const observationBase: Record<string, unknown> = {
  id, traceId: { type: ['string', 'null'], minLength: 1, maxLength: 1000 }, name: str(), startTime: time, metadata: {}, input: {}, output: {},
  level: { enum: ['DEBUG', 'DEFAULT', 'WARNING', 'ERROR'] }, statusMessage: str(100_000), parentObservationId: { type: ['string', 'null'], maxLength: 1000 },
  version: str(), environment,
};
const spanFields = { ...observationBase, endTime: time };
const generationFields = {
  ...spanFields, completionStartTime: time, model: str(), modelParameters: { type: ['object', 'null'] }, usage,
  usageDetails: { anyOf: [{ type: 'null' }, openAiCompletion, openAiResponse, numberMap] }, costDetails: numberMap,
  promptName: str(), promptVersion: { type: ['integer', 'null'], minimum: 1, maximum: MAX_INT },
};
const object = (properties: Record<string, unknown>, required: string[] = []): JsonSchema => ({ type: 'object', additionalProperties: false, properties, required });

/** JSON Schema of each event type's `body`. */
export const EVENT_BODY_SCHEMAS: Readonly<Record<EventType, JsonSchema>> = {
  'trace-create': object({
    id, timestamp: time, name: str(), userId: str(), input: {}, output: {}, sessionId: { type: ['string', 'null'], minLength: 1, maxLength: 1000 },
    release: str(), version: str(), metadata: {}, tags: { type: ['array', 'null'], items: { type: 'string', maxLength: 1000 }, maxItems: 1000 },
    environment, public: { type: ['boolean', 'null'] },
  }),
  'span-create': object(spanFields),
  'span-update': object(spanFields, ['id']),
  'event-create': object(observationBase),
  'generation-create': object(generationFields),
  'generation-update': object(generationFields, ['id']),
  'observation-create': object({ ...generationFields, type: { enum: ['SPAN', 'GENERATION', 'EVENT'] } }, ['type']),
  'observation-update': object({ ...generationFields, type: { enum: ['SPAN', 'GENERATION', 'EVENT'] } }, ['id', 'type']),
  'score-create': object(
    {
      id, traceId: { type: ['string', 'null'], minLength: 1, maxLength: 1000 }, sessionId: { type: ['string', 'null'], minLength: 1, maxLength: 1000 },
      observationId: { type: ['string', 'null'], minLength: 1, maxLength: 1000 }, datasetRunId: { type: 'null' }, name: { type: 'string', minLength: 1, maxLength: 1000 },
      environment, value: { type: ['number', 'string'] }, comment: str(100_000), metadata: {}, dataType: { enum: ['NUMERIC', 'BOOLEAN', 'CATEGORICAL'] },
      configId: str(),
    },
    ['name', 'value'],
  ),
  'sdk-log': object({ log: {} }, ['log']),
};

/** The observation type each observation event writes (`observation-*` name it in the body). */
const OBSERVATION_TYPE: Partial<Record<EventType, ObservationType>> = {
  'span-create': 'SPAN', 'span-update': 'SPAN', 'event-create': 'EVENT', 'generation-create': 'GENERATION', 'generation-update': 'GENERATION',
};

type Body = Record<string, unknown>;

/** Copy the keys of `body` that are present (null included) into `out` under the same names; returns `out`. */
function copyPresent(out: Record<string, unknown>, body: Body, keys: readonly string[]): Record<string, unknown> {
  for (let i = 0; i < keys.length; i++) {
    const v = body[keys[i]];
    if (v !== undefined) out[keys[i]] = v;
  }
  return out;
}

const TRACE_KEYS = ['name', 'userId', 'sessionId', 'release', 'version', 'environment', 'tags', 'public', 'input', 'output', 'metadata'] as const;
const OBSERVATION_KEYS = [
  'parentObservationId', 'name', 'startTime', 'endTime', 'completionStartTime', 'model', 'modelParameters', 'input', 'output',
  'metadata', 'level', 'statusMessage', 'version', 'environment', 'promptName', 'promptVersion',
] as const;
const SCORE_KEYS = ['traceId', 'observationId', 'sessionId', 'comment', 'environment', 'configId', 'metadata'] as const;

/**
 * A valid event → its normalized record (none for `sdk-log`).
 * @param envelopeId the event's envelope id: the row id of a create whose body has no `id`
 * @throws LatticeError BAD_USER_INPUT for bodies the schema cannot refuse (an update without traceId, a score
 *         value that does not fit its data type, an observation score without its trace)
 */
export function eventToRecord(type: EventType, body: Body, envelopeId: string): TraceStoreRecord | null {
  if (type === 'sdk-log') return null;
  const clientId = typeof body.id === 'string' ? body.id : envelopeId;
  if (type === 'trace-create') {
    const trace: Record<string, unknown> = { kind: 'trace', id: clientId };
    if (typeof body.timestamp === 'string') trace.timestamp = body.timestamp;
    return copyPresent(trace, body, TRACE_KEYS) as unknown as TraceRecord;
  }
  if (type === 'score-create') return scoreRecord(body, clientId);
  const traceId = typeof body.traceId === 'string' ? body.traceId : undefined;
  if (!traceId && type.endsWith('-update')) {
    throw badInput(`${type} "${clientId}" has no traceId; send the traceId of the observation's trace with every update.`);
  }
  const observation: Record<string, unknown> = {
    kind: 'observation',
    id: clientId,
    // A create without a trace starts a trace of its own (Langfuse creates a new trace too).
    traceId: traceId ?? clientId,
    type: OBSERVATION_TYPE[type] ?? (body.type as ObservationType),
  };
  copyPresent(observation, body, OBSERVATION_KEYS);
  return addUsageColumns(observation, body) as unknown as ObservationRecord;
}

/** `score-create` body → record: the data type inferred or checked against the value (Langfuse's rules). */
function scoreRecord(body: Body, clientId: string): ScoreRecord {
  const value = body.value as number | string;
  const given = body.dataType as ScoreRecord['dataType'] | undefined;
  const dataType = given ?? (typeof value === 'string' ? 'CATEGORICAL' : 'NUMERIC');
  let numeric: number | null;
  let text: string | null = null;
  if (dataType === 'CATEGORICAL') {
    if (typeof value !== 'string') throw badInput(`Score "${clientId}": a CATEGORICAL score's value must be a string (the category).`);
    numeric = null;
    text = value;
  } else {
    if (typeof value !== 'number') throw badInput(`Score "${clientId}": a ${dataType} score's value must be a number.`);
    if (dataType === 'BOOLEAN' && value !== 0 && value !== 1) throw badInput(`Score "${clientId}": a BOOLEAN score's value must be 1 (true) or 0 (false).`);
    numeric = value;
    if (dataType === 'BOOLEAN') text = value === 1 ? 'True' : 'False';
  }
  if (body.observationId != null && body.traceId == null) {
    throw badInput(`Score "${clientId}" names observationId but no traceId; send the traceId of the observation's trace too.`);
  }
  if (body.traceId == null && body.sessionId == null) throw badInput(`Score "${clientId}" names no traceId or sessionId; say what it scores.`);
  const score: Record<string, unknown> = { kind: 'score', id: clientId, name: body.name as string, value: numeric, stringValue: text, dataType, source: 'API' };
  return copyPresent(score, body, SCORE_KEYS) as unknown as ScoreRecord;
}

type Counts = Record<string, number>;

/** Non-null numeric entries of a map. */
function numbers(map: unknown): Counts {
  const out: Counts = {};
  if (map && typeof map === 'object') for (const [k, v] of Object.entries(map)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** An OpenAI usage object in `usageDetails` → counts by kind (details split out of input/output). */
function openAiDetails(d: Record<string, unknown>): Counts | null {
  const shape = 'prompt_tokens' in d ? ['prompt_tokens', 'completion_tokens', 'prompt_tokens_details', 'completion_tokens_details'] : 'input_tokens' in d ? ['input_tokens', 'output_tokens', 'input_tokens_details', 'output_tokens_details'] : null;
  if (!shape || !('total_tokens' in d)) return null;
  const out: Counts = {};
  const split = (total: unknown, details: unknown, side: 'input' | 'output') => {
    const parts = numbers(details);
    let rest = typeof total === 'number' ? total : 0;
    for (const [k, v] of Object.entries(parts)) {
      out[`${side}_${k}`] = v;
      rest -= v;
    }
    if (typeof total === 'number') out[side] = Math.max(0, rest);
  };
  split(d[shape[0]], d[shape[2]], 'input');
  split(d[shape[1]], d[shape[3]], 'output');
  if (typeof d.total_tokens === 'number') out.total = d.total_tokens;
  return out;
}

/** `usage` / `usageDetails` / `costDetails` of an observation body → the usage and cost fields of its record. */
export function usageColumns(body: Body): Partial<ObservationRecord> {
  return addUsageColumns({}, body) as Partial<ObservationRecord>;
}

/** {@link usageColumns} written into `out` (a record being built); returns `out`. Nothing is added for a body without usage or cost. */
function addUsageColumns(out: Record<string, unknown>, body: Body): Record<string, unknown> {
  if (body.usage == null && body.usageDetails == null && body.costDetails == null) return out;
  const u = (body.usage ?? {}) as Record<string, unknown>;
  const usage: Counts = {};
  const input = u.input ?? u.promptTokens;
  const output = u.output ?? u.completionTokens;
  const total = u.total ?? u.totalTokens;
  if (typeof input === 'number') usage.input = input;
  if (typeof output === 'number') usage.output = output;
  if (typeof total === 'number' && total > 0) usage.total = total;
  const detailsGiven = body.usageDetails && typeof body.usageDetails === 'object' ? (body.usageDetails as Record<string, unknown>) : null;
  if (usage.total === undefined && !detailsGiven && (usage.input !== undefined || usage.output !== undefined)) usage.total = (usage.input ?? 0) + (usage.output ?? 0);
  const details = { ...usage, ...(detailsGiven ? (openAiDetails(detailsGiven) ?? numbers(detailsGiven)) : {}) };
  if (Object.keys(details).length > 0 && details.total === undefined) details.total = Object.values(details).reduce((a, b) => a + b, 0);

  const cost: Counts = {};
  if (typeof u.inputCost === 'number') cost.input = u.inputCost;
  if (typeof u.outputCost === 'number') cost.output = u.outputCost;
  if (typeof u.totalCost === 'number') cost.total = u.totalCost;
  Object.assign(cost, numbers(body.costDetails));
  if (cost.total === undefined && Object.keys(cost).length > 0 && Object.keys(cost).every((k) => k === 'input' || k === 'output')) cost.total = (cost.input ?? 0) + (cost.output ?? 0);

  const whole = (v: number | undefined) => (v !== undefined && Number.isInteger(v) && v <= MAX_INT ? v : undefined);
  if (Object.keys(details).length > 0) {
    out.usageDetails = details;
    if (whole(details.input) !== undefined) out.inputTokens = details.input;
    if (whole(details.output) !== undefined) out.outputTokens = details.output;
    if (whole(details.total) !== undefined) out.totalTokens = details.total;
  }
  if (Object.keys(cost).length > 0) {
    out.costDetails = cost;
    if (cost.input !== undefined) out.inputCost = cost.input;
    if (cost.output !== undefined) out.outputCost = cost.output;
    if (cost.total !== undefined) out.totalCost = cost.total;
  }
  return out;
}
