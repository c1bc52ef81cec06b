/**
 * Cancelling a request's database work when its client goes away (SPEC G-12, issue 8 item 5): driver-neutral
 * part. The node-postgres mechanics (a protocol CancelRequest) are in `pg-cancel.ts`.
 *
 * The cancellation is AMBIENT: the HTTP layer runs each request inside `runWithCancellation` (an
 * `AsyncLocalStorage` scope, the pattern the request id and span already use, `server/telemetry.ts`), and the
 * request-role methods of both drivers (`Db.withPrincipal`, `Db.queryAs`) read it with `currentCancellation()`
 * when they are called. Decision: threading an explicit signal parameter instead would have to pass through
 * every path between a route and the Db (GraphQL queries and mutations, REST reads and writes, ingestion, the
 * traces API, the write-isolation retry, the metrics wrapper around the Db), and a path that forgot it would
 * silently never cancel; the ambient scope covers all of them. Owner work (`Db.query`, `Db.transaction`:
 * migrations, key look-ups, model changes) never reads it: administration is not cut off halfway by a client.
 *
 * A `Cancellation` rather than an `AbortSignal`: one is created per request, and on Node 20 an AbortSignal (an
 * EventTarget) costs several µs to create (measured 8–30 µs on the shared 2-core machine, against well under
 * 1 µs for this object), a noticeable share of a ~50 µs request.
 *
 * Background work started from inside a request must not inherit the request's cancellation (a NOTIFY handler
 * or a timer created during a request carries the request's async context): such code runs its callbacks
 * through `withoutCancellation` (see `pg-listener.ts`, `pglite.ts` `listen`).
 *
 * What a cancellation does (both drivers): work not yet sent is skipped (no connection checked out, no
 * statement sent, a transaction rolled back instead of committed) and the call rejects with
 * `RequestCancelledError` (`CLIENT_CLOSED_REQUEST`, HTTP 499 — nobody reads the answer). On PostgreSQL a
 * statement running when it fires is cancelled on the server (`pg-cancel.ts`); on PGlite it finishes first
 * (see `pglite.ts`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LatticeError } from '../errors.js';

const noop = (): void => undefined;

/** The cancellation state of one request: cancelled once, when its client has gone. */
export class Cancellation {
  private done = false;
  private listeners: Set<() => void> | undefined;

  /** True once `cancel()` has been called. */
  get cancelled(): boolean {
    return this.done;
  }

  /** Cancel (idempotent): runs every listener once, synchronously. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    listeners?.forEach((listener) => listener());
  }

  /**
   * Call `listener` when cancelled (at once when already cancelled).
   * @returns a function removing the listener
   */
  onCancel(listener: () => void): () => void {
    if (this.done) {
      listener();
      return noop;
    }
    (this.listeners ??= new Set()).add(listener);
    return () => this.listeners?.delete(listener);
  }
}

const scope = new AsyncLocalStorage<Cancellation | undefined>();

/**
 * Run `fn` (and everything it starts, awaits or schedules) with `cancellation` as the ambient one.
 * @returns what `fn` returns
 */
export function runWithCancellation<T>(cancellation: Cancellation, fn: () => T): T {
  return scope.run(cancellation, fn);
}

/** Run `fn` with no ambient cancellation (background work started from inside a request). */
export function withoutCancellation<T>(fn: () => T): T {
  return scope.run(undefined, fn);
}

/** The ambient cancellation of the current request, or undefined outside one. */
export function currentCancellation(): Cancellation | undefined {
  return scope.getStore();
}

/**
 * The request's database work was cancelled because its client disconnected. Not a database error (no
 * SQLSTATE `code`): the write path's retry (`withWriteIsolation`) and the statement-timeout mapping (57014) do not
 * apply to it. The driver's error of an interrupted statement (57014) is its `cause`.
 */
export class RequestCancelledError extends LatticeError {
  /**
   * @param interrupted true when a statement was running and was cancelled on the server; false when the work
   *        was skipped or rolled back before anything more was sent
   */
  constructor(
    readonly interrupted: boolean,
    cause?: unknown,
  ) {
    super(
      'CLIENT_CLOSED_REQUEST',
      'The client closed the connection before the answer; the request was cancelled and nothing it started was committed.',
      [],
      cause === undefined ? undefined : { cause },
    );
    this.name = 'RequestCancelledError';
  }
}

/** True when `err` is (or wraps, through `cause`) a `RequestCancelledError`. */
export function isRequestCancelled(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RequestCancelledError) return true;
  }
  return false;
}

/**
 * @throws RequestCancelledError (not interrupted) when `cancellation` has been cancelled
 */
export function throwIfCancelled(cancellation: Cancellation | undefined): void {
  if (cancellation?.cancelled) throw new RequestCancelledError(false);
}
