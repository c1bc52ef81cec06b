/**
 * The OpenAPI 3.1 document of the REST API (SPEC R-3), generated from the model and from the same JSON Schema
 * builders the routes validate with (`schemas.ts`, the admin and health route schemas), so the document and
 * the validation cannot drift apart:
 * - per data entity (tag = plural, description from the model): `GET/POST /api/v1/<plural>` and
 *   `GET/PATCH/DELETE /api/v1/<plural>/{id}`, with the list parameters of `listQuerySchema` (limit, offset,
 *   order_by, filter, search, nearest, one equality parameter per scalar column), bodies of
 *   `createBodySchema` / `patchBodySchema`, and the object shape the read compiler answers;
 * - `POST /api/v1/ingest` (events per entity and operation, the 207 answer), projects and keys
 *   administration, health, and the document itself (`openapi-fixed.ts`; shared helpers in `openapi-common.ts`);
 * - the error shape `{ error: { code, message, details }, request_id }` for every 4xx/5xx;
 * - security schemes: `Authorization: Bearer <secret key>` and Basic `<public key>:<secret key>`.
 *
 * Why not @fastify/swagger: it documents the routes registered at start (its dynamic mode reads route schemas
 * through an `onRoute` hook and caches the result), while the document must follow the *model* — after a
 * run-time model change (SPEC M-7) `ctx.model()` returns a new Model and `openapiJson` builds that model's
 * document on first use. Documents are cached per Model object (WeakMap) and per `maxLimit`.
 */
import { PROJECT_ROLES } from '../auth/api-keys.js';
import type { ErrorCode } from '../errors.js';
import { HTTP_STATUS } from '../errors.js';
import type { Entity, Field, Model } from '../model/types.js';
import { createdKeySchema, keyInfoSchema, projectSchema } from '../server/admin.js';
import { DEFAULT_LIMITS } from '../server/context.js';
import { errorBodySchema } from '../server/errors.js';
import { healthSchema } from '../server/health.js';
import { UUID_JSON_SCHEMA } from '../uuid.js';
import { DEFAULT_LIMIT } from './entity-routes.js';
import { copy, ERROR_RESPONSES, errors, json, ref } from './openapi-common.js';
import { fixedPaths, ingestSchemas, memberSchemas } from './openapi-fixed.js';
import { MAX_BATCH } from './rows.js';
import { fieldSchema, listQuerySchema, patchBodySchema, rowBodySchema, type JsonSchema } from './schemas.js';
import { isSearchable } from './search-params.js';

/** An OpenAPI 3.1 document as plain JSON data (deeply frozen when it comes from the cache). */
export type OpenApiDocument = Record<string, unknown>;

export { OPENAPI_PATH } from './openapi-fixed.js';

/** Options that change the document (the server's configuration). */
export interface OpenApiOptions {
  /** Largest accepted `limit` (`ServerConfig.limits.maxLimit`); default `DEFAULT_LIMITS.maxLimit`. */
  readonly maxLimit?: number;
}

/**
 * The JSON value of a column in answers (the read compiler's output, see ARCHITECTURE "Output values"):
 * `decimal` is a string, `datetime` ISO-8601 UTC; optional columns may be null.
 */
function outputFieldSchema(field: Field): JsonSchema {
  const nullable = !field.required;
  const base = fieldSchema(field, nullable);
  delete base.minimum;
  delete base.maximum;
  if (field.type === 'decimal') {
    delete base.pattern;
    base.type = nullable ? ['string', 'null'] : 'string';
  }
  if (field.deprecated) base.deprecated = true;
  return base;
}

/** The object shape of an entity in answers: every column, in model order. */
function objectSchema(entity: Entity): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const f of entity.fields) properties[f.column] = outputFieldSchema(f);
  return {
    type: 'object',
    ...(entity.description ? { description: entity.description } : {}),
    properties,
    required: entity.fields.map((f) => f.column),
  };
}

/** Marks deprecated fields in a body schema's properties (the route schemas carry only the description). */
function markDeprecated(entity: Entity, schema: JsonSchema): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  for (const f of entity.fields) if (f.deprecated && properties?.[f.column]) properties[f.column].deprecated = true;
  return schema;
}

/** Query parameters of the list route, one per property of `listQuerySchema`. */
function listParameters(entity: Entity, maxLimit: number): JsonSchema[] {
  const query = listQuerySchema(entity, maxLimit, DEFAULT_LIMIT) as { properties: Record<string, JsonSchema> };
  const vectors = entity.fields.filter((f) => f.type === 'vector').map((f) => f.column);
  return Object.entries(query.properties).map(([name, schema]) => {
    const { description, ...rest } = schema;
    let text = typeof description === 'string' ? description : '';
    if (name === 'limit') text = `Page size (at most ${maxLimit}).`;
    if (name === 'offset') text = 'Rows to skip.';
    if (name === 'search' && !isSearchable(entity)) text += ` ${entity.plural} have no searchable fields: this parameter answers 400.`;
    if (name === 'nearest') text += vectors.length ? ` Vector fields: ${vectors.join(', ')}.` : ` ${entity.plural} have no vector fields: this parameter answers 400.`;
    const field = entity.columns.get(name);
    return { name, in: 'query', required: false, ...(text ? { description: text } : {}), ...(field?.deprecated ? { deprecated: true } : {}), schema: rest };
  });
}

const idParameter = (what: string) => ({ name: 'id', in: 'path', required: true, description: `Id of the ${what}.`, schema: copy(UUID_JSON_SCHEMA) });

/** Paths and component schemas of one data entity. */
function entityPaths(entity: Entity, maxLimit: number, schemas: Record<string, JsonSchema>, paths: Record<string, JsonSchema>): void {
  const T = entity.typeName;
  const tag = entity.plural;
  schemas[T] = objectSchema(entity);
  schemas[`${T}Create`] = markDeprecated(entity, rowBodySchema(entity, 'create'));
  schemas[`${T}Update`] = markDeprecated(entity, rowBodySchema(entity, 'update'));
  schemas[`${T}Patch`] = markDeprecated(entity, patchBodySchema(entity));
  schemas[`${T}Delete`] = rowBodySchema(entity, 'delete');
  const item: JsonSchema = {
    allOf: [ref(T)],
    properties: {
      _rank: { type: 'number', description: 'Full-text rank (with `search=`; higher is better).' },
      _distance: { type: 'number', description: 'Distance to the `nearest=` vector (lower is nearer).' },
    },
  };
  schemas[`${T}Page`] = {
    type: 'object',
    properties: {
      items: { type: 'array', items: item },
      total_count: { type: 'integer', description: 'Rows matching the parameters, all pages.' },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
    },
    required: ['items', 'total_count', 'limit', 'offset'],
  };
  const base = `/api/v1/${entity.plural}`;
  const one = { description: `The ${entity.name}.`, content: json(ref(T)) };
  const created = { oneOf: [ref(T), { type: 'array', items: ref(T) }] };
  paths[base] = {
    get: {
      tags: [tag],
      operationId: `list_${entity.plural}`,
      summary: `List ${entity.plural}`,
      description:
        'Equality parameters and `filter` must all hold. Ordered by `order_by`, else by distance (`nearest`), else by rank (`search`), then `id`.',
      parameters: listParameters(entity, maxLimit),
      responses: { 200: { description: `A page of ${entity.plural}.`, content: json(ref(`${T}Page`)) }, ...errors('BadRequest', 'Unauthenticated') },
    },
    post: {
      tags: [tag],
      operationId: `create_${entity.plural}`,
      summary: `Create one ${entity.name} or an array of them`,
      description: `All rows or none (one transaction); at most ${MAX_BATCH} objects. An id that already exists with the same fields answers 200 (a retry).`,
      requestBody: {
        required: true,
        content: json({ oneOf: [ref(`${T}Create`), { type: 'array', items: ref(`${T}Create`), minItems: 1, maxItems: MAX_BATCH }] }),
      },
      responses: {
        201: { description: 'Created: the object, or the array of objects in request order.', content: json(created) },
        200: { description: 'Every row already existed with these fields (an idempotent retry).', content: json(created) },
        ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'Conflict', 'PayloadTooLarge'),
      },
    },
  };
  paths[`${base}/{id}`] = {
    get: {
      tags: [tag],
      operationId: `get_${entity.name}`,
      summary: `Get one ${entity.name}`,
      parameters: [idParameter(entity.name)],
      responses: { 200: one, ...errors('BadRequest', 'Unauthenticated', 'NotFound') },
    },
    patch: {
      tags: [tag],
      operationId: `update_${entity.name}`,
      summary: `Update fields of one ${entity.name}`,
      description: 'Only the given fields change; an empty object changes nothing.',
      parameters: [idParameter(entity.name)],
      requestBody: { required: true, content: json(ref(`${T}Patch`)) },
      responses: { 200: one, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound', 'Conflict') },
    },
    delete: {
      tags: [tag],
      operationId: `delete_${entity.name}`,
      summary: `Delete one ${entity.name}`,
      description: 'Rows referencing it through `on_delete: cascade` refs are deleted too; `restrict` refs answer 409.',
      parameters: [idParameter(entity.name)],
      responses: { 204: { description: 'Deleted.' }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound', 'Conflict') },
    },
  };
}

/** Build the document (uncached). */
function buildDocument(model: Model, maxLimit: number): OpenApiDocument {
  const entities = [...model.entities.values()].filter((e) => !e.system);
  const schemas: Record<string, JsonSchema> = {};
  const paths: Record<string, JsonSchema> = {};
  for (const e of entities) entityPaths(e, maxLimit, schemas, paths);
  ingestSchemas(entities, schemas);
  paths['/api/v1/ingest'] = {
    post: {
      tags: ['ingestion'],
      operationId: 'ingest',
      summary: 'Write a batch of events (create, upsert, update, delete of any entity)',
      description:
        'Each event succeeds or fails on its own; events of one entity and operation are written with one statement, parents first, in one transaction.',
      requestBody: { required: true, content: json(ref('IngestRequest')) },
      responses: {
        207: { description: 'One result per event: `successes` and `errors`.', content: json(ref('IngestResponse')) },
        ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'PayloadTooLarge'),
      },
    },
  };
  fixedPaths(paths);

  const errorSchema = copy(errorBodySchema);
  const errorObject = (errorSchema.properties as Record<string, JsonSchema>).error;
  (errorObject.properties as Record<string, JsonSchema>).code.enum = Object.keys(HTTP_STATUS) as ErrorCode[];
  errorObject.required = ['code', 'message', 'details'];
  errorSchema.required = ['error', 'request_id'];
  schemas.Error = errorSchema;
  schemas.Project = copy(projectSchema);
  schemas.ApiKey = copy(keyInfoSchema);
  schemas.CreatedApiKey = copy(createdKeySchema);
  memberSchemas(schemas);
  (schemas.CreatedApiKey.properties as Record<string, JsonSchema>).role.enum = [...PROJECT_ROLES];
  schemas.Health = copy(healthSchema);

  const responses: Record<string, JsonSchema> = {};
  for (const [name, [, description]] of Object.entries(ERROR_RESPONSES)) responses[name] = { description, content: json(ref('Error')) };

  const modelText = model.description ? `${model.description}\n\n` : '';
  return {
    openapi: '3.1.0',
    info: {
      title: `Lattice REST API — model "${model.name}"`,
      version: model.hash.slice(0, 12),
      description:
        `${modelText}Generated from the model (version = the model hash). Authenticate with ` +
        '`Authorization: Bearer <secret key>` or Basic `<public key>:<secret key>`. Errors answer ' +
        '`{ "error": { "code", "message", "details" }, "request_id" }`. GraphQL is served at `/graphql`.',
    },
    servers: [{ url: '/', description: 'This server' }],
    security: [{ bearerAuth: [] }, { basicAuth: [] }],
    tags: [
      ...entities.map((e) => ({ name: e.plural, description: e.description ?? `${e.typeName} rows.` })),
      { name: 'ingestion', description: 'Batches of write events (SPEC R-2).' },
      { name: 'administration', description: 'Projects, API keys, users and project members.' },
      { name: 'operations', description: 'Health and this document.' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The secret key (`lk-sk-…`).' },
        basicAuth: { type: 'http', scheme: 'basic', description: 'Public key as user name, secret key as password.' },
      },
      schemas,
      responses,
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** Cache: per Model object, per maxLimit, the document and its JSON text. */
const cache = new WeakMap<Model, Map<number, { doc: OpenApiDocument; text: string }>>();

function cached(model: Model, options: OpenApiOptions): { doc: OpenApiDocument; text: string } {
  const maxLimit = options.maxLimit ?? DEFAULT_LIMITS.maxLimit;
  let perModel = cache.get(model);
  if (!perModel) cache.set(model, (perModel = new Map()));
  let hit = perModel.get(maxLimit);
  if (!hit) {
    const doc = deepFreeze(buildDocument(model, maxLimit));
    perModel.set(maxLimit, (hit = { doc, text: JSON.stringify(doc) }));
  }
  return hit;
}

/**
 * The OpenAPI 3.1 document of `model`'s REST API, built once per Model object and `maxLimit` and then shared:
 * it is deeply frozen (copy it with `structuredClone` before handing it to code that mutates, such as
 * dereferencing validators).
 * @throws Error only on a model the server itself could not serve (names are validated by `src/model`)
 */
export function openapiDocument(model: Model, options: OpenApiOptions = {}): OpenApiDocument {
  return cached(model, options).doc;
}

/** The document as compact JSON text (what `GET /api/openapi.json` sends), cached like {@link openapiDocument}. */
export function openapiJson(model: Model, options: OpenApiOptions = {}): string {
  return cached(model, options).text;
}
