/**
 * API keys (SPEC A-2, A-3): a public key `lk-pk-…` and a secret `lk-sk-…`, the secret stored only as a hash.
 *
 * Keys live in `lattice.api_keys(id, project_id, role, name, public_key, secret_hash, created_at, revoked_at,
 * last_used_at)`. An admin key has `project_id` NULL and role `admin`; a project key has one project and the
 * role `owner`, `editor` or `viewer`.
 *
 * Hashing: secrets are 32 random bytes (256 bits of entropy), so a fast cryptographic hash (SHA-256, hex) is
 * the standard choice — slow password hashes (bcrypt, scrypt, argon2) exist to stretch *low*-entropy human
 * passwords and would only add latency to every request here (the same reasoning as GitHub's and Stripe's
 * token storage). Hashes are compared with `crypto.timingSafeEqual`.
 *
 * All queries here run as the database owner (system tables are not under row-level security).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import type { Queryable } from '../db/types.js';
import { badInput } from '../errors.js';
import type { Principal, Role } from './principal.js';

export const PUBLIC_KEY_PREFIX = 'lk-pk-';
export const SECRET_KEY_PREFIX = 'lk-sk-';
/** Random bytes per key (256 bits); base64url-encoded that is 43 characters. */
const KEY_BYTES = 32;

/** Roles a project key may have (admin keys are project-less). */
export const PROJECT_ROLES = ['owner', 'editor', 'viewer'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

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
  readonly last_used_at: string | null;
}

/** A freshly created key: the only time `secret_key` is ever available. */
export interface CreatedApiKey {
  readonly id: string;
  readonly project_id: string | null;
  readonly role: Role;
  readonly name: string | null;
  readonly public_key: string;
  readonly secret_key: string;
}

/** SHA-256 of a secret, lowercase hex (64 characters). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function randomKey(prefix: string): string {
  return prefix + randomBytes(KEY_BYTES).toString('base64url');
}

/**
 * Create an API key and store its secret's hash.
 * @param db the Db or an open transaction (runs as owner)
 * @param options `projectId` null with role `admin` for an admin key; a project id with owner/editor/viewer otherwise
 * @returns the key including `secret_key` (shown once; only its SHA-256 is stored)
 * @throws LatticeError BAD_USER_INPUT when role and project do not match (admin with a project, or a project role without one)
 */
export async function createApiKey(
  db: Queryable,
  options: { projectId: string | null; role: Role; name?: string | null },
): Promise<CreatedApiKey> {
  const { projectId, role } = options;
  if (role === 'admin' && projectId !== null) throw badInput('An admin key spans all projects: create it without a project.');
  if (role !== 'admin' && projectId === null) throw badInput(`A key with role '${role}' needs a project.`);
  const id = uuidv7();
  const publicKey = randomKey(PUBLIC_KEY_PREFIX);
  const secretKey = randomKey(SECRET_KEY_PREFIX);
  const name = options.name ?? null;
  await db.query(
    `INSERT INTO lattice.api_keys (id, project_id, role, name, public_key, secret_hash, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())`,
    [id, projectId, role, name, publicKey, hashSecret(secretKey)],
  );
  return { id, project_id: projectId, role, name, public_key: publicKey, secret_key: secretKey };
}

const INFO_COLUMNS = `id::text AS id, project_id::text AS project_id, role, name, public_key,
  to_json(created_at) #>> '{}' AS created_at, to_json(revoked_at) #>> '{}' AS revoked_at,
  to_json(last_used_at) #>> '{}' AS last_used_at`;

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
}

/**
 * Turn an Authorization header into a Principal.
 *
 * Accepts `Basic base64(public_key:secret_key)` (looked up by public key, secret hash compared in constant
 * time) and `Bearer <secret_key>` (looked up by the secret's hash). Successful verifications are cached for
 * {@link CREDENTIAL_CACHE_TTL_MS} keyed by the header's SHA-256, so most requests cost no extra query.
 * `last_used_at` is refreshed at most once a minute per key.
 *
 * @returns the principal (admin key → role admin, projectIds []; project key → its role, [project_id]),
 *          or null when the header is malformed, the key unknown, the secret wrong or the key revoked.
 * @throws the driver's error when the database is unreachable.
 */
export async function authenticate(db: Queryable, authorizationHeader: string): Promise<Principal | null> {
  const cacheKey = hashSecret(authorizationHeader);
  const cached = verified.get(cacheKey);
  if (cached) return cached;

  const creds = parseAuthorization(authorizationHeader);
  if (!creds || !creds.secret.startsWith(SECRET_KEY_PREFIX)) return null;
  if (creds.kind === 'basic' && !creds.publicKey.startsWith(PUBLIC_KEY_PREFIX)) return null;

  const presented = hashSecret(creds.secret);
  const epoch = revocations;
  const select = `SELECT id::text AS id, project_id::text AS project_id, role, secret_hash,
      (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
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

  const principal: Principal =
    row.role === 'admin'
      ? { kind: 'api_key', id: row.id, role: 'admin', projectIds: [] }
      : { kind: 'api_key', id: row.id, role: row.role, projectIds: row.project_id ? [row.project_id] : [] };
  if (epoch === revocations) verified.set(cacheKey, principal);
  if (row.stale) {
    // Bookkeeping only: a failure here must not fail the request.
    db.query(`UPDATE lattice.api_keys SET last_used_at = now() WHERE id = $1`, [row.id]).catch(() => undefined);
  }
  return principal;
}
