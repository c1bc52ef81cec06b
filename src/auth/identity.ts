/**
 * Principals of external identities (SPEC ): a subject, a role and project ids asserted by a verified
 * JWT (`jwt.ts`) or by a trusted proxy (`proxy.ts`). Both end here, so a token's or a proxy's principal is
 * built by the same rules as an API key's and is exactly as strong: one of the four roles, project ids that
 * are UUIDs (checked again by `src/db/session.ts` before they reach row-level security), and no project-less
 * principal except `admin`.
 */
import { forbidden, unauthenticated } from '../errors.js';
import { UUID_RE } from '../uuid.js';
import { ROLES, type Principal, type Role } from './principal.js';

/** Longest subject accepted (characters); longer values are refused rather than truncated. */
export const MAX_SUBJECT_LENGTH = 1024;

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

/**
 * Check a subject (a JWT `sub` or a proxy's user id): a non-empty string of at most
 * {@link MAX_SUBJECT_LENGTH} characters without control characters.
 * @param source what it came from, for the message
 * @throws LatticeError UNAUTHENTICATED otherwise
 */
export function checkSubject(value: unknown, source: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw unauthenticated(`${source} is missing or empty; it must name the user.`);
  if (value.length > MAX_SUBJECT_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    throw unauthenticated(`${source} is not a usable user id (at most ${MAX_SUBJECT_LENGTH} characters, no control characters).`);
  }
  return value;
}

/**
 * The principal of an external identity: `kind: 'user'`, `id` and `userId` the subject.
 *
 * @param identity.subject the user (already checked by {@link checkSubject})
 * @param identity.role the Lattice role
 * @param identity.projectIds UUIDs (from {@link parseProjectIds}); ignored for `admin`, who spans all projects
 * @param source what asserted the identity, for messages (`The token`, `The proxy headers`)
 * @param projectsHint how to grant projects, appended to the refusal (names the claim or header)
 * @throws LatticeError FORBIDDEN (403) when a non-admin identity names no project: it is authenticated but may
 *         see nothing, and an empty project list must never be taken to mean "all projects"
 */
export function userPrincipal(
  identity: { readonly subject: string; readonly role: Role; readonly projectIds: readonly string[] },
  source: string,
  projectsHint: string,
): Principal {
  const { subject, role } = identity;
  if (role === 'admin') return { kind: 'user', id: subject, role, projectIds: [], userId: subject };
  if (identity.projectIds.length === 0) {
    throw forbidden(`${source} grants role '${role}' but no project; only admin spans all projects. ${projectsHint}`);
  }
  return { kind: 'user', id: subject, role, projectIds: [...identity.projectIds], userId: subject };
}
