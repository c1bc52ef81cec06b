/**
 * DDL of the system schema `lattice` (SPEC S-2, S-6): extensions, the request role, helper functions used as
 * column defaults and by row-level-security policies, and the system tables.
 */
import { qualified, quoteIdent } from '../../query/sql/ident.js';
import { SETTING } from '../session.js';
import { REQUEST_ROLE } from '../types.js';
import type { DdlOptions } from './ddl.js';

/** Name of the id-default function, schema-qualified and quoted, for use in DDL. */
export function uuidV7Default(systemSchema: string): string {
  return `${qualified(systemSchema, 'uuid_generate_v7')}()`;
}

/**
 * Create the request role once per cluster. Roles are cluster-wide, so parallel migrations of different
 * databases race here: the loser gets `duplicate_object` (already committed) or `unique_violation` (committed
 * while we waited on the catalog index); both mean "it exists". A non-superuser owner is granted the role so it
 * may `SET ROLE` to it.
 *
 * The role may LOG IN (issue 8 item 4): request connections log in as it, so `RESET ROLE` inside a request
 * cannot reach the owner (`request-login.ts`). It gets no password here: with trust/peer/cert authentication it
 * logs in as is; with password authentication the operator sets one (`ALTER ROLE lattice_request PASSWORD ...`)
 * and `LATTICE_REQUEST_DATABASE_URL`. A role created NOLOGIN by an older version is given LOGIN when the owner
 * may alter roles (superuser or CREATEROLE); otherwise it is left alone and request connections take the
 * documented fallback. Parallel migrations altering it at once may fail with "tuple concurrently updated"
 * (SQLSTATE XX000): the other one did it, so that is ignored too.
 */
export function roleDdl(): string[] {
  return [
    `DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${REQUEST_ROLE}') THEN
    BEGIN
      CREATE ROLE ${quoteIdent(REQUEST_ROLE)} LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = '${REQUEST_ROLE}')
     AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
    BEGIN
      ALTER ROLE ${quoteIdent(REQUEST_ROLE)} LOGIN;
    EXCEPTION WHEN internal_error OR insufficient_privilege THEN NULL;
    END;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, '${REQUEST_ROLE}', 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', '${REQUEST_ROLE}', current_user);
  END IF;
END
$$`,
  ];
}

/**
 * Helper functions. `uuid_generate_v7()` follows RFC 9562 §5.7: 48-bit big-endian Unix time in milliseconds
 * (from clock_timestamp(), so ids within one transaction still advance), then the random bits of a v4 UUID
 * from `gen_random_uuid()` with the version nibble turned from 4 (0100) into 7 (0111) by setting bits 52 and
 * 53 (set_bit numbers bits from the least significant bit of each byte); the variant bits (10) of the v4 UUID
 * are kept. Ids from different milliseconds sort by time; within one millisecond the order is random (allowed
 * by the RFC). PostgreSQL 15 has no built-in `uuidv7()`, hence this function on both databases.
 *
 * The policy helpers are STABLE and read transaction-local settings written by `withPrincipal`; policies call
 * them as scalar sub-selects so PostgreSQL evaluates them once per statement (an InitPlan), not per row.
 */
export function functionsDdl(s: string): string[] {
  const fn = (name: string) => qualified(s, name);
  return [
    `CREATE OR REPLACE FUNCTION ${fn('uuid_generate_v7')}() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$`,
    `CREATE OR REPLACE FUNCTION ${fn('current_project_ids')}() RETURNS uuid[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(current_setting('${SETTING.projectIds}', true), '')::uuid[], '{}'::uuid[])
$$`,
    // The principal's owner/editor projects (SPEC A-3): a user may be an editor in one project and a viewer in
    // another, so the write policies check this list, not the role alone.
    `CREATE OR REPLACE FUNCTION ${fn('current_write_project_ids')}() RETURNS uuid[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(current_setting('${SETTING.writeProjectIds}', true), '')::uuid[], '{}'::uuid[])
$$`,
    `CREATE OR REPLACE FUNCTION ${fn('current_role_name')}() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(current_setting('${SETTING.role}', true), ''), 'none')
$$`,
    `CREATE OR REPLACE FUNCTION ${fn('current_user_id')}() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('${SETTING.userId}', true), '')
$$`,
    `CREATE OR REPLACE FUNCTION ${fn('is_admin')}() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT ${fn('current_role_name')}() = 'admin'
$$`,
    `CREATE OR REPLACE FUNCTION ${fn('can_write')}() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT ${fn('current_role_name')}() IN ('admin', 'owner', 'editor')
$$`,
    `CREATE OR REPLACE FUNCTION ${fn('set_updated_at')}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$`,
    ...vectorFallbackFunctions(s),
  ];
}

/**
 * Exact distances over `real[]` for databases without pgvector (SPEC S-5), with pgvector's semantics:
 * cosine distance = 1 − cos θ, L2 = Euclidean distance, inner product = −(a·b) (as pgvector's `<#>`).
 * NULL when the lengths differ or an input is NULL, and for cosine when a vector is all zeros (pgvector
 * answers NaN there; the compiler excludes both, see src/query/sql/nearest.ts).
 */
function vectorFallbackFunctions(s: string): string[] {
  const body = (expr: string) =>
    `SELECT CASE WHEN cardinality(a) = cardinality(b) THEN (SELECT ${expr} FROM unnest(a, b) AS t(x, y)) END`;
  return [
    // Similarity clamped to [-1, 1] as pgvector does (rounding can step outside it); NULL for a zero vector.
    [
      'vec_cosine_distance',
      'CASE WHEN coalesce(sum(x::float8 * x), 0) = 0 OR coalesce(sum(y::float8 * y), 0) = 0 THEN NULL ' +
        'ELSE 1 - least(1, greatest(-1, sum(x::float8 * y) / (sqrt(sum(x::float8 * x)) * sqrt(sum(y::float8 * y))))) END',
    ],
    ['vec_l2_distance', 'sqrt(sum((x::float8 - y) ^ 2))'],
    ['vec_negative_inner_product', '-sum(x::float8 * y)'],
  ].map(
    ([name, expr]) =>
      `CREATE OR REPLACE FUNCTION ${qualified(s, name)}(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  ${body(expr)}
$$`,
  );
}

/** System tables. Only `projects` (SELECT) and `ingested_events` are visible to the request role, filtered by RLS. */
export function systemTablesDdl(s: string): string[] {
  const t = (name: string) => qualified(s, name);
  const id = `id uuid PRIMARY KEY DEFAULT ${uuidV7Default(s)}`;
  const stamps = `created_at timestamptz NOT NULL DEFAULT now(),\n  updated_at timestamptz NOT NULL DEFAULT now()`;
  return [
    `CREATE TABLE IF NOT EXISTS ${t('projects')} (
  ${id},
  name text NOT NULL,
  ${stamps}
)`,
    `CREATE OR REPLACE TRIGGER lattice_updated_at BEFORE UPDATE ON ${t('projects')} FOR EACH ROW EXECUTE FUNCTION ${qualified(s, 'set_updated_at')}()`,
    `CREATE TABLE IF NOT EXISTS ${t('users')} (
  ${id},
  email text UNIQUE,
  name text,
  ${stamps}
)`,
    `CREATE TABLE IF NOT EXISTS ${t('memberships')} (
  user_id uuid NOT NULL REFERENCES ${t('users')} (id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES ${t('projects')} (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, project_id)
)`,
    `CREATE INDEX IF NOT EXISTS memberships_project_id_idx ON ${t('memberships')} (project_id)`,
    // Users and memberships (SPEC ), columns added after the tables existed, hence ALTER. A user of an
    // external identity is found by (issuer, subject): the JWT's `iss` ('' without one, and for trusted proxy
    // identities) and its subject. NULL subjects (rows from before) never collide in the unique index.
    `ALTER TABLE ${t('users')} ADD COLUMN IF NOT EXISTS issuer text NOT NULL DEFAULT ''`,
    `ALTER TABLE ${t('users')} ADD COLUMN IF NOT EXISTS subject text`,
    `CREATE UNIQUE INDEX IF NOT EXISTS users_issuer_subject_key ON ${t('users')} (issuer, subject)`,
    `CREATE OR REPLACE TRIGGER lattice_updated_at BEFORE UPDATE ON ${t('users')} FOR EACH ROW EXECUTE FUNCTION ${qualified(s, 'set_updated_at')}()`,
    `ALTER TABLE ${t('memberships')} ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now()`,
    `CREATE OR REPLACE TRIGGER lattice_updated_at BEFORE UPDATE ON ${t('memberships')} FOR EACH ROW EXECUTE FUNCTION ${qualified(s, 'set_updated_at')}()`,
    `CREATE TABLE IF NOT EXISTS ${t('api_keys')} (
  ${id},
  project_id uuid REFERENCES ${t('projects')} (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('admin', 'owner', 'editor', 'viewer')),
  name text,
  public_key text NOT NULL UNIQUE,
  secret_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  last_used_at timestamptz,
  CHECK (project_id IS NOT NULL OR role = 'admin')
)`,
    `CREATE INDEX IF NOT EXISTS api_keys_project_id_idx ON ${t('api_keys')} (project_id)`,
    // Key expiry (SPEC A-2): NULL never expires. Added after the table existed, hence ALTER.
    `ALTER TABLE ${t('api_keys')} ADD COLUMN IF NOT EXISTS expires_at timestamptz`,
    `CREATE TABLE IF NOT EXISTS ${t('model_versions')} (
  version integer PRIMARY KEY,
  hash text NOT NULL,
  document jsonb NOT NULL,
  ddl text NOT NULL,
  generated_ddl text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`,
    // Where the version came from (SPEC M-7): 'migrate' (start-up, `lattice migrate`), 'api' (PUT /api/v1/model,
    // `lattice model apply`) or 'watch' (`serve --watch`). Added after the table existed, hence ALTER.
    `ALTER TABLE ${t('model_versions')} ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'migrate'`,
    // Envelope ids of accepted ingestion events, per project (SPEC R-6: the Langfuse SDK resends a whole batch
    // after a 207 with errors, so a resent event is acknowledged without being applied twice; src/traces/dedupe.ts
    // prunes rows older than a day). The request role reads and writes its projects' rows (RLS in rls.ts); BRIN
    // because rows arrive in time order and pruning is by age.
    `CREATE TABLE IF NOT EXISTS ${t('ingested_events')} (
  project_id uuid NOT NULL REFERENCES ${t('projects')} (id) ON DELETE CASCADE,
  event_id text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, event_id)
)`,
    `CREATE INDEX IF NOT EXISTS ingested_events_received_at_idx ON ${t('ingested_events')} USING brin (received_at)`,
  ];
}

/** Schemas and extensions (extensions only when the server offers them; see `DdlOptions`). */
export function preambleDdl(model: { systemSchema: string; dataSchema: string }, options: DdlOptions): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(model.systemSchema)}`,
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(model.dataSchema)}`,
    ...(options.vector ? ['CREATE EXTENSION IF NOT EXISTS vector'] : []),
    ...(options.trigram ? ['CREATE EXTENSION IF NOT EXISTS pg_trgm'] : []),
  ];
}
