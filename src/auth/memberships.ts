/**
 * Memberships (SPEC ): a user belongs to several projects with one role in each (`owner`, `editor`,
 * `viewer`), stored in `lattice.memberships(user_id, project_id, role, created_at, updated_at)`.
 *
 * Administration (admin, or an owner of the project: `src/server/members.ts`, `lattice member …`) sets, lists
 * and removes them. Authentication reads them through {@link identityUser}: the user of an external identity
 * (created on first sight) with its memberships, in ONE statement, cached for
 * {@link CREDENTIAL_CACHE_TTL_MS} per identity like verified API keys. A change made through this process drops
 * the user's cached entry at once; other server instances see it within the cache TTL (5 s).
 *
 * All queries here run as the database owner (system tables are not under row-level security).
 */
import { LRUCache } from 'lru-cache';
import type { Queryable } from '../db/types.js';
import { internal } from '../errors.js';
import { CREDENTIAL_CACHE_TTL_MS } from './api-keys.js';
import type { ProjectRole } from './principal.js';

/** One membership as the administration API answers it: the membership and who the user is. */
export interface MemberInfo {
  readonly project_id: string;
  readonly user_id: string;
  readonly role: ProjectRole;
  readonly subject: string | null;
  readonly issuer: string;
  readonly email: string | null;
  readonly name: string | null;
  /** ISO-8601: when the user became a member, and when the role was last set. */
  readonly created_at: string;
  readonly updated_at: string;
}

/** A project and the user's role in it. */
export interface ProjectMembership {
  readonly project_id: string;
  readonly role: ProjectRole;
}

/** The Lattice user of an external identity and its memberships (project id order). */
export interface IdentityUser {
  readonly userId: string;
  readonly memberships: readonly ProjectMembership[];
}

const MEMBER_COLUMNS = `m.project_id::text AS project_id, m.user_id::text AS user_id, m.role, u.subject, u.issuer, u.email, u.name,
  to_json(m.created_at) #>> '{}' AS created_at, to_json(m.updated_at) #>> '{}' AS updated_at`;

/**
 * Make a user a member of a project with `role`, or change the role of a member.
 * Project and user must exist (the caller checks both to answer a clear 404; a foreign key backs it).
 * @returns the membership and whether it is new (false: the role was changed, or set again)
 */
export async function setMembership(
  db: Queryable,
  projectId: string,
  userId: string,
  role: ProjectRole,
): Promise<{ member: MemberInfo; created: boolean }> {
  const { rows } = await db.query<MemberInfo & { was: string | null }>(
    `WITH prev AS (SELECT role FROM lattice.memberships WHERE project_id = $1 AND user_id = $2),
          m AS (INSERT INTO lattice.memberships (project_id, user_id, role) VALUES ($1, $2, $3)
                ON CONFLICT (user_id, project_id) DO UPDATE SET role = EXCLUDED.role
                RETURNING *)
     SELECT ${MEMBER_COLUMNS}, (SELECT role FROM prev) AS was FROM m JOIN lattice.users u ON u.id = m.user_id`,
    [projectId, userId, role],
  );
  forgetUser(userId);
  const { was, ...member } = rows[0];
  return { member, created: was === null };
}

/**
 * Change the role of an existing member.
 * @returns the membership, or null when the user is not a member of the project
 */
export async function changeMemberRole(db: Queryable, projectId: string, userId: string, role: ProjectRole): Promise<MemberInfo | null> {
  const { rows } = await db.query<MemberInfo>(
    `WITH m AS (UPDATE lattice.memberships SET role = $3 WHERE project_id = $1 AND user_id = $2 RETURNING *)
     SELECT ${MEMBER_COLUMNS} FROM m JOIN lattice.users u ON u.id = m.user_id`,
    [projectId, userId, role],
  );
  forgetUser(userId);
  return rows[0] ?? null;
}

/** Members of a project with their roles, owners first, then by when they joined. */
export async function listMembers(db: Queryable, projectId: string): Promise<MemberInfo[]> {
  const { rows } = await db.query<MemberInfo>(
    `SELECT ${MEMBER_COLUMNS} FROM lattice.memberships m JOIN lattice.users u ON u.id = m.user_id WHERE m.project_id = $1
     ORDER BY array_position(ARRAY['owner', 'editor', 'viewer'], m.role), m.created_at, m.user_id`,
    [projectId],
  );
  return rows;
}

/**
 * End a membership.
 * @returns the membership as it was, or null when the user was not a member of the project
 */
export async function removeMembership(db: Queryable, projectId: string, userId: string): Promise<MemberInfo | null> {
  const { rows } = await db.query<MemberInfo>(
    `WITH m AS (DELETE FROM lattice.memberships WHERE project_id = $1 AND user_id = $2 RETURNING *)
     SELECT ${MEMBER_COLUMNS} FROM m JOIN lattice.users u ON u.id = m.user_id`,
    [projectId, userId],
  );
  forgetUser(userId);
  return rows[0] ?? null;
}

/** A user's memberships, in project id order. */
export async function membershipsOf(db: Queryable, userId: string): Promise<ProjectMembership[]> {
  const { rows } = await db.query<ProjectMembership>(
    `SELECT project_id::text AS project_id, role FROM lattice.memberships WHERE user_id = $1 ORDER BY project_id`,
    [userId],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// Identities → users (authentication)

/**
 * `database \0 issuer \0 subject` → the user and its memberships, for {@link CREDENTIAL_CACHE_TTL_MS}. The
 * database is part of the key (a number per `Queryable` object) because one process may serve several
 * databases (tests do), whose users of the same identity differ.
 */
const identities = new LRUCache<string, IdentityUser>({ max: 10_000, ttl: CREDENTIAL_CACHE_TTL_MS });
const databases = new WeakMap<Queryable, number>();
let nextDatabase = 0;

function databaseKey(db: Queryable): number {
  let n = databases.get(db);
  if (n === undefined) databases.set(db, (n = nextDatabase++));
  return n;
}
/** Membership changes seen by this process (a look-up racing one is not cached; see `api-keys.ts`). */
let changes = 0;

/** Drop the cached memberships of one user (after a change). */
function forgetUser(userId: string): void {
  changes++;
  for (const [k, u] of identities.entries()) if (u.userId === userId) identities.delete(k);
}

/** Empty the identity cache (tests; after bulk membership changes made directly in the database). */
export function clearIdentityCache(): void {
  identities.clear();
}

/**
 * One statement: insert the user of `(issuer, subject)` unless it exists, then read its id and memberships.
 * The insert's `ON CONFLICT DO NOTHING` waits for a concurrent insert of the same identity; the statement's
 * snapshot may then miss that row, which yields no rows (the caller tries once more).
 */
const IDENTITY_SQL = `WITH ins AS (
    INSERT INTO lattice.users (issuer, subject) VALUES ($1, $2) ON CONFLICT (issuer, subject) DO NOTHING RETURNING id
  ), usr AS (
    (SELECT id FROM ins UNION ALL SELECT id FROM lattice.users WHERE issuer = $1 AND subject = $2) LIMIT 1
  )
  SELECT usr.id::text AS user_id, m.project_id::text AS project_id, m.role
  FROM usr LEFT JOIN lattice.memberships m ON m.user_id = usr.id
  ORDER BY m.project_id`;

/**
 * The Lattice user of an external identity, created on first sight, and its memberships.
 * @param issuer the token's `iss` ('' for proxy identities and tokens without one)
 * @param subject the checked subject (`identity.ts` `checkSubject`)
 * @throws the driver's error when the database is unreachable; INTERNAL when the user can be neither
 *         inserted nor read (not expected)
 */
export async function identityUser(db: Queryable, issuer: string, subject: string): Promise<IdentityUser> {
  const key = `${databaseKey(db)}\u0000${issuer}\u0000${subject}`;
  const cached = identities.get(key);
  if (cached) return cached;
  const epoch = changes;
  for (let attempt = 0; attempt < 2; attempt++) {
    const { rows } = await db.query<{ user_id: string; project_id: string | null; role: ProjectRole | null }>(IDENTITY_SQL, [issuer, subject]);
    if (rows.length === 0) continue;
    const user: IdentityUser = {
      userId: rows[0].user_id,
      memberships: rows.filter((r) => r.project_id !== null).map((r) => ({ project_id: r.project_id!, role: r.role! })),
    };
    if (epoch === changes) identities.set(key, user);
    return user;
  }
  throw internal('The user of this identity could not be recorded; try again.');
}
