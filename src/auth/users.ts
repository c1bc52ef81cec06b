/**
 * Users (SPEC ), stored in `lattice.users(id, issuer, subject, email, name, created_at, updated_at)`.
 *
 * A user is the Lattice side of an external identity: a JWT subject (`sub` or the configured claim) of an
 * issuer (`iss`), or a user id asserted by the trusted proxy. It is found by `(issuer, subject)`, unique:
 * - a JWT's issuer is its `iss` claim ('' when the token has none);
 * - trusted proxy identities have the issuer '' ({@link PROXY_ISSUER}), shared with tokens without `iss`.
 * Users are created on first sight of an identity (`src/auth/memberships.ts` `identityUser`) or by an admin
 * (`POST /api/v1/admin/users`, `lattice user create`), so memberships can be granted before the first sign-in.
 *
 * All queries here run as the database owner (system tables are not under row-level security).
 */
import type { Queryable } from '../db/types.js';
import { badInput, conflict } from '../errors.js';
import { UUID_RE } from '../uuid.js';

/** Issuer of identities asserted by the trusted proxy (and of tokens without an `iss` claim). */
export const PROXY_ISSUER = '';

/** Longest subject (and issuer) accepted, in characters; longer values are refused rather than truncated. */
export const MAX_SUBJECT_LENGTH = 1024;

/** Longest email and name accepted (characters). */
export const MAX_USER_TEXT = 320;

/** A user as the administration API answers it (timestamps ISO-8601). */
export interface UserInfo {
  readonly id: string;
  /** JWT issuer (`iss`); '' for proxy identities and tokens without `iss`. */
  readonly issuer: string;
  /** The external subject; null only for rows created before subjects existed. */
  readonly subject: string | null;
  readonly email: string | null;
  readonly name: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/** What an admin gives to create a user. */
export interface NewUser {
  /** The subject the identity provider (or proxy) will present for this user. */
  readonly subject: string;
  /** The token issuer (`iss`) exactly as in its tokens; default '' (proxy identities, tokens without `iss`). */
  readonly issuer?: string;
  readonly email?: string | null;
  readonly name?: string | null;
}

/** SQL select list of a user (alias `u`). */
export const USER_COLUMNS = `u.id::text AS id, u.issuer, u.subject, u.email, u.name,
  to_json(u.created_at) #>> '{}' AS created_at, to_json(u.updated_at) #>> '{}' AS updated_at`;

/**
 * Check a subject or issuer given by an admin: a string of at most {@link MAX_SUBJECT_LENGTH} characters
 * without control characters (the rule `identity.ts` applies to presented identities); the subject non-blank.
 * @throws LatticeError BAD_USER_INPUT naming the field
 */
function checkText(value: string, field: string, max: number, allowEmpty: boolean): string {
  if (!allowEmpty && value.trim() === '') throw badInput(`"${field}" must not be empty.`);
  if (value.length > max || /[\u0000-\u001f\u007f]/.test(value)) {
    throw badInput(`"${field}" must have at most ${max} characters and no control characters.`);
  }
  return value;
}

/** True for a unique violation (SQLSTATE 23505) on `constraint`. */
function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === constraint;
}

/**
 * Create a user (an admin's action).
 * @returns the user
 * @throws LatticeError BAD_USER_INPUT for an empty or over-long subject, issuer, email or name; CONFLICT when a
 *         user with that issuer and subject, or that email, exists already (the message names its id)
 */
export async function createUser(db: Queryable, input: NewUser): Promise<UserInfo> {
  const subject = checkText(input.subject, 'subject', MAX_SUBJECT_LENGTH, false);
  const issuer = checkText(input.issuer ?? PROXY_ISSUER, 'issuer', MAX_SUBJECT_LENGTH, true);
  const email = input.email == null ? null : checkText(input.email, 'email', MAX_USER_TEXT, false);
  const name = input.name == null ? null : checkText(input.name, 'name', MAX_USER_TEXT, false);
  try {
    const { rows } = await db.query<UserInfo>(
      `INSERT INTO lattice.users AS u (issuer, subject, email, name) VALUES ($1, $2, $3, $4)
       ON CONFLICT (issuer, subject) DO NOTHING RETURNING ${USER_COLUMNS}`,
      [issuer, subject, email, name],
    );
    if (rows[0]) return rows[0];
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) throw conflict(`A user with the email ${JSON.stringify(email)} exists already; use another email or none.`);
    throw err;
  }
  const existing = await findUser(db, issuer, subject);
  const issued = issuer === '' ? 'without issuer' : `of issuer ${JSON.stringify(issuer)}`;
  throw conflict(`A user with subject ${JSON.stringify(subject)} ${issued} exists already (id ${existing?.id ?? 'unknown'}).`);
}

/** The user of an identity, or null. */
export async function findUser(db: Queryable, issuer: string, subject: string): Promise<UserInfo | null> {
  const { rows } = await db.query<UserInfo>(`SELECT ${USER_COLUMNS} FROM lattice.users u WHERE u.issuer = $1 AND u.subject = $2`, [issuer, subject]);
  return rows[0] ?? null;
}

/** All users, oldest first. */
export async function listUsers(db: Queryable): Promise<UserInfo[]> {
  return (await db.query<UserInfo>(`SELECT ${USER_COLUMNS} FROM lattice.users u ORDER BY u.created_at, u.id`)).rows;
}

/** One user by id, or null (also for a string that is not a UUID). */
export async function getUser(db: Queryable, id: string): Promise<UserInfo | null> {
  if (!UUID_RE.test(id)) return null;
  const { rows } = await db.query<UserInfo>(`SELECT ${USER_COLUMNS} FROM lattice.users u WHERE u.id = $1`, [id]);
  return rows[0] ?? null;
}
