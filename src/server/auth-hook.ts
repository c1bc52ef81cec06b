/**
 * The authentication hook (SPEC ): on every request, an `Authorization` header is turned into
 * `request.principal` by `src/auth/api-keys.ts`. Invalid credentials are refused at once (401); a missing
 * header leaves the principal unset, so open routes (health, docs) work and data routes answer 401 through
 * {@link requirePrincipal}.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate } from '../auth/api-keys.js';
import type { Principal } from '../auth/principal.js';
import type { Db } from '../db/types.js';
import { unauthenticated } from '../errors.js';

/** Register the `onRequest` hook that sets `request.principal`. Throws 401 for invalid credentials. */
export function registerAuthHook(app: FastifyInstance, db: Db): void {
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') return;
    const principal = await authenticate(db, header);
    if (!principal) {
      throw unauthenticated(
        'Invalid credentials: send "Authorization: Bearer <secret key>" or Basic base64(<public key>:<secret key>) with a valid, unrevoked API key.',
      );
    }
    request.principal = principal;
  });
}

/**
 * The request's principal, for routes that need credentials.
 * @throws LatticeError UNAUTHENTICATED (401) when the request carried none.
 */
export function requirePrincipal(request: FastifyRequest): Principal {
  if (!request.principal) {
    throw unauthenticated(
      'Authentication required: send "Authorization: Bearer <secret key>" (the key is printed by `lattice serve` and stored in .lattice/credentials).',
    );
  }
  return request.principal;
}
