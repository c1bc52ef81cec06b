/**
 * A request role that cannot escape (issue 8 item 4, SPEC S-6): on PostgreSQL request transactions log in as
 * `lattice_request`, so `RESET ROLE` / `SET ROLE` inside a request cannot reach the owner; on PGlite (one
 * superuser connection) requests still run as `lattice_request` under RLS, but a `RESET ROLE` inside a request
 * does reach the superuser (documented in ARCHITECTURE, "Request role").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from '../../src/cli/serve.js';
import { openPostgres } from '../../src/db/postgres.js';
import { deriveRequestUrl, isLoginProblem, requestLoginConfig, UnsafeRequestLoginError } from '../../src/db/request-login.js';
import { REQUEST_ROLE, type Queryable } from '../../src/db/types.js';
import { createEmptyPostgresDatabase, createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

/** SQLSTATE of a rejected promise. */
async function sqlState(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { code?: string }).code);
  }
  throw new Error('expected the statement to fail');
}

async function roles(tx: Queryable): Promise<{ current: string; session: string }> {
  const { rows } = await tx.query<{ current: string; session: string }>('SELECT current_user AS current, session_user AS session');
  return rows[0];
}

async function experimentNames(tx: Queryable): Promise<string[]> {
  return (await tx.query<{ name: string }>('SELECT name FROM app.experiment ORDER BY name')).rows.map((r) => r.name);
}

describe('request login configuration', () => {
  it('derives the request URL from the owner URL: user replaced, password dropped, the rest kept', () => {
    const url = new URL(deriveRequestUrl('postgres://owner:secret@db.example:6543/prod?sslmode=require'));
    expect(url.username).toBe(REQUEST_ROLE);
    expect(url.password).toBe('');
    expect(url.host).toBe('db.example:6543');
    expect(url.pathname).toBe('/prod');
    expect(url.searchParams.get('sslmode')).toBe('require');
  });

  it('uses LATTICE_REQUEST_DATABASE_URL as given and then requires it; LATTICE_REQUIRE_REQUEST_LOGIN=1 requires the derived one', () => {
    const owner = 'postgres://owner@h/db';
    expect(requestLoginConfig(owner, {})).toEqual({ url: `postgres://${REQUEST_ROLE}@h/db`, required: false, explicit: false });
    expect(requestLoginConfig(owner, { LATTICE_REQUIRE_REQUEST_LOGIN: '1' }).required).toBe(true);
    const given = requestLoginConfig(owner, { LATTICE_REQUEST_DATABASE_URL: 'postgres://app_req:pw@h/db' });
    expect(given).toEqual({ url: 'postgres://app_req:pw@h/db', required: true, explicit: true });
  });

  it('falls back only for a refused or unsafe login, never for an outage or a cut connection', () => {
    const withCode = (code: string) => Object.assign(new Error('x'), { code });
    expect(isLoginProblem(withCode('28P01'))).toBe(true);
    expect(isLoginProblem(withCode('28000'))).toBe(true);
    expect(isLoginProblem(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'))).toBe(true);
    expect(isLoginProblem(new UnsafeRequestLoginError('the login x is a superuser'))).toBe(true);
    expect(isLoginProblem(withCode('ECONNREFUSED'))).toBe(false);
    expect(isLoginProblem(withCode('57P03'))).toBe(false);
    expect(isLoginProblem(new Error('Connection terminated unexpectedly'))).toBe(false);
  });

  it('refuses malformed settings with the variable name; a URL without host cannot be derived', () => {
    expect(() => requestLoginConfig('postgres://o@h/db', { LATTICE_REQUEST_DATABASE_URL: 'mysql://x@h/db' })).toThrow(/LATTICE_REQUEST_DATABASE_URL/);
    expect(() => requestLoginConfig('postgres://o@h/db', { LATTICE_REQUIRE_REQUEST_LOGIN: 'yes please' })).toThrow(/LATTICE_REQUIRE_REQUEST_LOGIN/);
    const socket = requestLoginConfig('postgres:///db?host=/var/run/postgresql', {});
    expect(socket.url).toBe('');
    expect(socket.underivable).toMatch(/LATTICE_REQUEST_DATABASE_URL/);
  });
});

describe.each(TEST_KINDS)('request role on %s', (kind) => {
  let t: TestDb;
  let a: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    a = await createProject(t.db, 'A');
    const b = await createProject(t.db, 'B');
    await insertRows(t.db, 'experiment', [
      { project_id: a, name: 'a1' },
      { project_id: b, name: 'b1' },
    ]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('request statements run as the request role under RLS; owner paths run as the owner', async () => {
    const viewer = testPrincipal('viewer', [a]);
    const inTx = await t.db.withPrincipal(viewer, async (tx) => ({ ...(await roles(tx)), names: await experimentNames(tx) }));
    expect(inTx.current).toBe(REQUEST_ROLE);
    expect(inTx.names).toEqual(['a1']);
    const one = await t.db.queryAs<{ current: string }>(viewer, 'SELECT current_user AS current');
    expect(one.rows[0].current).toBe(REQUEST_ROLE);

    const owner = (await t.db.query<{ current: string }>('SELECT current_user AS current')).rows[0].current;
    expect(owner).not.toBe(REQUEST_ROLE);
    const inOwnerTx = await t.db.transaction(async (tx) => ({ ...(await roles(tx)), names: await experimentNames(tx) }));
    expect(inOwnerTx.current).toBe(owner);
    expect(inOwnerTx.names).toEqual(['a1', 'b1']);
  });

  if (kind === 'postgres') {
    it('request connections log in as the request role: the session user is not the owner', async () => {
      expect(await t.db.requestIsolation?.()).toBe('login');
      const r = await t.db.withPrincipal(testPrincipal('admin', []), roles);
      expect(r).toEqual({ current: REQUEST_ROLE, session: REQUEST_ROLE });
      const q = await t.db.queryAs<{ session: string }>(testPrincipal('viewer', [a]), 'SELECT session_user AS session');
      expect(q.rows[0].session).toBe(REQUEST_ROLE);
      const owner = (await t.db.query<{ session: string }>('SELECT session_user AS session')).rows[0].session;
      expect(owner).not.toBe(REQUEST_ROLE);
    });

    it('RESET ROLE inside a request stays the request role, and RLS still applies', async () => {
      const r = await t.db.withPrincipal(testPrincipal('viewer', [a]), async (tx) => {
        await tx.query('RESET ROLE');
        return { ...(await roles(tx)), names: await experimentNames(tx) };
      });
      expect(r).toEqual({ current: REQUEST_ROLE, session: REQUEST_ROLE, names: ['a1'] });
    });

    it('SET ROLE / set_config(role) / SET SESSION AUTHORIZATION to the owner are refused inside a request', async () => {
      const owner = (await t.db.query<{ current: string }>('SELECT current_user AS current')).rows[0].current;
      const viewer = testPrincipal('viewer', [a]);
      const attempts = [
        `SET ROLE "${owner}"`,
        `SELECT set_config('role', '${owner}', false)`,
        `SET SESSION AUTHORIZATION "${owner}"`,
      ];
      for (const sql of attempts) {
        expect(await sqlState(t.db.withPrincipal(viewer, (tx) => tx.query(sql))), sql).toBe('42501');
        expect(await sqlState(t.db.queryAs(viewer, sql)), sql).toBe('42501');
      }
      // The connections went back to the pool clean: the next requests still run as the request role under RLS.
      for (let i = 0; i < 6; i++) {
        const r = await t.db.withPrincipal(viewer, async (tx) => ({ ...(await roles(tx)), names: await experimentNames(tx) }));
        expect(r).toEqual({ current: REQUEST_ROLE, session: REQUEST_ROLE, names: ['a1'] });
      }
    });

    it('a login that fails falls back to SET ROLE with a warning, or is refused when required', async () => {
      const url = new URL(t.url!);
      url.username = 'lattice_no_such_login';
      const warnings: string[] = [];
      const lax = await openPostgres({ connectionString: t.url!, requestConnectionString: url.toString(), requireRequestLogin: false, onWarning: (m) => warnings.push(m) });
      try {
        expect(await lax.requestIsolation?.()).toBe('set-role');
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/LATTICE_REQUEST_DATABASE_URL/);
        expect(warnings[0]).toMatch(/RESET ROLE/);
        // The fallback keeps RLS through the role switch.
        const r = await lax.withPrincipal(testPrincipal('viewer', [a]), async (tx) => ({ current: (await roles(tx)).current, names: await experimentNames(tx) }));
        expect(r).toEqual({ current: REQUEST_ROLE, names: ['a1'] });
        expect(warnings).toHaveLength(1);
      } finally {
        await lax.close();
      }
      const strict = await openPostgres({ connectionString: t.url!, requestConnectionString: url.toString(), requireRequestLogin: true, onWarning: (m) => warnings.push(m) });
      try {
        await expect(strict.requestIsolation!()).rejects.toThrow(/cannot log in through LATTICE_REQUEST_DATABASE_URL.*lattice_no_such_login/);
        await expect(strict.withPrincipal(testPrincipal('viewer', [a]), roles)).rejects.toThrow(/LATTICE_REQUEST_DATABASE_URL/);
        expect(warnings).toHaveLength(1);
      } finally {
        await strict.close();
      }
    });

    it('refuses a login that could escape (a superuser) and does not fall back on an unreachable server', async () => {
      const strict = await openPostgres({ connectionString: t.url!, requestConnectionString: t.url!, requireRequestLogin: true });
      try {
        await expect(strict.requestIsolation!()).rejects.toThrow(/is a superuser|is \(a member of\) the owner/);
      } finally {
        await strict.close();
      }
      const down = new URL(t.url!);
      down.port = '1';
      const warnings: string[] = [];
      const lax = await openPostgres({ connectionString: t.url!, requestConnectionString: down.toString(), requireRequestLogin: false, onWarning: (m) => warnings.push(m) });
      try {
        expect(await sqlState(lax.requestIsolation!())).toBe('ECONNREFUSED');
        expect(await sqlState(lax.queryAs(testPrincipal('viewer', [a]), 'SELECT 1'))).toBe('ECONNREFUSED');
        expect(warnings).toEqual([]);
      } finally {
        await lax.close();
      }
    });
  } else {
    it('PGlite: one superuser connection, so RESET ROLE inside a request reaches the superuser (no login isolation)', async () => {
      expect(await t.db.requestIsolation?.()).toBe('set-role');
      const viewer = testPrincipal('viewer', [a]);
      const escaped = await t.db.withPrincipal(viewer, async (tx) => {
        await tx.query('RESET ROLE');
        return { current: (await roles(tx)).current, names: await experimentNames(tx) };
      });
      // Documented limitation: the superuser bypasses RLS. Isolation on PGlite rests on no client SQL text.
      expect(escaped.current).not.toBe(REQUEST_ROLE);
      expect(escaped.names).toEqual(['a1', 'b1']);
      // The escape ends with its transaction: the next request runs as the request role under RLS again.
      const next = await t.db.withPrincipal(viewer, async (tx) => ({ current: (await roles(tx)).current, names: await experimentNames(tx) }));
      expect(next).toEqual({ current: REQUEST_ROLE, names: ['a1'] });
    });
  }
});

describe.runIf(TEST_KINDS.includes('postgres'))('lattice serve with a required request login', () => {
  it('refuses to start when LATTICE_REQUIRE_REQUEST_LOGIN=1 and the login fails, saying what to set', async () => {
    const pgDb = await createEmptyPostgresDatabase();
    const dir = await mkdtemp(path.join(tmpdir(), 'lattice-request-role-'));
    const url = new URL(pgDb.url);
    url.username = 'lattice_no_such_login';
    process.env.LATTICE_REQUEST_DATABASE_URL = url.toString();
    process.env.LATTICE_REQUIRE_REQUEST_LOGIN = '1';
    const lines: string[] = [];
    try {
      const start = startServe(
        {
          port: 0,
          host: '127.0.0.1',
          databaseUrl: pgDb.url,
          dataDir: path.join(dir, 'data'),
          preset: 'experiments',
          demo: false,
          credentialsFile: path.join(dir, 'credentials'),
          logLevel: 'silent',
        },
        { out: (l) => lines.push(l), err: (l) => lines.push(l) },
      );
      await expect(start).rejects.toThrow(/Request connections cannot log in through LATTICE_REQUEST_DATABASE_URL/);
    } finally {
      delete process.env.LATTICE_REQUEST_DATABASE_URL;
      delete process.env.LATTICE_REQUIRE_REQUEST_LOGIN;
      await pgDb.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
