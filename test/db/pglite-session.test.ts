/**
 * Request transactions on PGlite through the wire protocol (`src/db/pglite-session.ts`): named prepared
 * statements, one exchange per read. The same rows and types as PGlite's own `query()`, row-level security per
 * principal on a reused statement, transaction-local settings, a clean connection after failures, bounded
 * prepared statements, NOTIFY delivery, and mutual exclusion with other callers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PREPARED_STATEMENTS } from '../../src/db/pglite-session.js';
import { WireReader } from '../../src/db/pglite-wire.js';
import { createProject, createTestDb, insertRows, testPrincipal, type TestDb } from '../support/db.js';

/** The error a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<Error & { code?: string; query?: string; params?: unknown[] }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the promise to reject');
}

/** The owner's view of the connection: who it is, the request settings, whether a transaction is still open. */
async function connectionState(t: TestDb) {
  const { rows } = await t.db.query<{ usr: string; role: string; ids: string }>(
    `SELECT current_user AS usr, coalesce(current_setting('lattice.role', true), '') AS role,
            coalesce(current_setting('lattice.project_ids', true), '') AS ids`,
  );
  // SAVEPOINT fails outside a transaction block (25P01); it would succeed inside one left open.
  const savepoint = await t.db.query('SAVEPOINT probe').then(
    () => 'inside a transaction',
    (err: { code?: string }) => err.code,
  );
  return { ...rows[0], savepoint };
}

describe('PGlite request transactions over the wire protocol', () => {
  let t: TestDb;
  let a: string;
  let b: string;
  let owner: Awaited<ReturnType<typeof connectionState>>;

  beforeAll(async () => {
    t = await createTestDb('pglite');
    a = await createProject(t.db, 'A');
    b = await createProject(t.db, 'B');
    await insertRows(t.db, 'experiment', [
      { project_id: a, name: 'a1', meta: { k: [1, 2] } },
      { project_id: b, name: 'b1' },
    ]);
    owner = await connectionState(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  const TYPES_SQL = `SELECT 9007199254740993::int8 AS big, 42::int8 AS small, 1.5::numeric AS num, 0.1::float8 AS f,
    '2026-01-02 03:04:05.678+00'::timestamptz AS ts, '{"a":[1,2]}'::jsonb AS j, ARRAY[1,2]::int4[] AS arr,
    ARRAY['00000000-0000-7000-8000-000000000001']::uuid[] AS ids, NULL::text AS nothing, $1::text AS p, $2::uuid[] AS pa`;

  it('returns the same rows and types as PGlite’s own query()', async () => {
    const params = ['x', [a, b]];
    const expected = await t.db.query(TYPES_SQL, params);
    const viaQueryAs = await t.db.queryAs(testPrincipal('viewer', [a]), TYPES_SQL, params);
    const viaTx = await t.db.withPrincipal(testPrincipal('viewer', [a]), (tx) => tx.query(TYPES_SQL, params));
    expect(viaQueryAs).toEqual(expected);
    expect(viaTx).toEqual(expected);
    const raw = await t.db.queryAs(testPrincipal('viewer', [a]), TYPES_SQL, params, { raw: true });
    expect(raw).toEqual(await t.db.query(TYPES_SQL, params, { raw: true }));
  });

  it('a statement reused by principals of different projects sees only each one’s rows', async () => {
    const text = 'SELECT name FROM app.experiment ORDER BY name';
    for (let i = 0; i < 8; i++) {
      // More than PostgreSQL's five custom plans: the generic plan must filter per principal too.
      expect((await t.db.queryAs<{ name: string }>(testPrincipal('viewer', [a]), text)).rows.map((r) => r.name)).toEqual(['a1']);
      expect((await t.db.queryAs<{ name: string }>(testPrincipal('viewer', [b]), text)).rows.map((r) => r.name)).toEqual(['b1']);
      const both = await t.db.withPrincipal(testPrincipal('viewer', [a, b]), (tx) => tx.query<{ name: string }>(text));
      expect(both.rows.map((r) => r.name)).toEqual(['a1', 'b1']);
    }
    expect((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1', [text])).rows[0].n).toBe(1);
  });

  it('leaves the principal’s settings and role behind with the transaction', async () => {
    const inside = await t.db.queryAs<{ usr: string; ids: string }>(testPrincipal('viewer', [a]), `SELECT current_user AS usr, current_setting('lattice.project_ids', true) AS ids`);
    expect(inside.rows[0]).toEqual({ usr: 'lattice_request', ids: `{${a}}` });
    expect(await connectionState(t)).toEqual(owner);
    await t.db.withPrincipal(testPrincipal('editor', [b]), (tx) => tx.query('SELECT 1'));
    expect(await connectionState(t)).toEqual(owner);
    expect(owner).toMatchObject({ role: '', ids: '', savepoint: '25P01' });
    expect(owner.usr).not.toBe('lattice_request');
  });

  it('a failed statement throws PGlite’s error and leaves the connection clean', async () => {
    const err = await failure(t.db.queryAs(testPrincipal('viewer', [a]), 'SELECT 1 / $1::int AS x', [0]));
    expect(err.code).toBe('22012');
    expect(err.query).toBe('SELECT 1 / $1::int AS x');
    expect(err.params).toEqual([0]);
    expect(await connectionState(t)).toEqual(owner);
    // The failed statement was dropped and is prepared again.
    expect((await t.db.queryAs<{ x: number }>(testPrincipal('viewer', [a]), 'SELECT 1 / $1::int AS x', [1])).rows).toEqual([{ x: 1 }]);
    const syntax = await failure(t.db.queryAs(testPrincipal('viewer', [a]), 'SELEC 1'));
    expect(syntax.code).toBe('42601');
    expect(await connectionState(t)).toEqual(owner);
  });

  it('a failure inside withPrincipal rolls the whole transaction back', async () => {
    const err = await failure(
      t.db.withPrincipal(testPrincipal('owner', [a]), async (tx) => {
        await tx.query('INSERT INTO app.experiment (project_id, name) VALUES ($1, $2)', [a, 'rolled-back']);
        await tx.query('SELECT 1 / 0');
      }),
    );
    expect(err.code).toBe('22012');
    expect(await connectionState(t)).toEqual(owner);
    expect((await t.db.query('SELECT 1 FROM app.experiment WHERE name = $1', ['rolled-back'])).rowCount).toBe(0);
    // A callback that throws after a write rolls it back too; one that returns commits it.
    await failure(
      t.db.withPrincipal(testPrincipal('owner', [a]), async (tx) => {
        await tx.query('INSERT INTO app.experiment (project_id, name) VALUES ($1, $2)', [a, 'thrown']);
        throw new Error('no');
      }),
    );
    const written = await t.db.withPrincipal(testPrincipal('owner', [a]), (tx) =>
      tx.query('INSERT INTO app.experiment (project_id, name) VALUES ($1, $2)', [a, 'kept']),
    );
    expect(written.rowCount).toBe(1);
    const names = (await t.db.query<{ name: string }>(`SELECT name FROM app.experiment WHERE name IN ('thrown', 'kept')`)).rows;
    expect(names).toEqual([{ name: 'kept' }]);
    // Writing into a project the principal may not write to fails (RLS) and is rolled back.
    const denied = await failure(
      t.db.withPrincipal(testPrincipal('viewer', [a]), (tx) => tx.query('INSERT INTO app.experiment (project_id, name) VALUES ($1, $2)', [a, 'denied'])),
    );
    expect(denied.code).toBe('42501');
    expect(await connectionState(t)).toEqual(owner);
  });

  it('a statement sent after the transaction finished is refused', async () => {
    let handle: { query: (text: string) => Promise<unknown> } | undefined;
    await t.db.withPrincipal(testPrincipal('viewer', [a]), async (tx) => {
      handle = tx;
    });
    expect((await failure(handle!.query('SELECT 1'))).message).toMatch(/already finished/);
  });

  it('keeps at most MAX_PREPARED_STATEMENTS statements prepared', async () => {
    for (let i = 0; i < MAX_PREPARED_STATEMENTS + 20; i++) {
      await t.db.queryAs(testPrincipal('viewer', [a]), `SELECT ${i} AS n, $1::text AS p`, ['x']);
    }
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'lattice_pglite_%'`);
    // Evicted statements are closed at the head of the next exchange: at most one is still pending.
    expect(rows[0].n).toBeGreaterThanOrEqual(MAX_PREPARED_STATEMENTS);
    expect(rows[0].n).toBeLessThanOrEqual(MAX_PREPARED_STATEMENTS + 1);
  });

  it('delivers NOTIFY of a committed request transaction to listeners, not of a rolled-back one', async () => {
    const got: string[] = [];
    const stop = await t.db.listen('pglite_session_test', (payload) => got.push(payload));
    await t.db.withPrincipal(testPrincipal('viewer', [a]), (tx) => tx.query(`SELECT pg_notify('pglite_session_test', 'committed')`));
    await t.db.queryAs(testPrincipal('viewer', [a]), `SELECT pg_notify('pglite_session_test', $1)`, ['queryAs']);
    await failure(t.db.queryAs(testPrincipal('viewer', [a]), `SELECT pg_notify('pglite_session_test', 'aborted'), 1 / 0`));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(got).toEqual(['committed', 'queryAs']);
    await stop();
  });

  it('holds other callers off while a request transaction runs', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const request = t.db.withPrincipal(testPrincipal('owner', [a]), async (tx) => {
      await tx.query('INSERT INTO app.experiment (project_id, name) VALUES ($1, $2)', [a, 'exclusive']);
      order.push('request wrote');
      await gate;
      order.push('request ends');
    });
    const other = t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM app.experiment WHERE name = 'exclusive'`).then((r) => {
      order.push(`owner read ${r.rows[0].n}`);
    });
    const read = t.db.queryAs(testPrincipal('viewer', [a]), 'SELECT 1').then(() => order.push('read'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual(['request wrote']);
    release();
    await Promise.all([request, other, read]);
    expect(order.slice(0, 2)).toEqual(['request wrote', 'request ends']);
    expect(order).toContain('owner read 1');
    expect(order).toContain('read');
  });
});

describe('reading raw backend messages', () => {
  /** One backend message: code, Int32 length, body. */
  const message = (code: string, body: number[]): number[] => {
    const length = body.length + 4;
    return [code.charCodeAt(0), length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255, ...body];
  };
  const int32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const text = (s: string) => [...new TextEncoder().encode(s)];
  const cstring = (s: string) => [...text(s), 0];

  it('reads rows and command tags across chunks, skips bind/close completions, hands errors to PGlite’s parser', () => {
    const bytes = new Uint8Array([
      ...message('2', []),
      ...message('3', []),
      ...message('D', [0, 3, ...int32(-1), ...int32(text('é€😀').length), ...text('é€😀'), ...int32(0)]),
      ...message('C', cstring('SELECT 1')),
      ...message('E', [...cstring('SERROR'), ...cstring('C22012'), ...cstring('Mdivision by zero'), 0]),
    ]);
    const reader = new WireReader();
    // Chunks cut inside a message and inside a multi-byte character; the source buffer is reused afterwards.
    const scratch = new Uint8Array(bytes.length);
    for (const [from, to] of [[0, 3], [3, 17], [17, 20], [20, bytes.length]]) {
      scratch.set(bytes.subarray(from, to));
      reader.push(scratch.subarray(0, to - from));
      scratch.fill(0);
    }
    const messages = reader.messages();
    expect(messages.map((m) => m.name)).toEqual(['dataRow', 'commandComplete', 'error']);
    expect(messages[0]).toMatchObject({ fields: [null, 'é€😀', ''], fieldCount: 3 });
    expect(messages[1]).toMatchObject({ text: 'SELECT 1' });
    expect(messages[2]).toBeInstanceOf(Error);
    expect(messages[2]).toMatchObject({ code: '22012', message: 'division by zero', severity: 'ERROR' });
  });

  it('refuses bytes that end inside a message', () => {
    const reader = new WireReader();
    reader.push(new Uint8Array(message('C', cstring('SELECT 1')).slice(0, 7)));
    expect(() => reader.messages()).toThrow(/incomplete protocol message/);
  });
});
