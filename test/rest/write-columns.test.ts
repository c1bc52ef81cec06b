/**
 * The column-wise write input (`src/query/write/columns.ts`) and compact outcomes (`sql.ts`, `execute.ts`) on
 * each database: every field type round-trips through its array parameter (strings that look like array syntax,
 * JSON of every shape, enums, string arrays, vectors under pgvector and `real[]`), absent keys differ from
 * `null` (defaults on create, untouched on update, both within one batch), computed columns are never written,
 * and the statement returns only the exceptions plus a count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { loadModelDocument } from '../../src/model/load.js';
import { arrayLiteral } from '../../src/query/write/columns.js';
import { executeWrite } from '../../src/query/write/execute.js';
import type { WriteMode } from '../../src/query/write/plan.js';
import { compileWrite } from '../../src/query/write/sql.js';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { uid } from '../query/support.js';

const model = loadModelDocument({
  name: 'kinds',
  entities: {
    box: { fields: { label: { type: 'string', required: true } } },
    item: {
      fields: {
        box: { type: 'ref', to: 'box' },
        name: { type: 'string', required: true },
        note: { type: 'text' },
        count: { type: 'int', default: 7 },
        big: { type: 'bigint' },
        ratio: { type: 'float' },
        price: { type: 'decimal' },
        done: { type: 'boolean', required: true, default: false },
        at: { type: 'datetime' },
        until: { type: 'datetime' },
        day: { type: 'date' },
        other: { type: 'uuid' },
        meta: { type: 'json' },
        color: { type: 'enum', values: ['red', 'green'], default: 'green' },
        tags: { type: 'string[]' },
        embedding: { type: 'vector', dimensions: 3 },
        span_ms: { type: 'float', computed: { milliseconds_between: ['at', 'until'] } },
      },
    },
  },
});

const tricky = 'a "quoted", {braced} \\back\\slash NULL';

describe('arrayLiteral', () => {
  it('quotes every string (so no value can shift another row) and nests arrays as quoted inner literals', () => {
    expect(arrayLiteral(['x', null, undefined, 3, true, tricky])).toBe('{"x",NULL,NULL,3,t,"a \\"quoted\\", {braced} \\\\back\\\\slash NULL"}');
    expect(arrayLiteral([['a', 'b,c'], [], [1.5, 2]])).toBe('{"{\\"a\\",\\"b,c\\"}","{}","{1.5,2}"}');
  });
});

describe.each(TEST_KINDS)('column-wise writes on %s', (kind) => {
  let t: TestDb;
  let P: string;
  let editor: Principal;
  const write = (mode: WriteMode, rows: Array<Record<string, unknown>>, entity = 'item') =>
    t.db.withPrincipal(editor, (tx) => executeWrite(tx, model, { entity, mode, rows: rows.map((values) => ({ values })) }));
  const read = async (id: string) =>
    (await t.db.query<Record<string, unknown>>(`SELECT *, embedding::real[] AS vec, price::text AS price_text FROM app.item WHERE id = $1`, [id])).rows[0];

  beforeAll(async () => {
    t = await createTestDb(kind, model);
    P = await createProject(t.db, 'P');
    editor = testPrincipal('editor', [P]);
    expect((await write('create', [{ id: uid(100), project_id: P, label: 'b' }], 'box')).map((o) => o.kind)).toEqual(['inserted']);
  });
  afterAll(async () => t?.close());

  it('round-trips every field type; absent keys get model defaults, explicit nulls stay null', async () => {
    const full = {
      id: uid(1), project_id: P, box_id: uid(100), name: tricky, note: '', count: 3, big: 9007199254740991, ratio: 0.1,
      price: '1.50', done: true, at: '2024-05-01T10:00:00Z', until: '2024-05-01T10:00:01.5Z', day: '2024-02-29', other: uid(7),
      meta: { q: 'say "hi"', n: [1, null] }, color: 'red', tags: ['x', '', 'NULL', 'b,c', '{}', tricky], embedding: [0.5, -1, 3],
      span_ms: 12345,
    };
    const bare = { id: uid(2), project_id: P, name: 'bare' };
    const nulls = { id: uid(3), project_id: P, name: 'nulls', count: null, color: null, meta: 'just a string', tags: [], embedding: null };
    const out = await write('create', [full, bare, nulls]);
    expect(out.map((o) => [o.kind, o.status])).toEqual([['inserted', 201], ['inserted', 201], ['inserted', 201]]);

    const a = await read(uid(1));
    expect(a).toMatchObject({
      box_id: uid(100), name: tricky, note: '', count: 3, ratio: 0.1, price_text: '1.50', done: true, other: uid(7),
      meta: full.meta, color: 'red', tags: full.tags, vec: [0.5, -1, 3], span_ms: 1500,
    });
    expect(Number(a.big)).toBe(9007199254740991);
    expect(new Date(a.at as string).toISOString()).toBe('2024-05-01T10:00:00.000Z');
    expect(String(a.day instanceof Date ? a.day.toISOString().slice(0, 10) : a.day)).toBe('2024-02-29');
    expect(await read(uid(2))).toMatchObject({ count: 7, done: false, color: 'green', note: null, meta: null, tags: null, vec: null });
    expect(await read(uid(3))).toMatchObject({ count: null, color: null, meta: 'just a string', tags: [], vec: null, done: false });
  });

  it('create retries: the same values (absent keys ignored) are `exists`, other values `differs`', async () => {
    const again = { id: uid(1), project_id: P, name: tricky, tags: ['x', '', 'NULL', 'b,c', '{}', tricky], embedding: [0.5, -1, 3], meta: { n: [1, null], q: 'say "hi"' } };
    const out = await write('create', [again, { ...again, id: uid(2), name: 'bare', embedding: [1, 2, 3] }, { id: uid(3), project_id: P, name: 'nulls', count: null }]);
    expect(out.map((o) => o.kind)).toEqual(['exists', 'differs', 'exists']);
  });

  it('update changes only the given keys, row by row within one batch', async () => {
    const out = await write('update', [
      { id: uid(1), note: 'changed' },
      { id: uid(2), color: null, embedding: [0, 0, 1] },
      { id: uid(3), name: 'renamed', tags: ['t'] },
    ]);
    expect(out.map((o) => o.kind)).toEqual(['updated', 'updated', 'updated']);
    expect(await read(uid(1))).toMatchObject({ note: 'changed', name: tricky, color: 'red', vec: [0.5, -1, 3], count: 3 });
    expect(await read(uid(2))).toMatchObject({ name: 'bare', color: null, vec: [0, 0, 1], count: 7 });
    expect(await read(uid(3))).toMatchObject({ name: 'renamed', tags: ['t'], meta: 'just a string', count: null });
  });

  it('reports exceptions in input order among successes; required fields and references are checked per row', async () => {
    const out = await write('upsert', [
      { id: uid(10), project_id: P, name: 'new' },
      { id: uid(11), project_id: P, box_id: uid(999) },
      { id: uid(1), project_id: P, name: 'upserted' },
      { id: uid(12), project_id: P },
    ]);
    expect(out.map((o) => [o.kind, o.column])).toEqual([
      ['inserted', undefined],
      ['bad_ref', 'box_id'],
      ['updated', undefined],
      ['missing_required', 'name'],
    ]);
    const upd = await write('update', [{ id: uid(10), name: null }, { id: uid(404) }, { id: uid(10), note: 'x' }]);
    expect(upd.map((o) => o.kind)).toEqual(['missing_required', 'not_found', 'updated']);
  });

  it('checks the reference of every row though each distinct parent is probed once: shared, missing, foreign and absent parents', async () => {
    // A box of another project: invisible to this editor, so naming it is a bad reference like naming nothing.
    const Q = await createProject(t.db, 'Q');
    const other = testPrincipal('editor', [Q]);
    await t.db.withPrincipal(other, (tx) => executeWrite(tx, model, { entity: 'box', mode: 'create', rows: [{ values: { id: uid(101), project_id: Q, label: 'q' } }] }));
    for (const mode of ['create', 'upsert'] as const) {
      const base = mode === 'create' ? 30 : 40;
      const out = await write(mode, [
        { id: uid(base), project_id: P, name: 'a', box_id: uid(100) },
        { id: uid(base + 1), project_id: P, name: 'b', box_id: uid(997) },
        { id: uid(base + 2), project_id: P, name: 'c', box_id: uid(100) },
        { id: uid(base + 3), project_id: P, name: 'd', box_id: uid(101) },
        { id: uid(base + 4), project_id: P, name: 'e', box_id: uid(997) },
        { id: uid(base + 5), project_id: P, name: 'f', box_id: null },
        { id: uid(base + 6), project_id: P, name: 'g' },
        { id: uid(base + 7), project_id: P, name: 'h', box_id: uid(100) },
      ]);
      expect(out.map((o) => [o.kind, o.column])).toEqual([
        ['inserted', undefined],
        ['bad_ref', 'box_id'],
        ['inserted', undefined],
        ['bad_ref', 'box_id'],
        ['bad_ref', 'box_id'],
        ['inserted', undefined],
        ['inserted', undefined],
        ['inserted', undefined],
      ]);
      const { rows } = await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM app.item WHERE box_id = $1 AND id = ANY($2::uuid[])`, [
        uid(100),
        [uid(base), uid(base + 2), uid(base + 7)],
      ]);
      expect(Number(rows[0].n)).toBe(3);
    }
  });

  it('returns one count row for plain successes and one row per exception', async () => {
    const { text, params } = compileWrite(model, {
      entity: 'item',
      mode: 'create',
      rows: [
        { values: { id: uid(20), project_id: P, name: 'a' } },
        { values: { id: uid(21), project_id: P, name: 'b', box_id: uid(998) } },
        { values: { id: uid(22), project_id: P, name: 'c' } },
      ],
    });
    const res = await t.db.withPrincipal(editor, (tx) => tx.query<{ ord: number | null; outcome: string; col: string | null }>(text, params));
    const rows = res.rows.map((r) => ({ ...r, ord: r.ord === null ? null : Number(r.ord) }));
    expect(rows).toHaveLength(2);
    expect(rows).toContainEqual({ ord: 2, outcome: 'bad_ref', col: 'box_id' });
    expect(rows).toContainEqual({ ord: null, outcome: 'inserted', col: '2' });
    const del = await write('delete', [{ id: uid(20) }, { id: uid(22), project_id: P }, { id: uid(405) }]);
    expect(del.map((o) => o.kind)).toEqual(['deleted', 'deleted', 'not_found']);
  });
});
