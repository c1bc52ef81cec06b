/**
 * One round trip per request (issue 9 item 1): `Db.queryAs` sends the principal's settings and the statement
 * in one pipeline (one Sync, an implicit transaction) on PostgreSQL; `withPrincipal` starts its transaction
 * lazily with the first statement. Nothing is weakened: RLS applies, settings and role never outlive the
 * request on a pooled connection, failures (an error, a statement timeout) leave the connection clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { startProtocolProxy, type ProtocolProxy } from './protocol-proxy.js';

/** The URL of a test database (PostgreSQL): TEST_DATABASE_URL's server, the database `t` runs on. */
async function urlOf(t: TestDb): Promise<string> {
  const dbName = (await t.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${dbName}`;
  return url.toString();
}

/** What a connection carries between requests: must be the owner with no request setting, in no transaction. */
const SESSION_STATE = `SELECT current_user AS "user",
  coalesce(current_setting('lattice.role', true), '') AS role,
  coalesce(current_setting('lattice.project_ids', true), '') AS project_ids,
  current_setting('statement_timeout') AS timeout,
  transaction_timestamp() = statement_timestamp() AS fresh_transaction`;

describe.each(TEST_KINDS)('requests as a principal on %s', (kind) => {
  let t: TestDb;
  /** A Db on the same database with ONE connection (PGlite has one anyway), so requests share it. */
  let one: Db;
  let owner: string;
  let a: string;
  let b: string;
  const clean = async () => {
    const state = (await one.query<Record<string, unknown>>(SESSION_STATE)).rows[0];
    // PGlite's timestamps do not tell transactions apart; a transaction left open there would fail the next
    // caller's transaction() instead.
    if (kind === 'pglite') delete state.fresh_transaction;
    return state;
  };
  let idle: Record<string, unknown>;

  beforeAll(async () => {
    t = await createTestDb(kind);
    one = kind === 'postgres' ? await openPostgres({ connectionString: await urlOf(t), max: 1, statementTimeoutMs: 200 }) : t.db;
    owner = (await one.query<{ u: string }>('SELECT current_user AS u')).rows[0].u;
    a = await createProject(t.db, 'A');
    b = await createProject(t.db, 'B');
    await insertRows(t.db, 'experiment', [
      { project_id: a, name: 'a1' },
      { project_id: a, name: 'a2' },
      { project_id: b, name: 'b1' },
    ]);
    idle = await clean();
  });
  afterAll(async () => {
    if (one !== t?.db) await one?.close();
    await t?.close();
  });

  it('runs the statement as the request role with the principal settings, so RLS applies', async () => {
    const { rows } = await one.queryAs<{ user: string; role: string; names: string[] }>(
      testPrincipal('viewer', [a]),
      `SELECT current_user AS "user", current_setting('lattice.role') AS role,
              (SELECT array_agg(name ORDER BY name) FROM app.experiment WHERE name <> $1) AS names`,
      [''],
    );
    expect(rows).toEqual([{ user: 'lattice_request', role: 'viewer', names: ['a1', 'a2'] }]);
    expect(idle).toMatchObject({ user: owner, role: '', project_ids: '' });
    if (kind === 'postgres') expect(idle.fresh_transaction).toBe(true);
    expect(await clean()).toEqual(idle);
  });

  it('leaves nothing behind on the connection for the next request, after success or failure', async () => {
    await one.queryAs(testPrincipal('editor', [a]), 'SELECT 1 AS x WHERE $1::int = 1', [1]);
    expect(await clean()).toEqual(idle);
    await expect(one.queryAs(testPrincipal('editor', [a]), 'SELECT 1 / $1::int AS x', [0])).rejects.toMatchObject({ code: '22012' });
    expect(await clean()).toEqual(idle);
    await expect(one.queryAs(testPrincipal('editor', [a]), 'SELECT * FROM no_such_table WHERE 1 = $1', [1])).rejects.toMatchObject({ code: '42P01' });
    expect(await clean()).toEqual(idle);
    await expect(one.withPrincipal(testPrincipal('editor', [a]), (tx) => tx.query('SELECT 1 / $1::int AS x', [0]))).rejects.toMatchObject({ code: '22012' });
    expect(await clean()).toEqual(idle);
    // The next principal sees only its own settings (nothing carried over from the previous one).
    const next = await one.queryAs<{ ids: string; n: number }>(
      testPrincipal('viewer', [b]),
      `SELECT current_setting('lattice.project_ids') AS ids, (SELECT count(*) FROM app.experiment WHERE name <> $1) AS n`,
      [''],
    );
    expect(next.rows).toEqual([{ ids: `{${b}}`, n: 1 }]);
  });

  it('prepares a failing statement afresh: the same text works again after an execution error', async () => {
    const text = 'SELECT 10 / $1::int AS x';
    await expect(one.queryAs(testPrincipal('viewer', [a]), text, [0])).rejects.toMatchObject({ code: '22012' });
    expect((await one.queryAs<{ x: number }>(testPrincipal('viewer', [a]), text, [5])).rows).toEqual([{ x: 2 }]);
    expect((await one.queryAs<{ x: number }>(testPrincipal('viewer', [a]), text, [2])).rows).toEqual([{ x: 5 }]);
  });

  it('counts each queryAs as one caller statement, none for the plumbing', async () => {
    const before = one.stats.statements;
    await one.queryAs(testPrincipal('viewer', [a]), 'SELECT 1');
    await expect(one.queryAs(testPrincipal('viewer', [a]), 'SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
    expect(one.stats.statements - before).toBe(2);
  });

  it('refuses a malformed principal before any SQL', async () => {
    await expect(one.queryAs(testPrincipal('viewer', ['x}, {y']), 'SELECT 1')).rejects.toThrow(/not a UUID/);
  });
});

describe.skipIf(!TEST_KINDS.includes('postgres'))('round trips on postgres', () => {
  let t: TestDb;
  let proxy: ProtocolProxy;
  let db: Db;
  let p: string;
  const principal = () => testPrincipal('viewer', [p]);

  beforeAll(async () => {
    t = await createTestDb('postgres');
    p = await createProject(t.db, 'P');
    await insertRows(t.db, 'experiment', [{ project_id: p, name: 'e' }]);
    proxy = await startProtocolProxy(await urlOf(t));
    db = await openPostgres({ connectionString: proxy.url, max: 1, statementTimeoutMs: 200 });
  });
  afterAll(async () => {
    await db?.close();
    await proxy?.close();
    await t?.close();
  });

  /** Round trips and frontend messages of one call. */
  async function traffic(call: () => Promise<unknown>) {
    proxy.reset();
    await call().catch(() => undefined);
    // The driver may settle a pipelined call on its last CommandComplete, just before the server's
    // ReadyForQuery has passed the proxy: wait (briefly) until every Sync and simple query has its answer.
    const answered = () => (proxy.counts.backend.Z ?? 0) >= (proxy.counts.frontend.S ?? 0) + (proxy.counts.frontend.Q ?? 0);
    for (let i = 0; i < 200 && !answered(); i++) await new Promise((r) => setTimeout(r, 5));
    return { roundTrips: proxy.roundTrips(), syncs: proxy.counts.frontend.S ?? 0, simpleQueries: proxy.counts.frontend.Q ?? 0, sent: proxy.counts.frontend };
  }

  const read = 'SELECT name FROM app.experiment WHERE name <> $1';

  it('queryAs is ONE round trip: settings and statement before one Sync, no BEGIN/COMMIT', async () => {
    await db.queryAs(principal(), read, ['']); // prepares the statements on the connection
    const warm = await traffic(() => db.queryAs(principal(), read, ['']));
    expect(warm).toMatchObject({ roundTrips: 1, syncs: 1, simpleQueries: 0 });
    expect(warm.sent).toEqual({ B: 2, D: 2, E: 2, S: 1 }); // Bind/Describe/Execute × (settings, statement)
    const cold = await traffic(() => db.queryAs(principal(), `${read} AND true`, ['']));
    expect(cold).toMatchObject({ roundTrips: 1, syncs: 1, simpleQueries: 0 });
    expect(cold.sent.P).toBe(1); // the new statement is parsed in the same pipeline
    const failing = await traffic(() => db.queryAs(principal(), 'SELECT 1 / $1::int', [0]));
    expect(failing).toMatchObject({ roundTrips: 1, syncs: 1, simpleQueries: 0 });
  });

  it('withPrincipal starts its transaction with the first statement: two round trips for one statement, none for none', async () => {
    await db.withPrincipal(principal(), (tx) => tx.query(read, ['']));
    expect(await traffic(() => db.withPrincipal(principal(), (tx) => tx.query(read, [''])))).toMatchObject({ roundTrips: 2, syncs: 1, simpleQueries: 1 });
    expect(await traffic(() => db.withPrincipal(principal(), async () => 42))).toMatchObject({ roundTrips: 0 });
    const two = await traffic(() =>
      db.withPrincipal(principal(), async (tx) => {
        await tx.query(read, ['']);
        await tx.query(read, ['x']);
      }),
    );
    expect(two).toMatchObject({ roundTrips: 3 });
  });

  it('the statement timeout applies to the statement of the pipeline, and a cancelled request leaves the connection clean', async () => {
    expect((await db.queryAs<{ t: string }>(principal(), `SELECT current_setting('statement_timeout') AS t WHERE $1`, [true])).rows).toEqual([{ t: '200ms' }]);
    await expect(db.queryAs(principal(), 'SELECT pg_sleep($1)', [30])).rejects.toMatchObject({ code: '57014' });
    await expect(db.withPrincipal(principal(), (tx) => tx.query('SELECT pg_sleep($1)', [30]))).rejects.toMatchObject({ code: '57014' });
    const state = (await db.query<Record<string, unknown>>(SESSION_STATE)).rows[0];
    expect(state).toMatchObject({ role: '', project_ids: '', fresh_transaction: true });
    expect(state.user).not.toBe('lattice_request');
    expect(state.timeout).not.toBe('200ms');
  });

  it('a lazily started transaction is still one transaction: after a failed first statement nothing else runs', async () => {
    const other = await createProject(t.db, 'other');
    const count = async () => (await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM app.experiment WHERE name LIKE 'sneaky%'`)).rows[0].n;
    const err = await db
      .withPrincipal(testPrincipal('editor', [p]), async (tx) => {
        // Refused by row-level security (another project), caught by the callback, which carries on.
        await tx.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'sneaky')`, [other]).catch(() => undefined);
        await tx.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'sneaky2')`, [p]);
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '25P02' }); // current transaction is aborted
    expect(await count()).toBe(0);
    expect((await db.query<Record<string, unknown>>(SESSION_STATE)).rows[0]).toMatchObject({ role: '', fresh_transaction: true });
  });
});
