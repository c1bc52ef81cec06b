/**
 * GraphQL-over-HTTP helpers (https://graphql.github.io/graphql-over-http/draft/): response media type
 * negotiation and extraction of the GraphQL request parameters from a POST body or GET query string.
 */
import { requestError } from './errors.js';
import type { GraphQLRequest } from './execute.js';

export const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json';
export const APPLICATION_JSON = 'application/json';
export type ResponseMedia = typeof GRAPHQL_RESPONSE_JSON | typeof APPLICATION_JSON;

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().split(';');
      const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const q = qp ? Number(qp.slice(2)) : 1;
      return { type: type.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0 };
    })
    .filter((r) => r.type.length > 0);
}

function quality(ranges: readonly MediaRange[], media: string): number {
  const [major] = media.split('/');
  let best = -1;
  let specificity = -1;
  for (const r of ranges) {
    const s = r.type === media ? 2 : r.type === `${major}/*` ? 1 : r.type === '*/*' ? 0 : -1;
    if (s > specificity) {
      specificity = s;
      best = r.q;
    }
  }
  return specificity < 0 ? 0 : best;
}

/**
 * The response media type for an `Accept` header: `application/graphql-response+json` unless the client
 * prefers `application/json`. A missing header means `application/graphql-response+json` (the spec's rule
 * after its 2025 watershed).
 * @returns the media type, or null when the client accepts neither (answer 406)
 */
export function negotiateMedia(accept: string | undefined): ResponseMedia | null {
  if (!accept || accept.trim() === '') return GRAPHQL_RESPONSE_JSON;
  const ranges = parseAccept(accept);
  const gql = quality(ranges, GRAPHQL_RESPONSE_JSON);
  const json = quality(ranges, APPLICATION_JSON);
  if (gql <= 0 && json <= 0) return null;
  return gql >= json ? GRAPHQL_RESPONSE_JSON : APPLICATION_JSON;
}

/** True when a browser asks for HTML in preference to JSON (`Accept: text/html,...`). */
export function wantsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const html = quality(ranges, 'text/html');
  return ranges.some((r) => r.type === 'text/html') && html > 0 && html >= quality(ranges, APPLICATION_JSON) && html >= quality(ranges, GRAPHQL_RESPONSE_JSON);
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw requestError('BAD_USER_INPUT', `"${name}" must be a string.`);
  return value;
}

function variablesObject(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw requestError('BAD_USER_INPUT', '"variables" must be a JSON object mapping variable names to values.');
  }
  return value as Record<string, unknown>;
}

/**
 * The GraphQL request of a POST body `{ query, variables?, operationName?, extensions? }`.
 * @throws GraphQLRequestError BAD_USER_INPUT when the body is not such an object
 */
export function requestFromBody(body: unknown): GraphQLRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw requestError('BAD_USER_INPUT', 'The body must be a JSON object { "query": "...", "variables": {...}, "operationName": "..." } sent as application/json.');
  }
  const b = body as Record<string, unknown>;
  const query = optionalString(b.query, 'query');
  if (query === undefined) throw requestError('BAD_USER_INPUT', 'The body has no "query": send the GraphQL document as a string in "query".');
  // An empty operationName means "not given", as for GET (clients send "" for an anonymous operation).
  return { query, variables: variablesObject(b.variables), operationName: optionalString(b.operationName, 'operationName') || undefined };
}

/**
 * The GraphQL request of a GET query string (`query`, `variables` as JSON text, `operationName`).
 * @throws GraphQLRequestError BAD_USER_INPUT for a missing query or variables that are not JSON
 */
export function requestFromQueryString(params: Record<string, unknown>): GraphQLRequest {
  const query = optionalString(params.query, 'query');
  if (query === undefined) throw requestError('BAD_USER_INPUT', 'Missing "query" parameter: GET /graphql?query={projects{id}}.');
  let variables: unknown;
  const raw = optionalString(params.variables, 'variables');
  if (raw !== undefined && raw !== '') {
    try {
      variables = JSON.parse(raw);
    } catch {
      throw requestError('BAD_USER_INPUT', '"variables" must be URL-encoded JSON text, e.g. variables=%7B%22id%22%3A%22...%22%7D.');
    }
  }
  return { query, variables: variablesObject(variables), operationName: optionalString(params.operationName, 'operationName') || undefined };
}
