/**
 * Errors as values with a code (SPEC G-14), created in this one module.
 *
 * Every error a client may see is a `LatticeError`. Anything else that escapes is an internal error: the
 * server logs it with the request id and answers `INTERNAL` with a generic message (database text and stack
 * traces reach clients only in development mode).
 */

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'ROW_LIMIT_EXCEEDED'
  | 'QUERY_TOO_COMPLEX'
  | 'COST_LIMIT_EXCEEDED'
  | 'RATE_LIMITED'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNKNOWN_DOCUMENT'
  | 'PERSISTED_QUERY_REQUIRED'
  | 'DATABASE_UNAVAILABLE'
  | 'CLIENT_CLOSED_REQUEST'
  | 'INTERNAL';

/** HTTP status for each code (REST and GraphQL-over-HTTP error responses). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ROW_LIMIT_EXCEEDED: 400,
  QUERY_TOO_COMPLEX: 400,
  /** A GraphQL operation whose estimated cost is above `limits.maxCost` (SPEC G-12, `src/graphql/plan/cost.ts`). */
  COST_LIMIT_EXCEEDED: 400,
  /** Too many requests from one principal (or IP) in the rate-limit window; `Retry-After` says when to retry. */
  RATE_LIMITED: 429,
  PERSISTED_QUERY_NOT_FOUND: 400,
  PAYLOAD_TOO_LARGE: 413,
  /** A persisted document id (GraphQL-over-HTTP `documentId`, APQ hash) that is not in the allow-list. */
  UNKNOWN_DOCUMENT: 404,
  /** Trusted-documents mode: a free-form document that is not allow-listed. */
  PERSISTED_QUERY_REQUIRED: 403,
  /** The database cannot be reached (connection refused or lost, server shutting down or starting). */
  DATABASE_UNAVAILABLE: 503,
  /**
   * The client disconnected before the answer and its database work was cancelled (SPEC G-12; `src/db/cancel.ts`).
   * Nobody reads it: it names the outcome in logs and metrics (nginx's 499 "Client Closed Request").
   */
  CLIENT_CLOSED_REQUEST: 499,
  INTERNAL: 500,
};

/** Seconds a client should wait before retrying while the database is unavailable (`Retry-After`). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** One detail of a validation error: where (a path like `body[2].trial_id`) and what was expected. */
export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

/** A user-facing error: a code, a message saying what was wrong and what to do, optional details. */
export class LatticeError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly ErrorDetail[];

  constructor(code: ErrorCode, message: string, details: readonly ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LatticeError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

/** `BAD_USER_INPUT`: the request is malformed or invalid. */
export function badInput(message: string, details: readonly ErrorDetail[] = []): LatticeError {
  return new LatticeError('BAD_USER_INPUT', message, details);
}

/** `UNAUTHENTICATED`: credentials missing or invalid. */
export function unauthenticated(message: string): LatticeError {
  return new LatticeError('UNAUTHENTICATED', message);
}

/** `FORBIDDEN`: authenticated, but the role does not allow this. */
export function forbidden(message: string): LatticeError {
  return new LatticeError('FORBIDDEN', message);
}

/** `NOT_FOUND`: no such resource visible to the principal. */
export function notFound(message: string): LatticeError {
  return new LatticeError('NOT_FOUND', message);
}

/** `CONFLICT`: e.g. a client-supplied id already used by a row the principal cannot see. */
export function conflict(message: string): LatticeError {
  return new LatticeError('CONFLICT', message);
}

/** `INTERNAL`: an unexpected failure; the message shown to clients is generic. */
export function internal(message = 'Internal server error; the request id identifies it in the server log.', cause?: unknown): LatticeError {
  return new LatticeError('INTERNAL', message, [], { cause });
}

/** Normalise any thrown value into a LatticeError (unknown errors become `INTERNAL`, keeping the cause). */
export function toLatticeError(err: unknown): LatticeError {
  if (err instanceof LatticeError) return err;
  return internal(undefined, err);
}

/** Messages for database data exceptions (SQLSTATE class 22) caused by values in a request. */
const DATA_EXCEPTIONS: Readonly<Record<string, string>> = {
  '22021': 'A string contains a character the database cannot store (e.g. NUL, \\u0000); remove it.',
  '22P05': 'A JSON value contains a character the database cannot store (e.g. \\u0000); remove it.',
  '22003': 'A number is out of range for its field; use a smaller value.',
  '22P02': 'A value has the wrong format for its field; check its type.',
  '22007': 'A date or time value is not valid; use ISO-8601, e.g. 2026-11-21T16:48:00Z.',
  '22008': 'A date or time value is out of range.',
  '22001': 'A string is too long for its field.',
};

/** Node socket error codes of a database connection that could not be made or was lost. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server that is going away or not yet accepting work: 57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now (starting up, recovery), 53300 too_many_connections; class 08 (connection
 * exceptions) is matched as a class.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** node-postgres and pg-pool connection failures, which carry no code (pg 8, pg-pool 3). */
const CONNECTION_MESSAGES =
  /^(timeout exceeded when trying to connect|Connection terminated( unexpectedly| due to connection timeout)?|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Cannot use a pool after calling end on the pool)$/i;

/**
 * True when `err` says the database cannot be reached right now: a refused, reset or timed-out connection
 * (Node socket codes such as ECONNREFUSED, also inside an AggregateError or an error's `cause`), a server shutting
 * down or starting (SQLSTATE 57P01, 57P02, 57P03, 53300), a connection exception (SQLSTATE class 08), or
 * node-postgres' / pg-pool's own connection errors (pool connect timeout, connection terminated).
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 4) return false;
  const { code, message, cause, errors } = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
  if (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}

/**
 * `DATABASE_UNAVAILABLE` (503): the database cannot be reached; the client should retry after
 * {@link DATABASE_RETRY_AFTER_SECONDS}. The driver's text stays in `cause` (logged, never shown).
 */
export function databaseUnavailable(cause?: unknown): LatticeError {
  return new LatticeError(
    'DATABASE_UNAVAILABLE',
    `The database is unavailable right now (restarting or unreachable); retry in ${DATABASE_RETRY_AFTER_SECONDS} seconds (see Retry-After).`,
    [],
    { cause },
  );
}

/**
 * Recognise failures raised below the API layer that are not bugs of the server, so they do not answer 500:
 * - the client's fault (4xx): database data exceptions (SQLSTATE class 22: NUL characters, numbers out of range,
 *   bad formats), a stack overflow from input nested too deeply, a statement cancelled by the request statement
 *   timeout (SQLSTATE 57014);
 * - the database unavailable (503 `DATABASE_UNAVAILABLE`, see {@link isDatabaseUnavailable}).
 * The database's own text is never included.
 * @returns a LatticeError BAD_USER_INPUT (QUERY_TOO_COMPLEX for the timeout, DATABASE_UNAVAILABLE for a lost
 *          database), or null when `err` is something else
 */
export function userErrorFromFailure(err: unknown): LatticeError | null {
  if (err instanceof LatticeError) return null;
  if (isDatabaseUnavailable(err)) return databaseUnavailable(err);
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new LatticeError('BAD_USER_INPUT', 'The request is nested too deeply to process; flatten it.', [], { cause: err });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === '57014') {
    return new LatticeError(
      'QUERY_TOO_COMPLEX',
      'The request ran longer than the statement timeout and was cancelled; ask for fewer rows (limit), a narrower filter or less nesting.',
      [],
      { cause: err },
    );
  }
  if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) {
    const message = DATA_EXCEPTIONS[code] ?? `A value in the request is not valid for its field (SQLSTATE ${code}).`;
    return new LatticeError('BAD_USER_INPUT', message, [], { cause: err });
  }
  return null;
}
