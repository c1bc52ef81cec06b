/**
 * Trusted proxy headers (SPEC A-2, seed 001): behind a gateway that authenticates users itself, the gateway
 * forwards who the user is in `X-Lattice-User-Id`, `X-Lattice-Role` and `X-Lattice-Project-Ids`
 * (comma-separated UUIDs), together with a shared secret in `X-Lattice-Proxy-Secret` (name configurable).
 *
 * The identity headers are believed only with the right secret: enabled by `LATTICE_PROXY_SECRET`; the
 * presented secret is compared in constant time (`crypto.timingSafeEqual` over the SHA-256 digests of both,
 * which have equal length whatever was sent). Identity headers without a valid secret, or on a server where
 * proxy headers are not enabled, are answered with 401 — never trusted, never silently dropped (a client
 * should not believe it acts as someone it does not). Requests without identity headers authenticate as usual
 * (`Authorization`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { badInput, unauthenticated, type LatticeError } from '../errors.js';
import { checkSubject, parseProjectIds, type ExternalIdentity } from './identity.js';
import { isRole } from './principal.js';
import { PROXY_ISSUER } from './users.js';

/** Identity headers (lower case, as Node delivers them). */
export const PROXY_IDENTITY_HEADERS = { userId: 'x-lattice-user-id', role: 'x-lattice-role', projectIds: 'x-lattice-project-ids' } as const;
/** Default name of the secret header. */
export const DEFAULT_PROXY_SECRET_HEADER = 'X-Lattice-Proxy-Secret';
/** Shortest accepted proxy secret, in characters (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_PROXY_SECRET_LENGTH = 32;

/** Request headers as Node and Fastify hold them (names in lower case). */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** Verified configuration (`readProxyConfig`). */
export interface ProxyConfig {
  /** SHA-256 of `LATTICE_PROXY_SECRET` (the secret itself is not kept). */
  readonly secretDigest: Buffer;
  /** Secret header name as configured (for messages). */
  readonly secretHeader: string;
}

const DISPLAY = { userId: 'X-Lattice-User-Id', role: 'X-Lattice-Role', projectIds: 'X-Lattice-Project-Ids' } as const;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function configError(message: string): LatticeError {
  return badInput(`Proxy configuration: ${message}`);
}

/**
 * Read `LATTICE_PROXY_SECRET` and `LATTICE_PROXY_SECRET_HEADER` (default {@link DEFAULT_PROXY_SECRET_HEADER}).
 * @returns the configuration, or null when proxy headers are not enabled
 * @throws LatticeError BAD_USER_INPUT for a secret shorter than {@link MIN_PROXY_SECRET_LENGTH}, a header name
 *         that is not an HTTP token or is one of the identity headers, or a header name without a secret
 */
export function readProxyConfig(env: NodeJS.ProcessEnv = process.env): ProxyConfig | null {
  const secret = env.LATTICE_PROXY_SECRET;
  const header = env.LATTICE_PROXY_SECRET_HEADER?.trim() || undefined;
  if (secret === undefined || secret === '') {
    if (header) throw configError('LATTICE_PROXY_SECRET_HEADER is set but LATTICE_PROXY_SECRET is not; set both to enable trusted proxy headers.');
    return null;
  }
  if (secret.length < MIN_PROXY_SECRET_LENGTH) {
    throw configError(`LATTICE_PROXY_SECRET has ${secret.length} characters; use at least ${MIN_PROXY_SECRET_LENGTH} (e.g. "openssl rand -hex 32").`);
  }
  const name = header ?? DEFAULT_PROXY_SECRET_HEADER;
  const lower = name.toLowerCase();
  if (!/^[A-Za-z0-9-]+$/.test(name) || lower === 'authorization' || (Object.values(PROXY_IDENTITY_HEADERS) as string[]).includes(lower)) {
    throw configError(`LATTICE_PROXY_SECRET_HEADER must be a header name of letters, digits and dashes other than Authorization and the identity headers (got ${JSON.stringify(name)}).`);
  }
  return { secretDigest: digest(secret), secretHeader: name };
}

/** True when any identity header is present. */
export function hasProxyIdentity(headers: HeaderBag): boolean {
  return Object.values(PROXY_IDENTITY_HEADERS).some((h) => headers[h] !== undefined);
}

/** A header sent at most once; undefined when absent. @throws LatticeError UNAUTHENTICATED when repeated */
function single(headers: HeaderBag, name: string, display: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (Array.isArray(v)) throw unauthenticated(`The header ${display} was sent more than once; send it once.`);
  return v;
}

/**
 * The identity asserted by trusted proxy headers (issuer '', `users.ts` `PROXY_ISSUER`); the principal follows
 * from it and the user's memberships (`identity.ts` `resolveIdentity`).
 * @param config null when proxy headers are not enabled
 * @returns the identity, or null when the request carries none of the identity headers
 * @throws LatticeError UNAUTHENTICATED when identity headers come without proxy headers being enabled, without
 *         the secret header or with a wrong secret, or are incomplete or invalid (unknown role, project id not
 *         a UUID)
 */
export function proxyIdentity(headers: HeaderBag, config: ProxyConfig | null): ExternalIdentity | null {
  if (!hasProxyIdentity(headers)) return null;
  const names = `${DISPLAY.userId}, ${DISPLAY.role} and ${DISPLAY.projectIds}`;
  if (!config) {
    throw unauthenticated(
      `Trusted proxy headers are not enabled on this server, so ${names} are not accepted; remove them and send "Authorization: Bearer <key or token>", or enable them with LATTICE_PROXY_SECRET.`,
    );
  }
  const presented = single(headers, config.secretHeader, config.secretHeader);
  if (presented === undefined) {
    throw unauthenticated(`${names} are accepted only from the trusted proxy, with the header ${config.secretHeader}; it is missing.`);
  }
  if (!timingSafeEqual(digest(presented), config.secretDigest)) {
    throw unauthenticated(`${names} are accepted only from the trusted proxy; the header ${config.secretHeader} is wrong.`);
  }
  const subject = checkSubject(single(headers, PROXY_IDENTITY_HEADERS.userId, DISPLAY.userId), `The header ${DISPLAY.userId}`);
  const role = single(headers, PROXY_IDENTITY_HEADERS.role, DISPLAY.role)?.trim();
  if (!isRole(role)) throw unauthenticated(`The header ${DISPLAY.role} must be admin, owner, editor or viewer.`);
  const rawProjects = single(headers, PROXY_IDENTITY_HEADERS.projectIds, DISPLAY.projectIds);
  const projectIds = role === 'admin' || rawProjects === undefined ? [] : parseProjectIds([rawProjects], `The header ${DISPLAY.projectIds}`);
  return {
    issuer: PROXY_ISSUER,
    subject,
    role,
    projectIds,
    source: 'The proxy headers',
    projectsHint: `Send the project ids in ${DISPLAY.projectIds} (comma-separated UUIDs).`,
  };
}
