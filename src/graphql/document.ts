/**
 * Parsing and validation of GraphQL documents with an LRU cache (SPEC G-11): a repeated query text skips
 * parse and validate. The cache is per schema (a model swap builds a new schema and so a new cache); variables
 * are never part of the key: they stay bind parameters.
 */
import { GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import { fromGraphQLErrors } from './errors.js';

/** Cached documents per schema. */
const caches = new WeakMap<GraphQLSchema, LRUCache<string, DocumentNode>>();

/** Maximum number of cached documents per schema. */
export const DOCUMENT_CACHE_SIZE = 1000;
/** Longest query text (characters) that is cached; longer ones are parsed every time. */
const MAX_CACHED_TEXT = 100_000;

function cacheFor(schema: GraphQLSchema): LRUCache<string, DocumentNode> {
  let c = caches.get(schema);
  if (!c) caches.set(schema, (c = new LRUCache({ max: DOCUMENT_CACHE_SIZE })));
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
 * Validate a parsed document against the schema with graphql-js' specified rules, caching valid documents.
 * @param query the query text (the cache key)
 * @param document its parsed form
 * @throws GraphQLRequestError BAD_USER_INPUT carrying every validation error
 */
export function validateDocument(schema: GraphQLSchema, query: string, document: DocumentNode): DocumentNode {
  const errors = validate(schema, document, undefined, { maxErrors: 50 });
  if (errors.length > 0) throw fromGraphQLErrors(errors);
  if (query.length <= MAX_CACHED_TEXT) cacheFor(schema).set(query, document);
  return document;
}

/** A document already parsed and validated for this schema, or undefined. */
export function cachedDocument(schema: GraphQLSchema, query: string): DocumentNode | undefined {
  return caches.get(schema)?.get(query);
}
