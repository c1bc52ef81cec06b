/**
 * Transaction-local session settings shared by both drivers (SPEC S-6): the statement that switches a
 * transaction to the non-owner request role and publishes the principal to the row-level-security policies
 * (read back by `lattice.current_project_ids()`, `lattice.current_role_name()`, ... in `migrate/system.ts`).
 */
import type { Principal } from '../auth/principal.js';
import { REQUEST_ROLE } from './types.js';

/** Custom settings read by the policy helper functions. */
export const SETTING = {
  role: 'lattice.role',
  projectIds: 'lattice.project_ids',
  userId: 'lattice.user_id',
} as const;

/**
 * One statement, three bind parameters ($1 role, $2 project ids as a uuid[] literal, $3 user id), all settings
 * transaction-local (`is_local = true`), so they vanish at COMMIT/ROLLBACK and never leak to the next user of a
 * pooled connection. `set_config('role', ...)` is the function form of `SET LOCAL ROLE` (verified on
 * PostgreSQL 15 and PGlite 0.5.14: `current_user` becomes the request role and RLS applies).
 */
export const PRINCIPAL_SETTINGS_SQL =
  `SELECT set_config('role', '${REQUEST_ROLE}', true), ` +
  `set_config('${SETTING.role}', $1, true), ` +
  `set_config('${SETTING.projectIds}', $2, true), ` +
  `set_config('${SETTING.userId}', $3, true), ` +
  `set_config('TimeZone', 'UTC', true)`;

/** Owner transactions only pin the time zone. */
export const OWNER_SETTINGS_SQL = `SELECT set_config('TimeZone', 'UTC', true)`;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROLES = new Set(['admin', 'owner', 'editor', 'viewer']);

/**
 * The bind parameters of `PRINCIPAL_SETTINGS_SQL` for a principal.
 * @returns `[role, '{uuid,uuid}', userId or '']`
 * @throws Error when the principal carries an unknown role or a project id that is not a UUID (the auth layer
 *         must never build such a principal; refusing here keeps the array literal injection-free).
 */
export function principalParams(principal: Principal): [string, string, string] {
  if (!ROLES.has(principal.role)) throw new Error(`Principal has an unknown role ${JSON.stringify(principal.role)}`);
  for (const id of principal.projectIds) {
    if (!UUID_RE.test(id)) throw new Error(`Principal project id ${JSON.stringify(id)} is not a UUID`);
  }
  return [principal.role, `{${principal.projectIds.join(',')}}`, principal.userId ?? ''];
}
