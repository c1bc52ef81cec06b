/**
 * API keys (SPEC A-2, A-3): a public key `lk-pk-…` and a secret `lk-sk-…`, the secret stored only as a hash.
 *
 * Keys live in `lattice.api_keys(id, project_id, role, name, public_key, secret_hash, created_at, revoked_at,
 * last_used_at, expires_at)`. An admin key has `project_id` NULL and role `admin`; a project key has one project
 * and the role `owner`, `editor` or `viewer`. A key with `expires_at` is refused from that instant on (401
 * saying so); `last_used_at` is refreshed at most once a minute per key (see `authenticate`), never by a write
 * per request.
 *
 * Hashing: secrets are 32 random bytes (256 bits of entropy), so a fast cryptographic hash (SHA-256, hex) is
 * the standard choice — slow password hashes (bcrypt, scrypt, argon2) exist to stretch *low*-entropy human
 * passwords and would only add latency to every request here (the same reasoning as GitHub's and Stripe's
 * token storage). Hashes are compared with `crypto.timingSafeEqual`.
 *
 * All queries here run as the database owner (system tables are not under row-level security).
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import type { Queryable } from '../db/types.js';
import { badInput, unauthenticated } from '../errors.js';
import { PROJECT_ROLES, type Principal, type ProjectRole, type Role } from './principal.js';

export { PROJECT_ROLES, type ProjectRole };

export const PUBLIC_KEY_PREFIX = 'lk-pk-';
export const SECRET_KEY_PREFIX = 'lk-sk-';
/** Random bytes per key (256 bits); base64url-encoded that is 43 characters. */
const KEY_BYTES = 32;

/** A stored key as listed: never the secret, never its hash. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly project_id: string | null;
  readonly role: Role;
  readonly name: string | null;
  readonly public_key: string;
  /** ISO-8601 timestamps. */
  readonly created_at: string;
  readonly revoked_at: string | null;
  /** Refreshed at most once a minute per key. */
  readonly last_used_at: string | null;
  /** The key is refused from this instant on; null: never expires. */
  readonly expires_at: string | null;
}

/** A freshly created key: the only time `secret_key` is ever available. */
export interface CreatedApiKey {
  readonly id: string;
  readonly project_id: string | null;
  readonly role: Role;
  readonly name: string | null;
  readonly public_key: string;
  readonly secret_key: string;
  readonly expires_at: string | null;
}

/** SHA-256 of a secret, lowercase hex (64 characters). */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

function randomKey(prefix: string): string {
  return prefix + randomBytes(KEY_BYTES).toString('base64url');
}

/** ISO-8601 date-time with a time zone (`2026-12-31T00:00:00Z`, `2026-12-31T01:00:00+01:00`) or a date (`2026-12-31`, midnight UTC). */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/i;

/**
 * A key's expiry as given by a client: an ISO-8601 instant (with a time zone) or a date, in the future.
 * @param now the current time (tests)
 * @returns the instant
 * @throws LatticeError BAD_USER_INPUT for anything else (also impossible dates like 2026-02-31), saying what to send
 */
export function parseExpiry(value: string, now: Date = new Date()): Date {
  const text = value.trim();
  const m = ISO_INSTANT.exec(text);
  const at = m ? new Date(text) : new Date(NaN);
  const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const calendar = new Date(Date.UTC(y, mo - 1, d));
  if (Number.isNaN(at.getTime()) || calendar.getUTCMonth() !== mo - 1 || calendar.getUTCDate() !== d) {
    throw badInput(
      `"expires_at" must be an ISO-8601 date-time with a time zone, e.g. 2026-12-31T00:00:00Z, or a date like 2026-12-31 (got ${JSON.stringify(value.slice(0, 40))}).`,
    );
  }
  if (at.getTime() <= now.getTime()) throw badInput(`"expires_at" (${at.toISOString()}) is not in the future; a new key must expire later than now.`);
  return at;
}

/**
 * Create an API key and store its secret's hash.
 * @param db the Db or an open transaction (runs as owner)
 * @param options `projectId` null with role `admin` for an admin key; a project id with owner/editor/viewer
 *        otherwise; `expiresAt` when the key must stop working (undefined/null: never)
 * @returns the key including `secret_key` (shown once; only its SHA-256 is stored)
 * @throws LatticeError BAD_USER_INPUT when role and project do not match (admin with a project, or a project role
 *         without one), or `expiresAt` is not in the future
 */
export async function createApiKey(
  db: Queryable,
  options: { projectId: string | null; role: Role; name?: string | null; expiresAt?: Date | null },
): Promise<CreatedApiKey> {
  const { projectId, role } = options;
  if (role === 'admin' && projectId !== null) throw badInput('An admin key spans all projects: create it without a project.');
  if (role !== 'admin' && projectId === null) throw badInput(`A key with role '${role}' needs a project.`);
  const expiresAt = options.expiresAt ?? null;
  if (expiresAt && !(expiresAt.getTime() > Date.now())) throw badInput('A new key must expire in the future.');
  const id = uuidv7();
  const publicKey = randomKey(PUBLIC_KEY_PREFIX);
  const secretKey = randomKey(SECRET_KEY_PREFIX);
  const name = options.name ?? null;
  const { rows } = await db.query<{ expires_at: string | null }>(
    `INSERT INTO lattice.api_keys (id, project_id, role, name, public_key, secret_hash, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now(), $7) RETURNING to_json(expires_at) #>> '{}' AS expires_at`,
    [id, projectId, role, name, publicKey, hashSecret(secretKey), expiresAt?.toISOString() ?? null],
  );
  return { id, project_id: projectId, role, name, public_key: publicKey, secret_key: secretKey, expires_at: rows[0].expires_at };
}

const INFO_COLUMNS = `id::text AS id, project_id::text AS project_id, role, name, public_key,
  to_json(created_at) #>> '{}' AS created_at, to_json(revoked_at) #>> '{}' AS revoked_at,
  to_json(last_used_at) #>> '{}' AS last_used_at, to_json(expires_at) #>> '{}' AS expires_at`;

/**
 * List keys, newest first, without secrets.
 * @param filter `projectId`: only that project's keys; `null`: only admin keys; omitted: all keys.
 *        `includeRevoked` (default true) keeps revoked keys in the list (their `revoked_at` is set).
 */
export async function listApiKeys(
  db: Queryable,
  filter: { projectId?: string | null; includeRevoked?: boolean } = {},
): Promise<ApiKeyInfo[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.projectId === null) where.push('project_id IS NULL');
  else if (filter.projectId !== undefined) {
    params.push(filter.projectId);
    where.push(`project_id = $${params.length}`);
  }
  if (filter.includeRevoked === false) where.push('revoked_at IS NULL');
  const sql = `SELECT ${INFO_COLUMNS} FROM lattice.api_keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY created_at DESC, id DESC`;
  return (await db.query<ApiKeyInfo>(sql, params)).rows;
}

/**
 * Revoke a key (sets `revoked_at`; the row stays for auditing). Credentials cached by `authenticate` in this
 * process are dropped at once; other server instances stop accepting the key within the cache TTL (5 s).
 * @param filter.projectId when given, only a key of that project is revoked (an owner revoking its own keys)
 * @returns the key after revocation, or null when no such (matching) key exists. Revoking twice keeps the first time.
 */
export async function revokeApiKey(db: Queryable, keyId: string, filter: { projectId?: string } = {}): Promise<ApiKeyInfo | null> {
  const params: unknown[] = [keyId];
  let sql = `UPDATE lattice.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`;
  if (filter.projectId !== undefined) {
    params.push(filter.projectId);
    sql += ` AND project_id = $2`;
  }
  const { rows } = await db.query<ApiKeyInfo>(`${sql} RETURNING ${INFO_COLUMNS}`, params);
  // Cached principals carry the canonical (lower-case) id; the caller's spelling may differ (`ABC…` is the same uuid).
  forgetKey(rows[0]?.id ?? keyId.toLowerCase());
  return rows[0] ?? null;
}

// ---------------------------------------------------------------------------------------------------------
// Authentication

/** How long a verified credential is trusted without asking the database again (ms). */
export const CREDENTIAL_CACHE_TTL_MS = 5_000;

/** Verified credentials: sha256(Authorization header) → Principal. Never holds secrets in clear. */
const verified = new LRUCache<string, Principal>({ max: 10_000, ttl: CREDENTIAL_CACHE_TTL_MS });

/**
 * Revocations seen by this process. `authenticate` caches a verification only when no revocation happened
 * while it was looking the key up, so a lookup that read the key just before its revocation committed cannot
 * re-insert it into the cache after `forgetKey` ran.
 */
let revocations = 0;

/** Drop every cached credential of one key (after a revocation). */
function forgetKey(keyId: string): void {
  revocations++;
  for (const [k, p] of verified.entries()) if (p.id === keyId) verified.delete(k);
}

/** Empty the credential cache (tests; after bulk key changes). */
export function clearCredentialCache(): void {
  verified.clear();
}

/** Credentials parsed from an Authorization header. */
type Credentials = { kind: 'basic'; publicKey: string; secret: string } | { kind: 'bearer'; secret: string };

/** Parse `Basic base64(pk:sk)` or `Bearer <secret>`; null for anything else. */
export function parseAuthorization(header: string): Credentials | null {
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return null;
    return { kind: 'basic', publicKey: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }
  if (scheme === 'bearer') return { kind: 'bearer', secret: m[2] };
  return null;
}

interface KeyRow {
  id: string;
  project_id: string | null;
  role: Role;
  secret_hash: string;
  stale: boolean;
  /** ISO-8601, or null. */
  expires_at: string | null;
  /** Milliseconds until expiry by the database's clock (≤ 0: expired), or null. */
  expires_in_ms: number | string | null;
}

/**
 * Turn an Authorization header into a Principal.
 *
 * Accepts `Basic base64(public_key:secret_key)` (looked up by public key, secret hash compared in constant
 * time) and `Bearer <secret_key>` (looked up by the secret's hash). Successful verifications are cached for
 * {@link CREDENTIAL_CACHE_TTL_MS} keyed by the header's SHA-256 (never past the key's expiry), so most requests
 * cost no extra query. `last_used_at` is refreshed at most once a minute per key: the look-up reads whether it
 * is older than a minute and only then sends an UPDATE (not awaited), so at most one write per key and minute
 * per server instance, and none for requests answered from the cache.
 *
 * @returns the principal (admin key → role admin, projectIds []; project key → its role, [project_id]),
 *          or null when the header is malformed, the key unknown, the secret wrong or the key revoked.
 * @throws LatticeError UNAUTHENTICATED when the key has expired (the message says when and what to do); the
 *         driver's error when the database is unreachable.
 */
export async function authenticate(db: Queryable, authorizationHeader: string): Promise<Principal | null> {
  const cacheKey = hashSecret(authorizationHeader);
  const cached = verified.get(cacheKey);
  if (cached) return cached;
  return lookUpKey(db, authorizationHeader, cacheKey);
}

/**
 * The principal `authenticate` would return for `authorizationHeader` from its cache of recent verifications,
 * without a promise (the request hook's fast path); undefined when not cached (call `authenticate`).
 */
export function cachedPrincipal(authorizationHeader: string): Principal | undefined {
  return verified.get(hashSecret(authorizationHeader));
}

async function lookUpKey(db: Queryable, authorizationHeader: string, cacheKey: string): Promise<Principal | null> {
  const creds = parseAuthorization(authorizationHeader);
  if (!creds || !creds.secret.startsWith(SECRET_KEY_PREFIX)) return null;
  if (creds.kind === 'basic' && !creds.publicKey.startsWith(PUBLIC_KEY_PREFIX)) return null;

  const presented = hashSecret(creds.secret);
  const epoch = revocations;
  const select = `SELECT id::text AS id, project_id::text AS project_id, role, secret_hash,
      (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale,
      to_json(expires_at) #>> '{}' AS expires_at, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS expires_in_ms
    FROM lattice.api_keys WHERE revoked_at IS NULL AND `;
  const { rows } =
    creds.kind === 'basic'
      ? await db.query<KeyRow>(`${select} public_key = $1`, [creds.publicKey])
      : await db.query<KeyRow>(`${select} secret_hash = $1`, [presented]);
  const row = rows[0];
  if (!row) return null;
  const a = Buffer.from(row.secret_hash, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
  const expiresInMs = row.expires_in_ms === null ? null : Number(row.expires_in_ms);
  if (expiresInMs !== null && expiresInMs <= 0) {
    throw unauthenticated(`This API key expired at ${row.expires_at}; create a new key (lattice key create, or POST /api/v1/projects/{id}/keys).`);
  }

  const principal: Principal =
    row.role === 'admin'
      ? { kind: 'api_key', id: row.id, role: 'admin', projectIds: [] }
      : { kind: 'api_key', id: row.id, role: row.role, projectIds: row.project_id ? [row.project_id] : [] };
  if (epoch === revocations) {
    verified.set(cacheKey, principal, expiresInMs === null ? undefined : { ttl: Math.max(1, Math.min(CREDENTIAL_CACHE_TTL_MS, Math.floor(expiresInMs))) });
  }
  if (row.stale) {
    // Bookkeeping only: a failure here must not fail the request.
    db.query(`UPDATE lattice.api_keys SET last_used_at = now() WHERE id = $1`, [row.id]).catch(() => undefined);
  }
  return principal;
}
