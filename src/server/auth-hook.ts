/**
 * The authentication hook (SPEC ): on every request, the credentials are turned into
 * `request.principal` by one {@link Authenticator}, which the subscription transports (`src/live/transports.ts`,
 * at connection init and on every re-check) use as well. In order:
 *
 * 1. Trusted proxy headers (`src/auth/proxy.ts`): `X-Lattice-User-Id` / `-Role` / `-Project-Ids` with the proxy
 *    secret header. Identity headers without a valid secret, or when not enabled, are a 401. When the proxy's
 *    identity is valid it wins over an `Authorization` header the gateway passed through.
 * 2. `Authorization: Bearer <three base64url segments>` is a JWT (`src/auth/jwt.ts`); API key secrets start
 *    with `lk-sk-` and contain no dot.
 * 3. Anything else in `Authorization` is an API key (`src/auth/api-keys.ts`).
 *
 * Proxy and token identities become principals through their Lattice user (created on first sight) and its
 * memberships (`src/auth/identity.ts` `resolveIdentity`).
 *
 * Invalid credentials are refused at once (401, or 403 for a valid identity without projects); no credentials
 * leave the principal unset, so open routes (health, docs) work and data routes answer 401 through
 * {@link requirePrincipal}.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate, cachedPrincipal, parseAuthorization } from '../auth/api-keys.js';
import { createJwtVerifier, looksLikeJwt, readJwtConfig, type JwtConfig } from '../auth/jwt.js';
import type { Principal } from '../auth/principal.js';
import { resolveIdentity } from '../auth/identity.js';
import { hasProxyIdentity, proxyIdentity, readProxyConfig, type HeaderBag, type ProxyConfig } from '../auth/proxy.js';
import type { Queryable } from '../db/types.js';
import { LatticeError, unauthenticated } from '../errors.js';

/** Which credentials besides API keys are accepted; each is read from the environment when not given. */
export interface AuthOptions {
  /** JWT verification; undefined: `readJwtConfig(process.env)`; null: JWTs refused. */
  readonly jwt?: JwtConfig | null;
  /** Trusted proxy headers; undefined: `readProxyConfig(process.env)`; null: not enabled. */
  readonly proxy?: ProxyConfig | null;
}

/** Turns request headers into a principal: the one authentication of HTTP requests and subscriptions. */
export interface Authenticator {
  readonly jwt: JwtConfig | null;
  readonly proxy: ProxyConfig | null;
  /**
   * @param headers request headers (lower-case names); for a WebSocket, the upgrade request's headers with
   *        `authorization` taken from the connection parameters
   * @returns the principal, or null when the headers carry no credentials at all
   * @throws LatticeError UNAUTHENTICATED for invalid credentials (message says what failed, never echoes
   *         them); FORBIDDEN for a valid identity without role or projects; INTERNAL when a JWKS is unreachable;
   *         the driver's error when the database is unreachable
   */
  authenticate(headers: HeaderBag): Promise<Principal | null>;
  /**
   * Re-check credentials of a long-lived subscription (revoked key, expired token).
   * @returns the principal, or null when the credentials are missing or no longer accepted (401/403)
   * @throws other failures (database, JWKS unreachable)
   */
  recheck(headers: HeaderBag): Promise<Principal | null>;
}

const INVALID_KEY =
  'Invalid credentials: send "Authorization: Bearer <secret key>" or Basic base64(<public key>:<secret key>) with a valid, unrevoked API key.';

/**
 * Create the authenticator. Reads `LATTICE_JWT_*` and `LATTICE_PROXY_*` unless `options` gives them.
 * @throws LatticeError BAD_USER_INPUT for invalid configuration (at start, naming the variable)
 */
export function createAuthenticator(db: Queryable, options: AuthOptions = {}): Authenticator {
  const jwt = options.jwt === undefined ? readJwtConfig() : options.jwt;
  const proxy = options.proxy === undefined ? readProxyConfig() : options.proxy;
  const verifier = jwt ? createJwtVerifier(jwt) : null;
  const authenticateHeaders = async (headers: HeaderBag): Promise<Principal | null> => {
    const fromProxy = proxyIdentity(headers, proxy);
    if (fromProxy) return resolveIdentity(db, fromProxy);
    const header = headers.authorization;
    if (header === undefined || header === '') return null;
    if (typeof header !== 'string') throw unauthenticated('Send one Authorization header.');
    const creds = parseAuthorization(header);
    if (creds?.kind === 'bearer' && looksLikeJwt(creds.secret)) {
      if (!verifier) {
        throw unauthenticated(
          'JWT bearer tokens are not accepted: this server has no JWT verification configured (LATTICE_JWT_SECRET, LATTICE_JWT_PUBLIC_KEY or LATTICE_JWT_JWKS_URL); use an API key.',
        );
      }
      return resolveIdentity(db, await verifier.verify(creds.secret));
    }
    const principal = await authenticate(db, header);
    if (!principal) throw unauthenticated(INVALID_KEY);
    return principal;
  };
  return {
    jwt,
    proxy,
    authenticate: authenticateHeaders,
    async recheck(headers) {
      try {
        return await authenticateHeaders(headers);
      } catch (err) {
        if (err instanceof LatticeError && (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN')) return null;
        throw err;
      }
    },
  };
}

const authenticators = new WeakMap<FastifyInstance, Authenticator>();

/**
 * The authenticator registered on `app` by {@link registerAuthHook} (for the subscription transports).
 * @throws Error when the hook was not registered
 */
export function authenticatorOf(app: FastifyInstance): Authenticator {
  const a = authenticators.get(app);
  if (!a) throw new Error('registerAuthHook must be called before the subscription transports are registered');
  return a;
}

/**
 * Register the `onRequest` hook that sets `request.principal` (see the module comment for the order).
 * @throws LatticeError BAD_USER_INPUT for invalid JWT or proxy configuration (see {@link createAuthenticator})
 */
export function registerAuthHook(app: FastifyInstance, db: Queryable, options: AuthOptions = {}): Authenticator {
  const auth = createAuthenticator(db, options);
  authenticators.set(app, auth);
  if (auth.jwt) {
    const { jwt } = auth;
    app.log.info({ algorithms: jwt.algorithms, issuer: jwt.issuer, audience: jwt.audience }, 'JWT bearer tokens accepted');
    if ((jwt.publicKey || jwt.jwksUrl) && !jwt.audience) {
      app.log.warn('LATTICE_JWT_AUDIENCE is not set: any token of the identity provider is accepted, including tokens issued for other APIs');
    }
  }
  if (auth.proxy) app.log.info({ header: auth.proxy.secretHeader }, 'Trusted proxy headers accepted');
  // A callback hook: an API key verified moments ago (the credential cache) is accepted synchronously, without
  // the promises of the full check; anything else (no credentials, proxy headers, JWTs, a key not cached) takes
  // the full check, whose order of checks this shortcut cannot change: only `authenticate` fills that cache.
  app.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers.authorization;
    const known = typeof header === 'string' && header !== '' && !hasProxyIdentity(request.headers) ? cachedPrincipal(header) : undefined;
    if (known) {
      request.principal = known;
      done();
      return;
    }
    auth.authenticate(request.headers).then(
      (principal) => {
        if (principal) request.principal = principal;
        done();
      },
      (err: Error) => done(err),
    );
  });
  return auth;
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
