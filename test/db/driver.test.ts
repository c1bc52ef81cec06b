import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

describe.each(TEST_KINDS)('Db driver on %s', (kind) => {
  let t: TestDb;
  let p: string;
  beforeAll(async () => {
    t = await createTestDb(kind);
    p = await createProject(t.db, 'driver');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts only the statements callers send, not BEGIN/COMMIT/set_config', async () => {
    const s = t.db.stats;
    let before = s.statements;
    await t.db.withPrincipal(testPrincipal('editor', [p]), async (tx) => {
      await tx.query('SELECT 1');
      await tx.query('SELECT 2');
    });
    expect(s.statements - before).toBe(2);
    before = s.statements;
    await t.db.transaction(async (tx) => {
      await tx.query('SELECT 1');
    });
    await t.db.query('SELECT 1');
    expect(s.statements - before).toBe(2);
    before = s.statements;
    await expect(t.db.withPrincipal(testPrincipal('viewer', [p]), (tx) => tx.query('SELECT * FROM no_such_table'))).rejects.toMatchObject({
      code: '42P01',
    });
    expect(s.statements - before).toBe(1);
  });

  it('normalises result types identically on both drivers', async () => {
    const { rows, rowCount } = await t.db.query(
      `SELECT 1::int8 AS small, 9007199254740993::int8 AS big, count(*) AS n, 1.50::numeric AS dec,
              '2024-02-29'::date AS d, ARRAY['2024-01-01'::date] AS ds, ARRAY[1, 9007199254740993]::int8[] AS bigs,
              '{"a":[1,true,null]}'::jsonb AS j, '2024-01-02T03:04:05Z'::timestamptz AS ts, 2.5::float8 AS f,
              ARRAY['x','y'] AS strs
         FROM (VALUES (1), (2)) AS v(x)`,
    );
    expect(rowCount).toBe(1);
    expect(rows[0]).toEqual({
      small: 1,
      big: '9007199254740993',
      n: 2,
      dec: '1.50',
      d: '2024-02-29',
      ds: ['2024-01-01'],
      bigs: [1, '9007199254740993'],
      j: { a: [1, true, null] },
      ts: new Date('2024-01-02T03:04:05Z'),
      f: 2.5,
      strs: ['x', 'y'],
    });
  });

  it('reports affected rows of writes, runs every session in UTC, and rolls back on error', async () => {
    const ins = await t.db.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'a'), ($1, 'b')`, [p]);
    expect(ins.rowCount).toBe(2);
    const tz = await t.db.withPrincipal(testPrincipal('viewer', [p]), (tx) => tx.query<{ tz: string }>(`SELECT current_setting('TimeZone') AS tz`));
    expect(tz.rows[0].tz).toBe('UTC');
    expect((await t.db.query<{ tz: string }>(`SELECT current_setting('TimeZone') AS tz`)).rows[0].tz).toBe('UTC');
    await expect(
      t.db.transaction(async (tx) => {
        await tx.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'rolled-back')`, [p]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM app.experiment WHERE name = 'rolled-back'`);
    expect(rows[0].n).toBe(0);
  });

  it('refuses statements on a transaction handle after the transaction ended', async () => {
    let leaked: { query: (text: string) => Promise<unknown> } | undefined;
    await t.db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toThrow(/already finished/);
  });

  it('refuses a principal whose project ids are not UUIDs', async () => {
    await expect(t.db.withPrincipal(testPrincipal('viewer', ['x}, {y']), async () => 1)).rejects.toThrow(/not a UUID/);
  });

  it('delivers NOTIFY payloads to listeners until they unsubscribe', async () => {
    const got: string[] = [];
    const unlisten = await t.db.listen('lattice_Test', (payload) => got.push(payload));
    await t.db.query(`SELECT pg_notify('lattice_Test', 'one')`);
    await t.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_notify('lattice_Test', 'two')`);
    });
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['one', 'two']);
    await unlisten();
    await t.db.query(`SELECT pg_notify('lattice_Test', 'three')`);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(['one', 'two']);
  });
});
