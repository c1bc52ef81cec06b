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
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
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
  PERSISTED_QUERY_NOT_FOUND: 400,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
};

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

/**
 * Recognise failures that are the client's fault though raised below the API layer, so they answer 4xx, not
 * 500: database data exceptions (SQLSTATE class 22: NUL characters, numbers out of range, bad formats), a
 * stack overflow from input nested too deeply, and a statement cancelled by the request statement timeout
 * (SQLSTATE 57014). The database's own text is never included.
 * @returns a LatticeError BAD_USER_INPUT (QUERY_TOO_COMPLEX for the timeout), or null when `err` is something else
 */
export function userErrorFromFailure(err: unknown): LatticeError | null {
  if (err instanceof LatticeError) return null;
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
