/**
 * GraphQL-over-HTTP helpers (https://graphql.github.io/graphql-over-http/draft/): response media type
 * negotiation and extraction of the GraphQL request parameters (including the persisted-document ones,
 * `documentId` and `extensions`) from a POST body or GET query string.
 */
import { requestError } from './errors.js';
import type { PersistedRequestParts } from './persisted.js';

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

/** The quality the client gives `media` and how specifically it named it (2 exact, 1 `type/*`, 0 the full wildcard, -1 not at all). */
function match(ranges: readonly MediaRange[], media: string): { q: number; specificity: number } {
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
  return { q: specificity < 0 ? 0 : best, specificity };
}

function quality(ranges: readonly MediaRange[], media: string): number {
  return match(ranges, media).q;
}

/**
 * The response media type for an `Accept` header (GraphQL over HTTP, "Accept"): the type with the higher
 * quality; on a tie `application/graphql-response+json` only when the client named it exactly, else
 * `application/json`. So a request without `Accept`, or with only the full wildcard, is answered as `application/json`, as
 * the specification says a server SHOULD for legacy clients (with its rule that request errors then answer 200).
 * @returns the media type, or null when the client accepts neither (answer 406)
 */
export function negotiateMedia(accept: string | undefined): ResponseMedia | null {
  if (!accept || accept.trim() === '') return APPLICATION_JSON;
  const ranges = parseAccept(accept);
  const gql = match(ranges, GRAPHQL_RESPONSE_JSON);
  const json = match(ranges, APPLICATION_JSON);
  if (gql.q <= 0 && json.q <= 0) return null;
  if (gql.q !== json.q) return gql.q > json.q ? GRAPHQL_RESPONSE_JSON : APPLICATION_JSON;
  return gql.specificity === 2 ? GRAPHQL_RESPONSE_JSON : APPLICATION_JSON;
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

function extensionsObject(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw requestError('BAD_USER_INPUT', '"extensions" must be a JSON object, e.g. { "persistedQuery": { "version": 1, "sha256Hash": "..." } }.');
  }
  return value as Record<string, unknown>;
}

/** Parse a GET parameter holding URL-encoded JSON (`variables`, `extensions`); empty means absent. */
function jsonParam(params: Record<string, unknown>, name: string, example: string): unknown {
  const raw = optionalString(params[name], name);
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw requestError('BAD_USER_INPUT', `"${name}" must be URL-encoded JSON text, e.g. ${name}=${example}.`);
  }
}

/**
 * The GraphQL-over-HTTP request parameters before the document is resolved: `query` may be absent when the
 * request names a persisted document (`documentId`, or `extensions.persistedQuery`; `persisted.ts` resolves
 * it). Types are checked here; what the document is, is not.
 */
export interface GraphQLHttpParams extends PersistedRequestParts {
  readonly variables?: Record<string, unknown>;
  readonly operationName?: string;
}

/**
 * The GraphQL request of a POST body `{ query?, variables?, operationName?, extensions?, documentId? }`.
 * @throws GraphQLRequestError BAD_USER_INPUT when the body is not such an object or a member has the wrong type
 *         (`extensions` must be an object: a string or a list is refused)
 */
export function requestFromBody(body: unknown): GraphQLHttpParams {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw requestError('BAD_USER_INPUT', 'The body must be a JSON object { "query": "...", "variables": {...}, "operationName": "..." } sent as application/json.');
  }
  const b = body as Record<string, unknown>;
  return {
    query: optionalString(b.query, 'query'),
    variables: variablesObject(b.variables),
    // An empty operationName means "not given", as for GET (clients send "" for an anonymous operation).
    operationName: optionalString(b.operationName, 'operationName') || undefined,
    extensions: extensionsObject(b.extensions),
    documentId: optionalString(b.documentId, 'documentId'),
  };
}

/**
 * The GraphQL request of a GET query string (`query`, `variables` and `extensions` as URL-encoded JSON text,
 * `operationName`, `documentId`): a hash-only APQ request or a `documentId` makes a short, cacheable URL.
 * @throws GraphQLRequestError BAD_USER_INPUT for parameters that are not JSON where JSON is expected, or have
 *         the wrong type
 */
export function requestFromQueryString(params: Record<string, unknown>): GraphQLHttpParams {
  const variables = jsonParam(params, 'variables', '%7B%22id%22%3A%22...%22%7D');
  const extensions = jsonParam(params, 'extensions', '%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22...%22%7D%7D');
  return {
    query: optionalString(params.query, 'query'),
    variables: variablesObject(variables),
    operationName: optionalString(params.operationName, 'operationName') || undefined,
    extensions: extensionsObject(extensions),
    documentId: optionalString(params.documentId, 'documentId') || undefined,
  };
}
