/**
 * The HTTP error shape of SPEC R-1 / G-14, used by the global error handler and the 404 handler:
 * `{ "error": { "code", "message", "details": [...] }, "request_id": "..." }`.
 *
 * Anything that is not a `LatticeError` or a Fastify client error becomes `INTERNAL` with a generic
 * message; its text (database messages, stacks) is logged with the request id and shown only in
 * development mode. A database that cannot be reached answers 503 `DATABASE_UNAVAILABLE` with `Retry-After`
 * (`isDatabaseUnavailable` in `src/errors.ts`).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { metrics } from './metrics.js';
import { DATABASE_RETRY_AFTER_SECONDS, HTTP_STATUS, LatticeError, userErrorFromFailure, type ErrorCode, type ErrorDetail } from '../errors.js';

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details: readonly ErrorDetail[] };
  readonly request_id: string;
}

/** JSON schema of {@link ErrorBody}, for route `response` schemas (e.g. `response: { 400: errorBodySchema }`). */
export const errorBodySchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
    request_id: { type: 'string' },
  },
} as const;

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
};

/** Fastify schema-validation failures as details: `body.name`, `params.id`, `querystring.limit`. */
function validationDetails(err: FastifyError): ErrorDetail[] {
  const part = err.validationContext ?? 'body';
  return (err.validation ?? []).map((v) => {
    let path = part + (v.instancePath ? v.instancePath.replace(/\//g, '.') : '');
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      return { path: `${path}.${params.additionalProperty}`, message: 'unknown field; remove it' };
    }
    if (v.keyword === 'required' && typeof params.missingProperty === 'string') {
      path = `${path}.${params.missingProperty}`;
      return { path, message: 'is required' };
    }
    return { path, message: v.message ?? 'is invalid' };
  });
}

/**
 * The message of a 415 answer: the refused media type (the request's `Content-Type`, if any) and what to send.
 */
export function unsupportedMediaMessage(contentType: string | undefined): string {
  const type = contentType?.split(';')[0].trim().slice(0, 100);
  return `Unsupported media type${type ? ` "${type}"` : ' (no Content-Type)'}: send the body as JSON with "Content-Type: application/json".`;
}

/**
 * Classify any thrown value as `{ status, body }`.
 * @param mode `development` exposes internal error text; `production` never does
 * @param contentType the request's `Content-Type`, named in a 415 answer
 */
export function toErrorResponse(
  err: unknown,
  requestId: string,
  mode: 'development' | 'production',
  contentType?: string,
): { status: number; body: ErrorBody; internal: boolean } {
  const make = (status: number, code: ErrorCode, message: string, details: readonly ErrorDetail[] = []) => ({
    status,
    body: { error: { code, message, details }, request_id: requestId },
    internal: status >= 500,
  });
  err = userErrorFromFailure(err) ?? err;
  if (err instanceof LatticeError) return make(err.status, err.code, err.message, err.details);
  const fe = err as Partial<FastifyError> | undefined;
  if (fe && Array.isArray(fe.validation)) {
    const details = validationDetails(fe as FastifyError);
    const summary = details.map((d) => `${d.path} ${d.message}`).join('; ');
    return make(400, 'BAD_USER_INPUT', `Invalid request: ${summary}.`, details);
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return make(415, 'BAD_USER_INPUT', unsupportedMediaMessage(contentType));
  }
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return make(413, 'PAYLOAD_TOO_LARGE', 'The request body is larger than the server accepts; send smaller batches.');
  }
  if (status >= 400 && status < 500) {
    // Fastify client errors (malformed JSON, unsupported media type, ...): their messages are safe to show.
    return make(status, CODE_BY_STATUS[status] ?? 'BAD_USER_INPUT', fe?.message || 'Bad request.');
  }
  const generic = 'Internal server error; the request id identifies it in the server log.';
  const message = mode === 'development' && err instanceof Error ? `${generic} (${err.message})` : generic;
  return make(HTTP_STATUS.INTERNAL, 'INTERNAL', message);
}

/**
 * Send an error in the standard shape (logs internal errors with their cause and the request id).
 * Route plugins may call it to answer an error without throwing.
 */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown, mode: 'development' | 'production'): FastifyReply {
  const res = toErrorResponse(err, String(request.id), mode, request.headers['content-type']);
  metrics.countError(res.body.error.code);
  if (res.body.error.code === 'DATABASE_UNAVAILABLE') reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
  if (res.internal) {
    const cause = err instanceof LatticeError && err.cause !== undefined ? err.cause : err;
    request.log.error({ err: cause }, 'request failed');
  } else {
    request.log.info({ code: res.body.error.code, status: res.status }, res.body.error.message);
  }
  return reply.code(res.status).type('application/json; charset=utf-8').send(res.body);
}
