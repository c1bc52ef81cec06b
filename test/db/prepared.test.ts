/**
 * Named prepared statements of the PostgreSQL driver (src/db/prepared.ts): reused per connection, bounded,
 * evicted ones deallocated on the server, failures not cached — and results identical to unprepared runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { MAX_PREPARED_PER_CONNECTION, queryPrepared } from '../../src/db/prepared.js';
import { TEST_KINDS, createTestDb, type TestDb } from '../support/db.js';

describe.skipIf(!TEST_KINDS.includes('postgres'))('prepared statements on postgres', () => {
  let t: TestDb;
  let client: pg.Client;
  const prepared = async () =>
    (await client.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements ORDER BY name')).rows;

  beforeAll(async () => {
    t = await createTestDb('postgres');
    // A plain client on the same database (the test db's URL is not exposed; reuse TEST_DATABASE_URL's server
    // and the current database name).
    const dbName = (await t.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${dbName}`;
    client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await t?.close();
  });

  it('prepares a statement once per connection and reuses it', async () => {
    const a = await queryPrepared(client, 'SELECT $1::int + 1 AS n', [1]);
    const b = await queryPrepared(client, 'SELECT $1::int + 1 AS n', [41]);
    expect([a.rows[0].n, b.rows[0].n]).toEqual([2, 42]);
    expect((await prepared()).filter((p) => p.statement.includes('$1::int + 1'))).toHaveLength(1);
  });

  it('keeps at most MAX_PREPARED_PER_CONNECTION and deallocates evicted ones on the server', async () => {
    for (let i = 0; i < MAX_PREPARED_PER_CONNECTION + 20; i++) {
      const r = await queryPrepared(client, `SELECT $1::int * ${i} AS n`, [2]);
      expect(r.rows[0].n).toBe(2 * i);
    }
    await queryPrepared(client, 'SELECT $1::int AS n', [0]); // flushes pending DEALLOCATEs
    const names = await prepared();
    expect(names.length).toBeLessThanOrEqual(MAX_PREPARED_PER_CONNECTION);
    expect(names.some((p) => p.statement.includes('$1::int * 0 AS n'))).toBe(false);
    // An evicted text comes back under a new name and still works.
    expect((await queryPrepared(client, 'SELECT $1::int * 0 AS n', [5])).rows[0].n).toBe(0);
  });

  it('does not cache a statement that failed to prepare or to execute', async () => {
    await expect(queryPrepared(client, 'SELECT $1::int FROM no_such_table', [1])).rejects.toThrow(/no_such_table/);
    await expect(queryPrepared(client, 'SELECT 1 / $1::int AS n', [0])).rejects.toThrow(/division by zero/);
    expect((await queryPrepared(client, 'SELECT 1 / $1::int AS n', [1])).rows[0].n).toBe(1);
    await queryPrepared(client, 'SELECT $1::int AS n', [0]);
    expect((await prepared()).some((p) => p.statement.includes('no_such_table'))).toBe(false);
  });

  it('request statements inside withPrincipal go through it and stay correct under RLS', async () => {
    const pid = (await t.db.query<{ id: string }>(`INSERT INTO lattice.projects (name) VALUES ('p') RETURNING id::text AS id`)).rows[0].id;
    const other = (await t.db.query<{ id: string }>(`INSERT INTO lattice.projects (name) VALUES ('q') RETURNING id::text AS id`)).rows[0].id;
    await t.db.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'mine'), ($2, 'theirs')`, [pid, other]);
    const read = (projectIds: string[]) =>
      t.db.withPrincipal({ kind: 'api_key', id: 'k', role: 'viewer', projectIds }, (tx) =>
        tx.query<{ name: string }>('SELECT name FROM app.experiment WHERE name <> $1 ORDER BY name', ['']),
      );
    // Same text, different principals, many times (past PostgreSQL's switch to a generic plan after 5 runs).
    for (let i = 0; i < 8; i++) {
      expect((await read([pid])).rows.map((r) => r.name)).toEqual(['mine']);
      expect((await read([other])).rows.map((r) => r.name)).toEqual(['theirs']);
    }
  });
});
