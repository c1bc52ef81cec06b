/**
 * `lattice schema print` (SPEC G-16, C): the GraphQL SDL of a model — the schema the server would serve —
 * printed with graphql-js `printSchema`, without opening any database; and `lattice openapi` (SPEC R-3): the
 * OpenAPI document the server would serve at `/api/openapi.json` with the default limits.
 */
import { printSchema } from 'graphql';
import { buildSchema } from '../graphql/schema/build.js';
import type { Model } from '../model/types.js';
import { openapiDocument } from '../rest/openapi.js';

/**
 * The SDL of `model`'s GraphQL schema (types, inputs, enums, descriptions and `@deprecated` reasons), as
 * `printSchema` writes it; ends without a trailing newline.
 * @throws Error when the model's generated names collide (as the server would at start)
 */
export function schemaSdl(model: Model): string {
  return printSchema(buildSchema(model));
}

/**
 * The OpenAPI 3.1 document of `model`'s REST API as indented JSON: the same document as `GET /api/openapi.json`
 * of a server with the default `limits.maxLimit` (that route sends it compact).
 */
export function openapiText(model: Model): string {
  return JSON.stringify(openapiDocument(model), null, 2);
}
