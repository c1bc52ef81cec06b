/**
 * Test harness for database-backed tests (see helpers' COMMON brief):
 * - `TEST_KINDS`: `pglite` always, `postgres` when `TEST_DATABASE_URL` is set (with `LATTICE_REQUIRE_POSTGRES=1`
 *   a missing URL is an error, so CI never silently skips PostgreSQL);
 * - `createTestDb(kind, model?)`: an isolated, migrated database — a fresh in-memory PGlite, or a fresh
 *   PostgreSQL database `lattice_t_<random>` created through TEST_DATABASE_URL and dropped (WITH (FORCE)) on close.
 * PGlite costs seconds to start and ~0.5–0.9 GB RSS: create one per test file (`beforeAll`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Principal, Role } from '../../src/auth/principal.js';
import { migrate } from '../../src/db/migrate/index.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { qualified, quoteIdent } from '../../src/query/sql/ident.js';

export type TestKind = 'pglite' | 'postgres';

const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
if (!TEST_DATABASE_URL && process.env.LATTICE_REQUIRE_POSTGRES === '1') {
  throw new Error('LATTICE_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set: PostgreSQL tests must not be skipped.');
}

/** Database kinds every DB test runs on: use `describe.each(TEST_KINDS)`. */
export const TEST_KINDS: TestKind[] = TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** An isolated, migrated test database. */
export interface TestDb {
  readonly kind: TestKind;
  readonly db: Db;
  readonly model: Model;
  /** Connection URL of the PostgreSQL test database (to open a second connection pool, e.g. a second instance). */
  readonly url?: string;
  /** Close the Db (and drop the PostgreSQL database). */
  close(): Promise<void>;
}

/**
 * Create an isolated database of `kind`, migrated to `model` (default: the experiments preset).
 * @throws when kind is `postgres` and TEST_DATABASE_URL is unset, or the server refuses.
 */
export async function createTestDb(kind: TestKind, model?: Model): Promise<TestDb> {
  const m = model ?? (await loadPreset('experiments'));
  if (kind === 'pglite') {
    const db = await openPglite({});
    await migrate(db, m);
    return { kind, db, model: m, close: () => db.close() };
  }
  if (!TEST_DATABASE_URL) throw new Error('createTestDb("postgres") needs TEST_DATABASE_URL');
  const name = `lattice_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  admin.on('error', () => undefined); // an idle admin connection ended by the server is simply replaced
  await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  let db: Db | undefined;
  const drop = async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await admin.end();
  };
  try {
    db = await openPostgres({ connectionString: url.toString(), max: 5 });
    await migrate(db, m);
  } catch (err) {
    await db?.close().catch(() => undefined);
    await drop();
    throw err;
  }
  const opened = db;
  let closed = false;
  return {
    kind,
    db: opened,
    model: m,
    url: url.toString(),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await opened.close();
      } finally {
        await drop();
      }
    },
  };
}

/** Insert a project as owner. @returns its id */
export async function createProject(db: Db, name: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(`INSERT INTO lattice.projects (name) VALUES ($1) RETURNING id`, [name]);
  return rows[0].id;
}

/**
 * Insert rows into a data table as owner (bypassing RLS), one statement.
 * @param table entity/table name in schema `app`, or `schema.table`
 * @param rows objects keyed by column name; every row must have the same keys
 * @returns the inserted rows (all columns)
 */
export async function insertRows<R = Record<string, unknown>>(
  db: Db,
  table: string,
  rows: ReadonlyArray<Record<string, unknown>>,
): Promise<R[]> {
  if (rows.length === 0) return [];
  const [schema, name] = table.includes('.') ? table.split('.', 2) : ['app', table];
  const cols = Object.keys(rows[0]);
  const params: unknown[] = [];
  const tuples = rows.map((row) => `(${cols.map((c) => `$${params.push(toParam(row[c]))}`).join(', ')})`);
  const { rows: out } = await db.query<R>(
    `INSERT INTO ${qualified(schema, name)} (${cols.map(quoteIdent).join(', ')}) VALUES ${tuples.join(', ')} RETURNING *`,
    params,
  );
  return out;
}

/** JSON-encode plain objects (jsonb columns); arrays and scalars pass through. */
function toParam(v: unknown): unknown {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? JSON.stringify(v) : v;
}

/** A principal for tests: `testPrincipal('viewer', [projectId])`. */
export function testPrincipal(role: Role, projectIds: readonly string[] = [], userId?: string): Principal {
  return { kind: 'api_key', id: `test-${role}`, role, projectIds, ...(userId ? { userId } : {}) };
}

/**
 * An empty PostgreSQL database `lattice_t_<random>` (not migrated), for tests that start `lattice serve` on
 * a URL of their own.
 * @returns its URL and `drop` (WITH (FORCE), idempotent)
 * @throws when TEST_DATABASE_URL is unset or the server refuses
 */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('createEmptyPostgresDatabase needs TEST_DATABASE_URL');
  const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  admin.on('error', () => undefined); // an idle connection ended by the server is replaced on next use
  const name = `lattice_t_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
