/**
 * Float output is pinned per transaction (src/db/session.ts): `extra_float_digits = 1`, the shortest text that
 * reads back exactly. A database (or session) configured to round floats would otherwise round every float in
 * JSON answers and make keyset cursors over float keys, `_rank` and `_distance` miss their own row — a cursor
 * page that returns the same rows again (found in review).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { quoteIdent } from '../../src/query/sql/ident.js';
import { createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

const EXACT = `SELECT 0.66871977::real::text AS r, 0.1234567890123456::float8::text AS d`;

describe.each(TEST_KINDS)('float output on %s', (kind) => {
  let t: TestDb;
  let db: Db;

  beforeAll(async () => {
    t = await createTestDb(kind);
    if (kind === 'pglite') {
      // One connection: a session-level setting stands for a database default.
      await t.db.query('SET extra_float_digits = 0');
      db = t.db;
    } else {
      const { rows } = await t.db.query<{ d: string }>('SELECT current_database() AS d');
      await t.db.query(`ALTER DATABASE ${quoteIdent(rows[0].d)} SET extra_float_digits = 0`);
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.pathname = `/${rows[0].d}`;
      db = await openPostgres({ connectionString: url.toString() }); // new connections get the rounding default
    }
    const outside = await db.query<{ r: string }>(EXACT);
    expect(outside.rows[0].r).toBe('0.66872'); // the configuration really rounds
  });

  afterAll(async () => {
    if (db !== t?.db) await db?.close();
    await t?.close();
  });

  it('request transactions print floats exactly', async () => {
    const { rows } = await db.withPrincipal(testPrincipal('admin'), (tx) => tx.query<{ r: string; d: string }>(EXACT));
    expect(rows[0]).toEqual({ r: '0.66871977', d: '0.1234567890123456' });
  });

  it('owner transactions print floats exactly', async () => {
    const { rows } = await db.transaction((tx) => tx.query<{ r: string; d: string }>(EXACT));
    expect(rows[0]).toEqual({ r: '0.66871977', d: '0.1234567890123456' });
  });
});
