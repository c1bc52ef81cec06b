/**
 * Building blocks of the OpenAPI document (`openapi.ts`, `openapi-fixed.ts`): references, JSON content, the
 * standard error responses (each with the error shape of `src/server/errors.ts`).
 */
import type { JsonSchema } from './schemas.js';

export const WRITE_MODES = ['create', 'upsert', 'update', 'delete'] as const;

/** A mutable deep copy of a (possibly `as const`) schema literal. */
export function copy<T>(value: T): JsonSchema {
  return JSON.parse(JSON.stringify(value)) as JsonSchema;
}

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const responseRef = (name: string): JsonSchema => ({ $ref: `#/components/responses/${name}` });
export const json = (schema: JsonSchema) => ({ 'application/json': { schema } });

/** Standard error responses (components.responses), each with the error shape. */
export const ERROR_RESPONSES: Readonly<Record<string, [number, string]>> = {
  BadRequest: [400, 'Invalid request (code BAD_USER_INPUT, QUERY_TOO_COMPLEX, ...); `details` name each wrong part (`body[2].trial_id`, `querystring.limit`).'],
  Unauthenticated: [401, 'No or invalid credentials (code UNAUTHENTICATED).'],
  Forbidden: [403, "The key's role may not do this (code FORBIDDEN)."],
  NotFound: [404, 'No such row in the projects of this key (code NOT_FOUND); other projects\' rows are answered the same way.'],
  Conflict: [409, 'The id or a unique value is used by another row, or the row is still referenced (code CONFLICT).'],
  PayloadTooLarge: [413, 'The body or batch is larger than the server accepts (code PAYLOAD_TOO_LARGE).'],
  Internal: [500, 'Internal error (code INTERNAL); the request id identifies it in the server log.'],
};

/** `responses` entries for the given error response names. */
export function errors(...names: Array<keyof typeof ERROR_RESPONSES>): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const n of [...names, 'Internal']) out[String(ERROR_RESPONSES[n][0])] = responseRef(n);
  return out;
}
