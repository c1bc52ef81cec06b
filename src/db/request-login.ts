/**
 * The PostgreSQL login of request transactions (SPEC S-6, issue 8 item 4).
 *
 * Request transactions (`withPrincipal`, `queryAs`) run on a pool of their own whose connections LOG IN as the
 * non-owner request role (`lattice_request`), not as the owner. PostgreSQL checks `SET ROLE` / `RESET ROLE`
 * against the session user (the login), so a statement inside a request can reach only the login role and the
 * roles it is a member of: never the owner, whatever SQL text it runs.
 *
 * Where the login comes from:
 * - `LATTICE_REQUEST_DATABASE_URL` (the operator's full URL, e.g. with the password of the role): used as given;
 *   failing to log in through it is fatal.
 * - otherwise the owner's URL with the user replaced by `lattice_request` and no password: the same host, port,
 *   database and TLS options, so it works wherever the server authenticates that user without a password
 *   (trust, peer, cert). Nothing secret is generated or derived, so several instances sharing the database agree.
 *
 * When the login is not possible (password authentication without `LATTICE_REQUEST_DATABASE_URL`, the role lacks
 * LOGIN because the owner may not alter roles, or the login is unsafe: a superuser, BYPASSRLS, a member of the
 * owner, or not a member of `lattice_request`), Lattice falls back to the owner login switching with
 * `set_config('role', ...)` per transaction, with a loud warning; `LATTICE_REQUIRE_REQUEST_LOGIN=1` makes that
 * fatal instead. Any other failure (server unreachable, restarting, full, connection cut) is neither: it is
 * thrown and the login is tried again on the next request.
 */
import pg from 'pg';
import { REQUEST_ROLE, type RequestIsolation } from './types.js';

export type { RequestIsolation };

/** Resolved configuration of the request login. */
export interface RequestLoginConfig {
  /** URL of the request pool. */
  readonly url: string;
  /** True when a failed or unsafe login must be an error rather than a fallback. */
  readonly required: boolean;
  /** True when the URL came from the operator (`LATTICE_REQUEST_DATABASE_URL`). */
  readonly explicit: boolean;
  /** Why no URL could be derived from the owner's (then `url` is empty and the login counts as failed). */
  readonly underivable?: string;
}

/**
 * The owner's URL with the user replaced by the request role and the password removed.
 * @throws Error when the URL cannot be parsed, or names no host (a socket directory only in `?host=`): the user
 *         of such a URL cannot be replaced safely; set `LATTICE_REQUEST_DATABASE_URL`.
 */
export function deriveRequestUrl(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  if (!url.hostname) {
    throw new Error('The database URL names no host, so the request login cannot be derived from it: set LATTICE_REQUEST_DATABASE_URL.');
  }
  url.username = REQUEST_ROLE;
  url.password = '';
  return url.toString();
}

/**
 * The request-login configuration for an owner URL.
 * @param env reads `LATTICE_REQUEST_DATABASE_URL` and `LATTICE_REQUIRE_REQUEST_LOGIN` (`1`/`true` = required)
 * @param override explicit values (tests, embedding) that win over `env`
 * @throws Error naming the variable when `LATTICE_REQUEST_DATABASE_URL` is not a postgres URL or
 *         `LATTICE_REQUIRE_REQUEST_LOGIN` is not a boolean word
 */
export function requestLoginConfig(
  ownerUrl: string,
  env: NodeJS.ProcessEnv = process.env,
  override: { url?: string; required?: boolean } = {},
): RequestLoginConfig {
  const given = override.url ?? (env.LATTICE_REQUEST_DATABASE_URL || undefined);
  if (given !== undefined && !/^postgres(ql)?:\/\//.test(given)) {
    throw new Error(`LATTICE_REQUEST_DATABASE_URL must start with postgres:// or postgresql:// (got ${given.split(':')[0]}:...)`);
  }
  const raw = (env.LATTICE_REQUIRE_REQUEST_LOGIN ?? '').toLowerCase();
  if (!['', '0', '1', 'true', 'false'].includes(raw)) {
    throw new Error(`LATTICE_REQUIRE_REQUEST_LOGIN must be 1 or 0 (got ${JSON.stringify(env.LATTICE_REQUIRE_REQUEST_LOGIN)})`);
  }
  const required = override.required ?? (given !== undefined || raw === '1' || raw === 'true');
  if (given !== undefined) return { url: given, required, explicit: true };
  try {
    return { url: deriveRequestUrl(ownerUrl), required, explicit: false };
  } catch (err) {
    // No derivable URL: the login counts as failed and takes the documented fallback / fatal path.
    return { url: '', required, explicit: false, underivable: (err as Error).message };
  }
}

/**
 * SQLSTATEs that mean the login itself was refused: invalid_authorization_specification (unknown role, role not
 * permitted to log in, no pg_hba entry), invalid_password, insufficient_privilege (CONNECT revoked).
 */
const LOGIN_REFUSED = new Set(['28000', '28P01', '42501']);

/**
 * True when `err` says the request login cannot work as configured (refused, no password for a server asking for
 * one, or unsafe), as opposed to a failure that says nothing about the login (server unreachable, restarting,
 * full, connection cut), which must never trigger the fallback.
 */
export function isLoginProblem(err: unknown): boolean {
  if (err instanceof UnsafeRequestLoginError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return LOGIN_REFUSED.has(code);
  // node-postgres' own errors when the server asks for a password and none is configured (SCRAM, md5).
  return /^SASL: |password/i.test((err as Error | null)?.message ?? '');
}

/** Thrown when the request login works but must not be used (it could reach the owner or bypass RLS). */
export class UnsafeRequestLoginError extends Error {}

/**
 * Check that the request pool's login is usable and cannot escape: not a superuser, no BYPASSRLS, not a member
 * of the owner role, and the request role or a member of it (so `set_config('role', 'lattice_request')` works).
 * @param ownerRole the owner pool's `current_user`
 * @returns the login's role name
 * @throws UnsafeRequestLoginError naming the problem; the driver's error when the login itself fails
 */
export async function probeRequestLogin(pool: pg.Pool, ownerRole: string): Promise<string> {
  const { rows } = await pool.query<{ login: string; rolsuper: boolean; rolbypassrls: boolean; owner_member: boolean; request_member: boolean }>(
    `SELECT current_user AS login, r.rolsuper, r.rolbypassrls,
            pg_has_role(current_user, $1::name, 'MEMBER') AS owner_member,
            pg_has_role(current_user, $2::name, 'MEMBER') AS request_member
       FROM pg_roles r WHERE r.rolname = current_user`,
    [ownerRole, REQUEST_ROLE],
  );
  const row = rows[0];
  if (!row) throw new UnsafeRequestLoginError('the login role is not in pg_roles');
  if (row.rolsuper) throw new UnsafeRequestLoginError(`the login ${row.login} is a superuser`);
  if (row.rolbypassrls) throw new UnsafeRequestLoginError(`the login ${row.login} has BYPASSRLS`);
  if (row.owner_member) throw new UnsafeRequestLoginError(`the login ${row.login} is (a member of) the owner role ${ownerRole}`);
  if (!row.request_member) throw new UnsafeRequestLoginError(`the login ${row.login} is not ${REQUEST_ROLE} nor a member of it`);
  return row.login;
}

/**
 * The operator-facing message for a request login that failed or is unsafe.
 * @param reason what went wrong (driver message or the unsafe property)
 */
export function requestLoginProblem(config: RequestLoginConfig, reason: string): string {
  const how = config.explicit
    ? 'through LATTICE_REQUEST_DATABASE_URL'
    : `as ${REQUEST_ROLE} without a password (same host and database as DATABASE_URL)`;
  return (
    `Request connections cannot log in ${how}: ${reason}. ` +
    `Give the role a login (migrations do so when the owner may create roles; else run ` +
    `ALTER ROLE ${REQUEST_ROLE} LOGIN PASSWORD '...') and set LATTICE_REQUEST_DATABASE_URL=postgres://${REQUEST_ROLE}:<password>@<host>/<db>.`
  );
}
