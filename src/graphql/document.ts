/**
 * Parsing and validation of GraphQL documents with an LRU cache (SPEC G-11): a repeated query text skips
 * parse and validate. The cache is per schema (a model swap builds a new schema and so a new cache) and per
 * rule set (a document valid with introspection on may be invalid with it off, SPEC G-16); variables are
 * never part of the key: they stay bind parameters. Repeated query documents are usually answered before
 * this by the plan cache (`plan-cache.ts`), which keeps the validated document with its compiled plans.
 */
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { fromGraphQLErrors } from './errors.js';

/** Validation options of a server. */
export interface ValidationOptions {
  /** GraphQL introspection allowed (default true); when false, `__schema` / `__type` fail validation. */
  readonly introspection?: boolean;
}

/** graphql-js' rules plus, with introspection off, its `NoSchemaIntrospectionCustomRule`. */
const NO_INTROSPECTION_RULES = [...specifiedRules, NoSchemaIntrospectionCustomRule];

/** Cached documents per schema: valid with introspection on, and valid with it off. */
const caches = new WeakMap<GraphQLSchema, LRUCache<string, DocumentNode>>();
const closedCaches = new WeakMap<GraphQLSchema, LRUCache<string, DocumentNode>>();

/** Maximum number of cached documents per schema. */
export const DOCUMENT_CACHE_SIZE = 1000;
/** Longest query text (characters) that is cached; longer ones are parsed every time. */
const MAX_CACHED_TEXT = 100_000;

function cachesOf(options: ValidationOptions): WeakMap<GraphQLSchema, LRUCache<string, DocumentNode>> {
  return options.introspection === false ? closedCaches : caches;
}

function cacheFor(schema: GraphQLSchema, options: ValidationOptions): LRUCache<string, DocumentNode> {
  const byRules = cachesOf(options);
  let c = byRules.get(schema);
  if (!c) byRules.set(schema, (c = new LRUCache({ max: DOCUMENT_CACHE_SIZE })));
  return c;
}

/**
 * Parse `query` as a GraphQL document without validating it.
 * @throws GraphQLRequestError BAD_USER_INPUT with the syntax error and its location
 */
export function parseDocument(query: string): DocumentNode {
  try {
    return parse(query, { maxTokens: 50_000 });
  } catch (err) {
    if (err instanceof GraphQLError) throw fromGraphQLErrors([err]);
    throw err;
  }
}

/**
 * Validate a parsed document against the schema with graphql-js' specified rules (plus
 * `NoSchemaIntrospectionCustomRule` when `options.introspection` is false), caching valid documents.
 * @param query the query text (the cache key)
 * @param document its parsed form
 * @throws GraphQLRequestError BAD_USER_INPUT carrying every validation error (with introspection off, one
 *         names each `__schema` / `__type` field: "GraphQL introspection has been disabled, but the requested
 *         query contained the field ...")
 */
export function validateDocument(schema: GraphQLSchema, query: string, document: DocumentNode, options: ValidationOptions = {}): DocumentNode {
  const rules = options.introspection === false ? NO_INTROSPECTION_RULES : specifiedRules;
  const errors = validate(schema, document, rules, { maxErrors: 50 });
  if (errors.length > 0) throw fromGraphQLErrors(errors);
  if (query.length <= MAX_CACHED_TEXT) cacheFor(schema, options).set(query, document);
  return document;
}

/** A document already parsed and validated for this schema (under the same options), or undefined. */
export function cachedDocument(schema: GraphQLSchema, query: string, options: ValidationOptions = {}): DocumentNode | undefined {
  return cachesOf(options).get(schema)?.get(query);
}
