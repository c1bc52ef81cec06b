/**
 * JSON Schemas (draft-07, for AJV) generated from the model for the REST routes and ingestion events
 * (SPEC ): request bodies per entity and write mode, the list query string, and the `{id}` parameter.
 * Every object schema has `additionalProperties: false`, so unknown fields and parameters are a 400.
 */
import type { Entity, Field } from '../model/types.js';
import type { WriteMode } from '../query/write/plan.js';
import { UUID_JSON_SCHEMA } from '../uuid.js';


/** A JSON Schema object (plain data handed to AJV / Fastify). */
export type JsonSchema = Record<string, unknown>;

/** Largest magnitude of a `bigint` accepted from JSON (SPEC G-9: ±(2^53−1)). */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Columns a client never writes. */
const READONLY = new Set(['created_at', 'updated_at']);

/**
 * The schema of one field's JSON value.
 * @param nullable accept `null` too (optional fields)
 */
export function fieldSchema(field: Field, nullable: boolean): JsonSchema {
  const withNull = (type: string): string | string[] => (nullable ? [type, 'null'] : type);
  const d = field.description ? { description: field.description } : {};
  switch (field.type) {
    case 'string':
    case 'text':
      return { type: withNull('string'), ...d };
    case 'int':
      return { type: withNull('integer'), minimum: -2147483648, maximum: 2147483647, ...d };
    case 'bigint':
      return { type: withNull('integer'), minimum: -MAX_SAFE, maximum: MAX_SAFE, ...d };
    case 'float':
      return { type: withNull('number'), ...d };
    case 'decimal':
      return { type: nullable ? ['string', 'number', 'null'] : ['string', 'number'], pattern: '^[-+]?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$', ...d };
    case 'boolean':
      return { type: withNull('boolean'), ...d };
    case 'datetime':
      return { type: withNull('string'), format: 'date-time', ...d };
    case 'date':
      return { type: withNull('string'), format: 'date', ...d };
    case 'uuid':
    case 'ref':
      return { ...UUID_JSON_SCHEMA, type: withNull('string'), ...d };
    case 'json':
      return { ...d };
    case 'enum':
      return { type: withNull('string'), enum: nullable ? [...(field.values ?? []), null] : [...(field.values ?? [])], ...d };
    case 'string[]':
      return { type: withNull('array'), items: { type: 'string' }, ...d };
    case 'vector':
      return { type: withNull('array'), items: { type: 'number' }, minItems: field.dimensions, maxItems: field.dimensions, ...d };
  }
}

/**
 * The body of one row for a write mode:
 * - `create`: `id` and `project_id` optional, required fields (without a default) required;
 * - `upsert` / `update`: `id` required, every other field optional; required fields may not be null;
 * - `delete`: `id` required, `project_id` optional, nothing else.
 */
export function rowBodySchema(entity: Entity, mode: WriteMode): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    id: { ...UUID_JSON_SCHEMA, description: 'Row id (UUID); generated (UUID v7) when omitted on create.' },
    project_id: { ...UUID_JSON_SCHEMA, description: 'Project to write to; needed when the key has several projects.' },
  };
  const required: string[] = mode === 'create' ? [] : ['id'];
  if (mode !== 'delete') {
    for (const f of entity.fields) {
      if (f.builtin || f.computed || READONLY.has(f.column)) continue;
      properties[f.column] = fieldSchema(f, !f.required);
      if (mode === 'create' && f.required && f.default === undefined) required.push(f.column);
    }
  }
  return { type: 'object', properties, required, additionalProperties: false };
}

/**
 * Body of `PATCH /api/v1/<plural>/{id}`: any writable fields (the id is in the path; `project_id` never
 * changes), typed as on create; required fields may not be set to null. An empty object changes nothing.
 */
export function patchBodySchema(entity: Entity): JsonSchema {
  const { properties } = rowBodySchema(entity, 'update') as { properties: Record<string, JsonSchema> };
  const { id: _id, project_id: _project, ...writable } = properties;
  return { type: 'object', properties: writable, additionalProperties: false };
}

/** Body of `POST /api/v1/<plural>`: one create object or a non-empty array of them. */
export function createBodySchema(entity: Entity, maxItems: number): JsonSchema {
  const one = rowBodySchema(entity, 'create');
  return {
    if: { type: 'array' },
    then: { type: 'array', items: one, minItems: 1, maxItems },
    else: one,
  };
}

/** Types whose columns can be equality query parameters and ordering keys. */
export function isScalarColumn(field: Field): boolean {
  return field.type !== 'json' && field.type !== 'vector' && field.type !== 'string[]';
}

/**
 * Pattern of `order_by`: comma-separated keys, each optionally prefixed by `-` (descending); a key is a column
 * name, or to-one relation names and a column joined by dots (`trial.experiment.name`). Whether the names exist
 * is checked by `parseOrderBy` (`list-args.ts`), whose message can list what is allowed.
 */
export const ORDER_BY_PATTERN = '^-?[a-z_][a-z0-9_]*(\\.[a-z_][a-z0-9_]*)*(,-?[a-z_][a-z0-9_]*(\\.[a-z_][a-z0-9_]*)*)*$';

/**
 * Query string of `GET /api/v1/<plural>`: `limit` (0..maxLimit, default 100), `offset` (≥ 0, default 0),
 * `order_by`, `filter` (JSON, `src/rest/filter.ts`), `search` and `nearest` (JSON, `src/rest/search-params.ts`;
 * checked there against the entity so the message can say why), and one equality parameter per scalar column
 * (typed like the column).
 */
export function listQuerySchema(entity: Entity, maxLimit: number, defaultLimit: number): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    limit: { type: 'integer', minimum: 0, maximum: maxLimit, default: Math.min(defaultLimit, maxLimit) },
    offset: { type: 'integer', minimum: 0, default: 0 },
    order_by: {
      type: 'string',
      pattern: ORDER_BY_PATTERN,
      description: 'Comma-separated columns, `-` for descending, e.g. `-created_at,name`; follow to-one relations with dots, e.g. `-trial.experiment.name`.',
    },
    filter: {
      type: 'string',
      description: 'A filter in the GraphQL filter language as URL-encoded JSON, e.g. `{"status":{"in":["failed","cancelled"]}}`.',
    },
    search: { type: 'string', description: 'Full-text query (web-search syntax) over the searchable fields; each item gets `_rank` (higher is better).' },
    nearest: {
      type: 'string',
      description: 'Similarity search as URL-encoded JSON: `{"<vector field>":{"vector":[...],"metric":"cosine","max_distance":0.5}}`; each item gets `_distance` (lower is nearer).',
    },
  };
  for (const f of entity.fields) {
    if (!isScalarColumn(f) || f.column in properties) continue;
    properties[f.column] = { ...fieldSchema(f, false), description: `Only rows whose ${f.column} equals this value.` };
  }
  return { type: 'object', properties, additionalProperties: false };
}

/** Path parameters of `GET /api/v1/<plural>/{id}`. */
export const idParamsSchema: JsonSchema = {
  type: 'object',
  properties: { id: UUID_JSON_SCHEMA },
  required: ['id'],
  additionalProperties: false,
};

/** Body of `POST /api/v1/ingest`: the envelope only; each event is validated on its own. */
export const ingestBodySchema: JsonSchema = {
  type: 'object',
  properties: {
    batch: { type: 'array', description: 'Events `{ id, type: "<entity>.create|upsert|update|delete", body }`.' },
    metadata: { type: 'object' },
  },
  required: ['batch'],
  additionalProperties: false,
};

/** One ingestion event's envelope (validated per event). */
export const eventEnvelopeSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 256 },
    type: { type: 'string', pattern: '^[a-z_][a-z0-9_]*\\.(create|upsert|update|delete)$' },
    timestamp: { type: 'string' },
    body: { type: 'object' },
  },
  required: ['id', 'type', 'body'],
  additionalProperties: false,
};
