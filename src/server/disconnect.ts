/**
 * Cancellation of a request's database work when its client disconnects before the answer (SPEC G-12, issue 8
 * item 5). Each request runs inside a cancellation scope (`src/db/cancel.ts`), cancelled when the response
 * closes unsent, i.e. the connection was closed (client gone, timed out, proxy gave up) while the handler was
 * still working. The Db then sends nothing more for the request, cancels its running statement on PostgreSQL
 * (`src/db/pg-cancel.ts`) and rolls its transaction back; the handler ends with `CLIENT_CLOSED_REQUEST` (499),
 * written to nobody. Counted as `outcome="cancelled"` in the database metrics (`instrument-db.ts`).
 *
 * The response's `close` event, not the request's: on Node 20 the request emits `close` as soon as its body has
 * been read, for every request. Hijacked replies (the SSE stream of subscriptions) count as sent: for them the
 * disconnect is the normal end, not a cancellation. On by default; `LATTICE_CANCEL_ON_DISCONNECT=false` turns it off.
 */
import type { FastifyInstance } from 'fastify';
import { Cancellation, runWithCancellation } from '../db/cancel.js';
import { badInput } from '../errors.js';

/**
 * `LATTICE_CANCEL_ON_DISCONNECT`: `true`/`1`/`on`/`yes` or `false`/`0`/`off`/`no` (any case); unset means on.
 * Off suits clients that send a write and close without reading the answer (fire and forget).
 * @throws LatticeError BAD_USER_INPUT for any other value
 */
export function cancelOnDisconnectFromEnv(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return true;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(v)) return true;
  if (['false', '0', 'off', 'no'].includes(v)) return false;
  throw badInput(`LATTICE_CANCEL_ON_DISCONNECT is "${value}"; set it to true (cancel the work of clients that disconnect) or false.`);
}

/**
 * Install the cancellation scope on every request of `app` (register before hooks that query for the request).
 * @param enabled false installs nothing: requests then run to completion (or their statement timeout)
 */
export function registerCancelOnDisconnect(app: FastifyInstance, enabled = true): void {
  if (!enabled) return;
  // A callback hook running the rest of the request inside the scope, as `registerRequestObservability` does.
  app.addHook('onRequest', (request, reply, done) => {
    const cancellation = new Cancellation();
    reply.raw.once('close', () => {
      if (reply.sent) return; // answered (or hijacked) before the connection closed
      request.log.debug('client disconnected before the answer; cancelling its database work');
      cancellation.cancel();
    });
    runWithCancellation(cancellation, done);
  });
}
