/**
 * Principals of external identities (SPEC ): a subject, a role and project ids asserted by a verified
 * JWT (`jwt.ts`) or by a trusted proxy (`proxy.ts`). Both end here, so a token's or a proxy's principal is
 * built by the same rules as an API key's and is exactly as strong: one of the four roles, project ids that
 * are UUIDs (checked again by `src/db/session.ts` before they reach row-level security), and no project-less
 * principal except `admin`.
 *
 * Every identity is a Lattice user (`lattice.users`, found by issuer and subject, created on first sight:
 * `memberships.ts` `identityUser`). Where its projects come from:
 * 1. role `admin`: every project;
 * 2. the identity names project ids (token claim, `X-Lattice-Project-Ids`): exactly those, with its role in
 *    each — the identity provider is the authority, memberships are not consulted;
 * 3. it names none: the user's memberships give the projects, each with the weaker of the membership's role
 *    and the identity's role. The identity's role is a ceiling (a token saying `viewer` never writes, even
 *    where its user is an owner); an identity provider without Lattice roles sets
 *    `LATTICE_JWT_DEFAULT_ROLE=owner` (or the proxy sends `X-Lattice-Role: owner`) so memberships alone decide.
 * A non-admin identity with neither project ids nor memberships is refused (403) with its user id, so an
 * admin or owner can add it to a project.
 */
import type { Queryable } from '../db/types.js';
import { forbidden, unauthenticated } from '../errors.js';
import { UUID_RE } from '../uuid.js';
import { identityUser, type IdentityUser } from './memberships.js';
import { ROLES, type Principal, type ProjectRole, type Role } from './principal.js';
import { MAX_SUBJECT_LENGTH } from './users.js';

export { MAX_SUBJECT_LENGTH } from './users.js';

/** What a verified token or the trusted proxy asserts, before the user's memberships are looked up. */
export interface ExternalIdentity {
  /** The token's `iss` ('' without one, and for proxy identities: `users.ts` `PROXY_ISSUER`). */
  readonly issuer: string;
  /** The user as the identity provider names it (checked by {@link checkSubject}). */
  readonly subject: string;
  /** The Lattice role (a ceiling when memberships decide the projects). */
  readonly role: Role;
  /** Project ids asserted (UUIDs from {@link parseProjectIds}); empty: none asserted. Ignored for admin. */
  readonly projectIds: readonly string[];
  /** What asserted the identity, for messages (`The token`, `The proxy headers`). */
  readonly source: string;
  /** How to assert projects, appended to a refusal (names the claim or header). */
  readonly projectsHint: string;
}

/**
 * The strongest of several roles (`admin` > `owner` > `editor` > `viewer`).
 * @returns undefined for an empty list
 */
export function strongestRole(roles: Iterable<Role>): Role | undefined {
  let best: number | undefined;
  for (const r of roles) {
    const rank = ROLES.indexOf(r);
    if (best === undefined || rank < best) best = rank;
  }
  return best === undefined ? undefined : ROLES[best];
}

/** The weaker of a membership's role and the identity's role ceiling (`admin` caps nothing). */
function capped(role: ProjectRole, ceiling: Role): ProjectRole {
  return ROLES.indexOf(role) >= ROLES.indexOf(ceiling) ? role : (ceiling as ProjectRole);
}

/**
 * Project ids from a list of strings, each either one UUID or several separated by commas (a header value, a
 * claim holding a comma-separated string). Blank items are skipped; ids are lower-cased and de-duplicated.
 * @param source what the values came from, for the message (e.g. `The token's claim "project_ids"`)
 * @throws LatticeError UNAUTHENTICATED when an item is not a UUID (the value itself is not echoed)
 */
export function parseProjectIds(values: readonly string[], source: string): string[] {
  const ids = new Set<string>();
  for (const value of values) {
    for (const item of value.split(',')) {
      const id = item.trim();
      if (id === '') continue;
      if (!UUID_RE.test(id)) {
        throw unauthenticated(`${source} holds a project id that is not a UUID; project ids are UUIDs like 0190f7d2-6c1e-7a3b-9f00-4a5b6c7d8e9f.`);
      }
      ids.add(id.toLowerCase());
    }
  }
  return [...ids];
}

/** True for a string of at most {@link MAX_SUBJECT_LENGTH} characters without control characters. */
function usable(value: string): boolean {
  return value.length <= MAX_SUBJECT_LENGTH && !/[\u0000-\u001f\u007f]/.test(value);
}

/**
 * Check a subject (a JWT `sub` or a proxy's user id): a non-empty string of at most
 * {@link MAX_SUBJECT_LENGTH} characters without control characters.
 * @param source what it came from, for the message
 * @throws LatticeError UNAUTHENTICATED otherwise
 */
export function checkSubject(value: unknown, source: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw unauthenticated(`${source} is missing or empty; it must name the user.`);
  if (!usable(value)) {
    throw unauthenticated(`${source} is not a usable user id (at most ${MAX_SUBJECT_LENGTH} characters, no control characters).`);
  }
  return value;
}

/**
 * Check a token's issuer claim (`iss`): absent → '', else a string of at most {@link MAX_SUBJECT_LENGTH}
 * characters without control characters.
 * @throws LatticeError UNAUTHENTICATED otherwise
 */
export function checkIssuer(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || !usable(value)) {
    throw unauthenticated(`The token's issuer (iss claim) must be a string of at most ${MAX_SUBJECT_LENGTH} characters without control characters.`);
  }
  return value;
}

/**
 * The principal of an identity whose user is known — the rule of the module comment. `kind: 'user'`, `id` and
 * `userId` the Lattice user id. Pure: {@link resolveIdentity} does the look-up.
 * @throws LatticeError FORBIDDEN (403) when a non-admin identity names no project and its user is a member of
 *         none: it is authenticated but may see nothing, and an empty project list must never be taken to mean
 *         "all projects"
 */
export function principalOf(identity: ExternalIdentity, user: IdentityUser): Principal {
  const { role } = identity;
  const base = { kind: 'user', id: user.userId, userId: user.userId } as const;
  if (role === 'admin') return { ...base, role, projectIds: [] };
  if (identity.projectIds.length > 0) return { ...base, role, projectIds: [...identity.projectIds] };
  if (user.memberships.length === 0) {
    throw forbidden(
      `${identity.source} grants role '${role}' but no project; only admin spans all projects. ${identity.projectsHint} ` +
        `Or make its user ${user.userId} a member of a project (POST /api/v1/projects/{id}/members, or lattice member add).`,
    );
  }
  const projectRoles = new Map<string, ProjectRole>(user.memberships.map((m) => [m.project_id, capped(m.role, role)]));
  return { ...base, role: strongestRole(projectRoles.values())!, projectIds: [...projectRoles.keys()], projectRoles };
}

/**
 * The principal of a verified identity: its user (created on first sight, memberships read; cached 5 s) and
 * {@link principalOf}.
 * @param db runs as the database owner
 * @throws LatticeError FORBIDDEN as {@link principalOf}; the driver's error when the database is unreachable
 */
export async function resolveIdentity(db: Queryable, identity: ExternalIdentity): Promise<Principal> {
  return principalOf(identity, await identityUser(db, identity.issuer, identity.subject));
}
