/**
 * The PostgreSQL driver under failure: a connection the server ends in the middle of a request transaction
 * fails that request only (it used to crash the process with an unhandled 'error' event), and the request
 * statement timeout cancels long statements with an error the API maps to QUERY_TOO_COMPLEX.
 * PostgreSQL only (PGlite is in-process: no connections to lose, and no timer for statement_timeout).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import { principalParams, statementTimeoutMs } from '../../src/db/session.js';
import type { Db } from '../../src/db/types.js';
import { LatticeError, userErrorFromFailure } from '../../src/errors.js';
import { MAX_PARAMETERS, ParamContext } from '../../src/query/sql/params.js';
import { createProject, createTestDb, testPrincipal, type TestDb } from '../support/db.js';

const url = process.env.TEST_DATABASE_URL;

describe.skipIf(!url)('PostgreSQL driver under failure (postgres)', () => {
  let t: TestDb;
  let db: Db;
  let project: string;
  const app = `lattice-resilience-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    t = await createTestDb('postgres');
    project = await createProject(t.db, 'resilience');
    const dbName = (await t.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
    const u = new URL(url!);
    u.pathname = `/${dbName}`;
    db = await openPostgres({ connectionString: u.toString(), max: 2, applicationName: app, statementTimeoutMs: 300 });
  });
  afterAll(async () => {
    await db?.close();
    await t?.close();
  });

  it('a connection ended mid-transaction fails that request only; the pool recovers', async () => {
    const pending = db.withPrincipal(testPrincipal('viewer', [project]), (tx) => tx.query('SELECT pg_sleep(0.25), 1 AS x'));
    const failed = pending.then(
      () => null,
      (err: Error) => err,
    );
    // Find the backend running the sleep and end it, as a server restart or failover would.
    let killed = 0;
    for (let i = 0; i < 50 && killed === 0; i++) {
      const { rows } = await t.db.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%'`,
        [app],
      );
      killed = rows[0].n;
      if (!killed) await new Promise((r) => setTimeout(r, 10));
    }
    expect(killed).toBe(1);
    expect((await failed)?.message).toMatch(/terminat/i);
    // The next requests get healthy connections.
    for (let i = 0; i < 3; i++) {
      const { rows } = await db.withPrincipal(testPrincipal('viewer', [project]), (tx) => tx.query<{ x: number }>('SELECT 1 AS x'));
      expect(rows).toEqual([{ x: 1 }]);
    }
  });

  it('cancels request statements after the statement timeout; the API answers QUERY_TOO_COMPLEX', async () => {
    const err = await db.withPrincipal(testPrincipal('viewer', [project]), (tx) => tx.query('SELECT pg_sleep(2)')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '57014' });
    const mapped = userErrorFromFailure(err);
    expect(mapped).toBeInstanceOf(LatticeError);
    expect(mapped?.code).toBe('QUERY_TOO_COMPLEX');
    expect(mapped?.status).toBe(400);
    expect(mapped?.message).toMatch(/statement timeout/);
    expect(mapped?.message).not.toMatch(/canceling statement/); // never the database's text
    // Owner transactions (migrations) have no request timeout.
    await db.transaction((tx) => tx.query('SELECT pg_sleep(0.4)'));
  });
});

describe('request limits (pure)', () => {
  it('reads LATTICE_STATEMENT_TIMEOUT_MS, defaulting to 30 s, and refuses nonsense', () => {
    expect(statementTimeoutMs({})).toBe(30_000);
    expect(statementTimeoutMs({ LATTICE_STATEMENT_TIMEOUT_MS: '0' })).toBe(0);
    expect(statementTimeoutMs({ LATTICE_STATEMENT_TIMEOUT_MS: '1500' })).toBe(1500);
    expect(() => statementTimeoutMs({ LATTICE_STATEMENT_TIMEOUT_MS: '5s' })).toThrow(/whole number of milliseconds/);
    expect(principalParams(testPrincipal('viewer', []), 1500)[3]).toBe('1500');
  });

  it('refuses a statement with more bind parameters than the protocol allows, as QUERY_TOO_COMPLEX', () => {
    const params = new ParamContext();
    for (let i = 0; i < MAX_PARAMETERS; i++) params.add(`v${i}`, 'text');
    expect(() => params.add('one more', 'text')).toThrow(expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }));
  });
});
