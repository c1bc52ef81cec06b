/**
 * `lattice schema print` (SPEC G-16, C): the GraphQL SDL of a model — the schema the server would serve —
 * printed with graphql-js `printSchema`, without opening any database.
 */
import { printSchema } from 'graphql';
import { buildSchema } from '../graphql/schema/build.js';
import type { Model } from '../model/types.js';

/**
 * The SDL of `model`'s GraphQL schema (types, inputs, enums, descriptions and `@deprecated` reasons), as
 * `printSchema` writes it; ends without a trailing newline.
 * @throws Error when the model's generated names collide (as the server would at start)
 */
export function schemaSdl(model: Model): string {
  return printSchema(buildSchema(model));
}
