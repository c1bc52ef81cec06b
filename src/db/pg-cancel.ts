/**
 * Cancelling a running statement on node-postgres when the request is cancelled (`cancel.ts`).
 *
 * The driver's mechanism, the PostgreSQL protocol's CancelRequest (https://www.postgresql.org/docs/current/
 * protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS): a NEW connection to the same server sends only the
 * backend's process id and secret key (from BackendKeyData at login, `client.processID` / `client.secretKey`);
 * the server interrupts whatever that backend is running with SQLSTATE 57014 and closes the new connection
 * without an answer. It is what node-postgres' own `Client.cancel` does (a `pg.Connection`, `connection.cancel`);
 * this calls it directly, since `Client.cancel` only cancels the driver's own query objects, not a pipeline. It
 * needs no privilege, unlike `pg_cancel_backend`, which the request role could not call on its own backends'
 * behalf anyway. Like node-postgres, the request is sent unencrypted (the server accepts it before any TLS or
 * authentication); a network that only lets TLS through drops it, and the statement then runs to its
 * `statement_timeout` as before.
 *
 * After the cancel: in `queryAs` the implicit transaction is aborted at the pipeline's Sync; in `withPrincipal`
 * the explicit one is rolled back (`postgres.ts`). Either way the connection returns to the pool idle and clean.
 *
 * The known race of CancelRequest: it acts on whatever the backend runs when it arrives. The connection is
 * therefore neither released nor used for anything else (ROLLBACK included) before the server has closed the
 * cancel connection, i.e. after it has signalled the backend; a signal reaching an idle backend is ignored by
 * PostgreSQL, so the cancel can never hit the next user of the pooled connection.
 */
import type { Socket } from 'node:net';
import pg from 'pg';
import { RequestCancelledError, throwIfCancelled, type Cancellation } from './cancel.js';

/** Longest wait for the server to take a CancelRequest (connect + close); then the cancel is given up. */
export const CANCEL_REQUEST_TIMEOUT_MS = 5_000;

/** The fields of a connected node-postgres client a CancelRequest needs (set from BackendKeyData at login). */
interface CancelTarget {
  readonly host?: string;
  readonly port?: number;
  readonly processID?: number | null;
  readonly secretKey?: number | null;
}

/**
 * Send a CancelRequest for `client`'s backend over a new connection.
 * @returns when the server has closed the cancel connection (it has signalled the backend), the connection
 *          failed, or after `CANCEL_REQUEST_TIMEOUT_MS`; never rejects (a failed cancel leaves the statement to its
 *          `statement_timeout`)
 */
export function sendCancelRequest(client: pg.ClientBase): Promise<void> {
  const target = client as unknown as CancelTarget;
  const { processID, secretKey } = target;
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return Promise.resolve();
  const host = target.host ?? 'localhost';
  const port = target.port ?? 5432;
  return new Promise<void>((resolve) => {
    const con = new pg.Connection() as pg.Connection & {
      connect(portOrPath: number | string, host?: string): void;
      cancel(processID: number, secretKey: number): void;
    };
    const socket = con.stream as Socket; // node-postgres' plain stream on Node: a net.Socket
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve();
    };
    con.on('error', done);
    con.on('end', done);
    socket.setTimeout(CANCEL_REQUEST_TIMEOUT_MS, done);
    con.once('connect', () => con.cancel(processID, secretKey));
    // As node-postgres' Client.cancel: a host starting with '/' is a Unix socket directory.
    if (host.startsWith('/')) con.connect(`${host}/.s.PGSQL.${port}`);
    else con.connect(port, host);
  });
}

/**
 * Run `statement` (work sent on `client`) so that a cancellation while it runs cancels it on the server.
 * Whatever `statement` did, the caller gets a `RequestCancelledError` when `cancellation` was cancelled by the
 * time it ended (so a transaction rolls back instead of committing), and only once a cancel sent meanwhile has
 * been taken by the server (see the file comment).
 * @returns what `statement` returns
 * @throws RequestCancelledError when `cancellation` is or becomes cancelled (`interrupted` when a cancel was
 *         sent; the statement's own error, if any, as `cause`); else the statement's error
 */
export async function runCancellable<T>(client: pg.ClientBase, cancellation: Cancellation | undefined, statement: () => Promise<T>): Promise<T> {
  if (!cancellation) return statement();
  throwIfCancelled(cancellation);
  let cancelling: Promise<void> | undefined;
  const stopWatching = cancellation.onCancel(() => {
    cancelling = sendCancelRequest(client);
  });
  let result: T | undefined;
  let failure: { error: unknown } | undefined;
  try {
    result = await statement();
  } catch (error) {
    failure = { error };
  } finally {
    stopWatching();
  }
  if (cancelling) await cancelling;
  if (cancellation.cancelled) throw new RequestCancelledError(cancelling !== undefined, failure?.error);
  if (failure) throw failure.error;
  return result as T;
}
