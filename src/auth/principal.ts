/**
 * The authenticated caller of a request (SPEC ). `src/auth` builds it from credentials; the query
 * layer and the database (row-level security) receive it. Nothing else branches on credentials.
 */
import { badInput, forbidden } from '../errors.js';

/** Roles of SPEC A-3. `admin` spans all projects; the others are per project. */
export type Role = 'admin' | 'owner' | 'editor' | 'viewer';

/** Every role, strongest first (external identities naming several roles get the strongest, `src/auth/identity.ts`). */
export const ROLES: readonly Role[] = ['admin', 'owner', 'editor', 'viewer'];

/** True when `value` is one of {@link ROLES}. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export interface Principal {
  /** Kind and id of what authenticated: an API key id, a user id, or `system` for internal work. */
  readonly kind: 'api_key' | 'user' | 'system';
  readonly id: string;
  readonly role: Role;
  /**
   * Project ids the principal may read. For `admin` this is ignored (all projects) and may be empty.
   */
  readonly projectIds: readonly string[];
  /** User id when known (JWT subject, proxy header); undefined for API keys. */
  readonly userId?: string;
}

/** True when the principal may write data (admin, owner, editor). */
export function canWrite(principal: Principal): boolean {
  return principal.role === 'admin' || principal.role === 'owner' || principal.role === 'editor';
}

/** True when the principal sees every project. */
export function isAdmin(principal: Principal): boolean {
  return principal.role === 'admin';
}

/**
 * The project a write goes to (SPEC A-3: "writes name the project when ambiguous").
 *
 * @param principal the caller
 * @param requested `project_id` named by the request, if any
 * @returns the project id to write into
 * @throws LatticeError FORBIDDEN when the role cannot write or the named project is not the principal's;
 *         BAD_USER_INPUT when no project is named and the principal has zero or several projects.
 */
export function resolveWriteProject(principal: Principal, requested?: string | null): string {
  if (!canWrite(principal)) {
    throw forbidden(`Role '${principal.role}' cannot write data; use a key with role editor, owner or admin.`);
  }
  if (requested) {
    if (isAdmin(principal) || principal.projectIds.includes(requested)) return requested;
    throw forbidden(`Project ${requested} is not one of this key's projects.`);
  }
  if (!isAdmin(principal) && principal.projectIds.length === 1) return principal.projectIds[0];
  throw badInput(
    'This principal can write to several projects (or is an admin): name the target project with "project_id".',
  );
}
