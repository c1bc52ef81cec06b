/**
 * Route-schema validation (GUIDE "routes with schemas"; SPEC R-1 and the security bar: wrong types and
 * unknown fields are a 400).
 *
 * Fastify's default Ajv settings coerce types everywhere and strip unknown properties. Here, through
 * Fastify's own compiler (`@fastify/ajv-compiler`, so shared schemas from `addSchema` keep working):
 * - request bodies are validated strictly: no type coercion (`{"name": 5}` is not a string), and
 *   `additionalProperties: false` rejects instead of stripping;
 * - query strings, params and headers keep `coerceTypes: 'array'` (they arrive as strings: `?limit=10`).
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

type ValidatorFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator'];

/** The runtime contract of a validator compiler (the package's typings describe it as `compile(schema)`). */
type RouteCompiler = (route: { schema: object; method: string; url: string; httpPart: string }) => unknown;
type PoolFactory = (externalSchemas: unknown, options: { customOptions?: Record<string, unknown> } & Record<string, unknown>) => RouteCompiler;

/** `schemaController.compilersFactory.buildValidator` implementing the policy above. */
export const buildValidator = ((externalSchemas: unknown, ajvOptions?: { customOptions?: Record<string, unknown> }) => {
  const pool = AjvCompiler() as unknown as PoolFactory;
  const custom = { ...(ajvOptions?.customOptions ?? {}), removeAdditional: false };
  const loose = pool(externalSchemas, { ...ajvOptions, customOptions: { ...custom, coerceTypes: 'array' } });
  const strict = pool(externalSchemas, { ...ajvOptions, customOptions: { ...custom, coerceTypes: false } });
  const compile: RouteCompiler = (route) => (route.httpPart === 'body' ? strict(route) : loose(route));
  return compile;
}) as unknown as ValidatorFactory;
