/**
 * From a verified JWT's claims to an identity (SPEC A-2): which claims hold the subject, the role and the
 * project ids is configuration (`LATTICE_JWT_CLAIM_*`, read by `jwt.ts`), so tokens of common issuers map
 * without code — Keycloak's `realm_access.roles`, Supabase's `role` + `app_metadata.project_ids`, Auth0's and
 * Hasura's namespaced claims such as `https://hasura.io/jwt/claims.x-hasura-role`.
 */
import { forbidden, unauthenticated } from '../errors.js';
import { checkIssuer, checkSubject, parseProjectIds, strongestRole, type ExternalIdentity } from './identity.js';
import { isRole, type Role } from './principal.js';

/** Where the identity is in a token and how its role names translate. */
export interface ClaimMapping {
  /** Claim path of the user id (default `sub`). */
  readonly subject: string;
  /** Claim path of the role: a string or a list of strings (default `role`). */
  readonly role: string;
  /** Claim path of the project ids: a list of UUIDs or a comma-separated string (default `project_ids`). */
  readonly projectIds: string;
  /**
   * The issuer's role names → Lattice roles (`LATTICE_JWT_ROLE_MAP`). When set, ONLY mapped names count, so an
   * issuer role that happens to be called `admin` (Keycloak's realm admin, say) grants nothing unless mapped.
   * When unset, the claim must hold Lattice role names (`admin`, `owner`, `editor`, `viewer`).
   */
  readonly roleMap?: ReadonlyMap<string, Role>;
  /** Role of tokens whose role claim holds no (mapped) role (`LATTICE_JWT_DEFAULT_ROLE`); unset: refused. */
  readonly defaultRole?: Role;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The value at a claim path: a claim name, or names joined by dots into nested objects (`realm_access.roles`).
 * Claim names may themselves contain dots (`https://hasura.io/jwt/claims`): at each level the longest own key
 * that is a prefix of the remaining path (ending at a dot) is tried first, then shorter ones, so
 * `https://hasura.io/jwt/claims.x-hasura-role` finds the `x-hasura-role` member of the namespaced object.
 * @returns the value, or undefined when the path leads nowhere
 */
export function claimAt(value: unknown, path: string): unknown {
  if (!isRecord(value)) return undefined;
  if (Object.hasOwn(value, path)) return value[path];
  for (let dot = path.lastIndexOf('.'); dot > 0; dot = path.lastIndexOf('.', dot - 1)) {
    const key = path.slice(0, dot);
    if (!Object.hasOwn(value, key)) continue;
    const found = claimAt(value[key], path.slice(dot + 1));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A claim that must be a string or a list of strings, as a list (missing or null → []). */
function strings(value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw unauthenticated(`The token's claim "${path}" must be a string or a list of strings.`);
}

/**
 * The token's Lattice role: every role name in the role claim translated (by `roleMap` when set), the
 * strongest kept; `defaultRole` when none is left.
 * @throws LatticeError FORBIDDEN when the token carries no usable role and no default is configured
 */
export function roleFromClaims(payload: Record<string, unknown>, mapping: ClaimMapping): Role {
  const names = strings(claimAt(payload, mapping.role), mapping.role);
  const roles: Role[] = [];
  for (const name of names) {
    const role = mapping.roleMap ? mapping.roleMap.get(name) : isRole(name) ? name : undefined;
    if (role) roles.push(role);
  }
  const role = strongestRole(roles) ?? mapping.defaultRole;
  if (role) return role;
  const accepted = mapping.roleMap
    ? `one of the names mapped by LATTICE_JWT_ROLE_MAP (${[...mapping.roleMap.keys()].join(', ')})`
    : 'admin, owner, editor or viewer (map your identity provider\'s role names with LATTICE_JWT_ROLE_MAP)';
  throw forbidden(`The token carries no Lattice role: its claim "${mapping.role}" is missing or holds none of ${accepted}.`);
}

/**
 * The identity of a verified token's claims: issuer (`iss`, '' without), subject, role and project ids; the
 * principal follows from it and the user's memberships (`identity.ts` `resolveIdentity`).
 * @throws LatticeError UNAUTHENTICATED for a missing subject, a claim of the wrong type or a project id that is
 *         not a UUID; FORBIDDEN for a token without a role
 */
export function identityFromClaims(payload: Record<string, unknown>, mapping: ClaimMapping): ExternalIdentity {
  const subject = checkSubject(claimAt(payload, mapping.subject), `The token's claim "${mapping.subject}"`);
  const issuer = checkIssuer(payload.iss);
  const role = roleFromClaims(payload, mapping);
  const projectIds =
    role === 'admin'
      ? []
      : parseProjectIds(strings(claimAt(payload, mapping.projectIds), mapping.projectIds), `The token's claim "${mapping.projectIds}"`);
  return {
    issuer,
    subject,
    role,
    projectIds,
    source: 'The token',
    projectsHint: `Put the project ids in the token's claim "${mapping.projectIds}" (a list of UUIDs or a comma-separated string).`,
  };
}
