/**
 * The authenticated caller of a request (SPEC ). `src/auth` builds it from credentials; the query
 * layer and the database (row-level security) receive it. Nothing else branches on credentials.
 */
import { badInput, forbidden } from '../errors.js';

/** Roles of SPEC A-3. `admin` spans all projects; the others are per project. */
export type Role = 'admin' | 'owner' | 'editor' | 'viewer';

/** Every role, strongest first (external identities naming several roles get the strongest, `src/auth/identity.ts`). */
export const ROLES: readonly Role[] = ['admin', 'owner', 'editor', 'viewer'];

/** Roles within one project (of a project API key or a membership); `admin` is never per project. */
export const PROJECT_ROLES = ['owner', 'editor', 'viewer'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

/** True when `value` is one of {@link ROLES}. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when `value` is one of {@link PROJECT_ROLES}. */
export function isProjectRole(value: unknown): value is ProjectRole {
  return typeof value === 'string' && (PROJECT_ROLES as readonly string[]).includes(value);
}

export interface Principal {
  /** Kind and id of what authenticated: an API key id, a user id, or `system` for internal work. */
  readonly kind: 'api_key' | 'user' | 'system';
  readonly id: string;
  /**
   * The role. With {@link projectRoles} it is the strongest of the per-project roles (so `canWrite` answers
   * "may write somewhere"); without, it holds in every project of {@link projectIds}.
   */
  readonly role: Role;
  /**
   * Project ids the principal may read. For `admin` this is ignored (all projects) and may be empty.
   */
  readonly projectIds: readonly string[];
  /**
   * The role in each project when it differs by project (a user's memberships, `src/auth/memberships.ts`):
   * every id of {@link projectIds} → its role. Absent: {@link role} holds in every project.
   */
  readonly projectRoles?: ReadonlyMap<string, ProjectRole>;
  /** Lattice user id (`lattice.users.id`) of a JWT or proxy identity; undefined for API keys. */
  readonly userId?: string;
}

/** True when `role` may write data (admin, owner, editor). */
export function roleCanWrite(role: Role): boolean {
  return role === 'admin' || role === 'owner' || role === 'editor';
}

/** True when the principal may write data in at least one project (admin, owner, editor). */
export function canWrite(principal: Principal): boolean {
  return roleCanWrite(principal.role);
}

/** True when the principal sees every project. */
export function isAdmin(principal: Principal): boolean {
  return principal.role === 'admin';
}

/**
 * The principal's role in one project.
 * @param projectId a project id (compared in lower case)
 * @returns `admin` for an admin, the project's role, or undefined when the project is not one of the principal's
 */
export function roleIn(principal: Principal, projectId: string): Role | undefined {
  if (isAdmin(principal)) return 'admin';
  const id = projectId.toLowerCase();
  if (principal.projectRoles) return principal.projectRoles.get(id);
  return principal.projectIds.includes(id) ? principal.role : undefined;
}

/**
 * The projects the principal may write into (its projects where its role is owner or editor). Published to
 * row-level security as `lattice.write_project_ids` (`src/db/session.ts`). Empty for an admin (who writes
 * everywhere, decided by the role) and for a viewer.
 */
export function writableProjectIds(principal: Principal): readonly string[] {
  if (isAdmin(principal)) return [];
  const roles = principal.projectRoles;
  if (roles) return principal.projectIds.filter((id) => roleCanWrite(roles.get(id) ?? 'viewer'));
  return roleCanWrite(principal.role) ? principal.projectIds : [];
}

const CANNOT_WRITE = 'use credentials with role editor, owner or admin';

/**
 * The project a write goes to (SPEC A-3: "writes name the project when ambiguous").
 *
 * @param principal the caller
 * @param requested `project_id` named by the request, if any
 * @returns the project id to write into (lower case)
 * @throws LatticeError FORBIDDEN when the role cannot write, the named project is not the principal's, or the
 *         principal's role in it cannot write; BAD_USER_INPUT when no project is named and the principal may
 *         write into several projects (the message lists them) or is an admin.
 */
export function resolveWriteProject(principal: Principal, requested?: string | null): string {
  if (!canWrite(principal)) {
    throw forbidden(`Role '${principal.role}' cannot write data; ${CANNOT_WRITE}.`);
  }
  if (requested) {
    const id = requested.toLowerCase();
    const role = roleIn(principal, id);
    if (!role) throw forbidden(`Project ${requested} is not one of these credentials' projects.`);
    if (!roleCanWrite(role)) throw forbidden(`Role '${role}' in project ${id} cannot write data; ${CANNOT_WRITE} in that project.`);
    return id;
  }
  if (isAdmin(principal)) throw badInput('An admin can write into every project: name the target project with "project_id".');
  const writable = writableProjectIds(principal);
  if (writable.length === 1) return writable[0];
  if (writable.length === 0) throw forbidden(`These credentials may write into none of their projects; ${CANNOT_WRITE}.`);
  throw badInput(
    `These credentials can write into ${writable.length} projects: name the target project with "project_id" (one of ${writable.join(', ')}).`,
  );
}

/**
 * Only admins may do `action`.
 * @param action what was attempted, for the message (`create projects`)
 * @throws LatticeError FORBIDDEN
 */
export function requireAdmin(principal: Principal, action: string): void {
  if (!isAdmin(principal)) throw forbidden(`Only an admin (an admin key, or a token or proxy identity with role admin) can ${action}.`);
}

/**
 * Admin, or an owner of `projectId` (SPEC A-3: an owner key of it, or a user whose role there is owner).
 * @param what what is managed, for the message (`API keys`, `members`)
 * @throws LatticeError FORBIDDEN
 */
export function requireOwner(principal: Principal, projectId: string, what = 'API keys'): void {
  const role = roleIn(principal, projectId);
  if (role === 'admin' || role === 'owner') return;
  throw forbidden(
    role === undefined && principal.role === 'owner'
      ? `These owner credentials manage only the projects they own; project ${projectId} is not one of them.`
      : `Role '${role ?? principal.role}' cannot manage ${what} of project ${projectId}; use owner credentials of that project or an admin key.`,
  );
}
