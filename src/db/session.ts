/**
 * Transaction-local session settings shared by both drivers (SPEC S-6): the statement that switches a
 * transaction to the non-owner request role and publishes the principal to the row-level-security policies
 * (read back by `lattice.current_project_ids()`, `lattice.current_role_name()`, ... in `migrate/system.ts`).
 */
import { writableProjectIds, type Principal } from '../auth/principal.js';
import { REQUEST_ROLE, type Db, type Queryable } from './types.js';
import { UUID_RE } from '../uuid.js';

/** Custom settings read by the policy helper functions. */
export const SETTING = {
  role: 'lattice.role',
  projectIds: 'lattice.project_ids',
  userId: 'lattice.user_id',
  /** Projects the principal may write into (its owner/editor projects; SPEC A-3), read by the write policies. */
  writeProjectIds: 'lattice.write_project_ids',
} as const;

/**
 * Default `statement_timeout` of request transactions in milliseconds (SPEC G-12's timeout): a request whose
 * statement runs longer is cancelled (SQLSTATE 57014) and answered with QUERY_TOO_COMPLEX, so one expensive
 * request cannot hold a pooled connection (and PostgreSQL's memory) indefinitely. Override with
 * `LATTICE_STATEMENT_TIMEOUT_MS` (0 disables).
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

/**
 * The request statement timeout in effect: `LATTICE_STATEMENT_TIMEOUT_MS` when set to a non-negative integer,
 * else `DEFAULT_STATEMENT_TIMEOUT_MS`.
 * @throws Error naming the variable when it is set to anything else
 */
export function statementTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.LATTICE_STATEMENT_TIMEOUT_MS;
  if (raw === undefined || raw === '') return DEFAULT_STATEMENT_TIMEOUT_MS;
  if (!/^\d+$/.test(raw)) throw new Error(`LATTICE_STATEMENT_TIMEOUT_MS must be a whole number of milliseconds (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

/**
 * One statement, five bind parameters ($1 role, $2 project ids as a uuid[] literal, $3 user id, $4 statement
 * timeout in milliseconds as text, $5 writable project ids as a uuid[] literal), all settings
 * transaction-local (`is_local = true`), so they vanish at COMMIT/ROLLBACK and never leak to the next user of a
 * pooled connection. `set_config('role', ...)` is the function form of `SET LOCAL ROLE` (verified on
 * PostgreSQL 15 and PGlite 0.5.14: `current_user` becomes the request role and RLS applies).
 */
export const PRINCIPAL_SETTINGS_SQL =
  `SELECT set_config('role', '${REQUEST_ROLE}', true), ` +
  `set_config('${SETTING.role}', $1, true), ` +
  `set_config('${SETTING.projectIds}', $2, true), ` +
  `set_config('${SETTING.userId}', $3, true), ` +
  `set_config('statement_timeout', $4, true), ` +
  `set_config('TimeZone', 'UTC', true), ` +
  `set_config('extra_float_digits', '1', true), ` +
  `set_config('${SETTING.writeProjectIds}', $5, true)`;

/**
 * Owner transactions pin the time zone and the float output too. `extra_float_digits = 1` (PostgreSQL's
 * default since 12) prints the shortest text that reads back exactly: JSON answers keep every float's value,
 * and keyset cursors over float keys, `_rank` and `_distance` compare equal to the row they came from. A
 * database or role configured with 0 would otherwise round them (`0.66871977` → `0.66872`) and make a cursor
 * page return its own rows again.
 */
export const OWNER_SETTINGS_SQL = `SELECT set_config('TimeZone', 'UTC', true), set_config('extra_float_digits', '1', true)`;

const ROLES = new Set(['admin', 'owner', 'editor', 'viewer']);

/**
 * The bind parameters of `PRINCIPAL_SETTINGS_SQL` for a principal.
 * @param timeoutMs statement timeout in milliseconds (0 = none)
 * @returns `[role, '{uuid,uuid}', userId or '', timeout, '{writable uuids}']` (writable: `writableProjectIds`)
 * @throws Error when the principal carries an unknown role or a project id that is not a UUID (the auth layer
 *         must never build such a principal; refusing here keeps the array literal injection-free).
 */
export function principalParams(principal: Principal, timeoutMs: number = DEFAULT_STATEMENT_TIMEOUT_MS): [string, string, string, string, string] {
  if (!ROLES.has(principal.role)) throw new Error(`Principal has an unknown role ${JSON.stringify(principal.role)}`);
  for (const id of principal.projectIds) {
    if (!UUID_RE.test(id)) throw new Error(`Principal project id ${JSON.stringify(id)} is not a UUID`);
  }
  // A subset of projectIds, so already checked.
  const writable = writableProjectIds(principal);
  return [
    principal.role,
    `{${principal.projectIds.join(',')}}`,
    principal.userId ?? '',
    String(Math.max(0, Math.floor(timeoutMs))),
    `{${writable.join(',')}}`,
  ];
}

/**
 * A `Queryable` whose every statement runs through `db.queryAs(principal, ...)`: as the principal, in its own
 * transaction, one round trip on PostgreSQL. For code that sends ONE statement (a request's read) and takes a
 * `Queryable`; two statements through it do not share a transaction (use `withPrincipal` for that).
 */
export function queryableAs(db: Db, principal: Principal): Queryable {
  return { query: (text, params, options) => db.queryAs(principal, text, params, options) };
}
