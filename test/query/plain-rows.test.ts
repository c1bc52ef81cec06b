/**
 * Plain-row answers (`src/query/sql/plain.ts`): a list compiled to plain columns and written to JSON in Node must
 * give the same JSON value as the JSON-building statement (`compileRead`) for every column type and value,
 * nested relations included, on both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, testPrincipal, TEST_KINDS, type TestDb } from '../support/db.js';
import type { Principal } from '../../src/auth/principal.js';
import { loadModelDocument } from '../../src/model/load.js';
import type { OperationPlan, RootNode, Selection } from '../../src/query/plan.js';
import { compileOperation, compileRead } from '../../src/query/sql/compile.js';
import { compilePlainRead, writePlainRows } from '../../src/query/sql/plain.js';
import { asc, cols, compileOptionsOf, desc, list, scopeOf, uid } from './support.js';

const model = loadModelDocument({
  name: 'plain',
  entities: {
    thing: {
      fields: {
        label: { type: 'string' },
        body: { type: 'text' },
        tags: { type: 'string[]' },
        price: { type: 'decimal' },
        big: { type: 'bigint' },
        count: { type: 'int' },
        score: { type: 'float' },
        ok: { type: 'boolean' },
        day: { type: 'date' },
        at: { type: 'datetime' },
        doc: { type: 'json' },
        ref: { type: 'uuid' },
        mood: { type: 'enum', values: ['calm', 'odd_value'] },
      },
    },
    part: {
      fields: {
        thing: { type: 'ref', to: 'thing', required: true },
        n: { type: 'int' },
      },
    },
  },
});

const ALL = ['id', 'label', 'body', 'tags', 'price', 'big', 'count', 'score', 'ok', 'day', 'at', 'doc', 'ref', 'mood'];

/** Strings PostgreSQL's `escape_json` and JSON.stringify must escape alike. */
const TRICKY = 'quote " backslash \\ newline \n tab \t cr \r bs \b ff \f nul-ish \u0001 \u001f del \u007f ünï 😀 \u2028 </script>';

describe.each(TEST_KINDS)('plain-row answers on %s', (kind) => {
  let t: TestDb;
  let viewer: Principal;
  let B: string;
  const thingToParts = (): string => [...model.entities.get('thing')!.relations.values()].find((r) => r.kind === 'to-many' && r.target === 'part')!.name;
  const partToThing = (): string => [...model.entities.get('part')!.relations.values()].find((r) => r.kind === 'to-one' && r.target === 'thing')!.name;

  beforeAll(async () => {
    t = await createTestDb(kind, model);
    const A = await createProject(t.db, 'A');
    viewer = testPrincipal('viewer', [A]);
    const row = (n: number, v: Record<string, unknown>) => ({
      id: uid(n), project_id: A, label: null, body: null, tags: null, price: null, big: null, count: null, score: null, ok: null, day: null, at: null, doc: null, ref: null, mood: null, ...v,
    });
    await insertRows(t.db, 'thing', [
      row(1, {
        label: TRICKY, body: '', tags: ['a', TRICKY, ''], price: '12345678901234567890.123456789', big: '9007199254740993', count: -5, score: 1e-7, ok: true,
        day: '2024-02-29', at: '2026-03-04T05:06:07.891234Z', doc: JSON.stringify({ n: 1, s: TRICKY, arr: [1, 2.5, null], nested: { t: true } }), ref: uid(77), mood: 'odd_value',
      }),
      row(2, { label: 'two', body: 'x', tags: [], price: '0.10', big: '-42', count: 2147483647, score: 1.2345678901234568e20, ok: false, day: '1999-12-31', at: '1970-01-01T00:00:00Z', doc: JSON.stringify([1, 'a']), mood: 'calm' }),
      row(3, { label: '', score: -0.5, doc: JSON.stringify('a JSON string'), big: '0', count: 0, price: '-1' }),
      row(4, { score: 123456.789, doc: '42' }),
      row(5, {}),
      row(6, { score: 'NaN' }),
      row(7, { score: '-Infinity' }),
      row(8, { score: 'Infinity' }),
    ]);
    // Project B: a thing and its parts, never seen by A's viewer.
    B = await createProject(t.db, 'B');
    await insertRows(t.db, 'thing', [{ ...row(201, { label: 'B only', score: 1e308 }), project_id: B }]);
    await insertRows(t.db, 'part', [
      { id: uid(301), project_id: B, thing_id: uid(201), n: 0 },
      { id: uid(302), project_id: B, thing_id: uid(201), n: 99 },
    ]);
    await insertRows(t.db, 'part', [
      { id: uid(101), project_id: A, thing_id: uid(1), n: 1 },
      { id: uid(102), project_id: A, thing_id: uid(1), n: 2 },
      { id: uid(103), project_id: A, thing_id: uid(2), n: 3 },
    ]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const planOf = (node: RootNode, responseKey = 'r'): OperationPlan => ({ scope: scopeOf(viewer), roots: [{ responseKey, node }] });

  /** Both answers of `node`: the JSON statement's text and the plain rows written in Node. */
  async function both(node: RootNode): Promise<{ json: string; plain: string }> {
    const options = await compileOptionsOf(t.db);
    const plan = planOf(node);
    const viaJson = compileRead(model, plan, options);
    const viaRows = compilePlainRead(model, plan, options);
    expect(viaRows).toBeDefined();
    // Every bind parameter is referenced, as in the JSON statement.
    viaRows!.params.forEach((_, i) => expect(viaRows!.text).toMatch(new RegExp(`\\$${i + 1}::`)));
    const json = (await t.db.queryAs<{ data: string }>(viewer, viaJson.text, viaJson.params)).rows[0].data;
    const before = t.db.stats.statements;
    const rows = (await t.db.queryAs<Array<string | null>>(viewer, viaRows!.text, viaRows!.params, { raw: true })).rows;
    expect(t.db.stats.statements - before).toBe(1);
    for (const r of rows) for (const v of r) expect(v === null || typeof v === 'string').toBe(true);
    return { json, plain: writePlainRows(viaRows!.rows, rows) };
  }

  it('writes every column type exactly as the JSON functions of PostgreSQL do, nulls included', async () => {
    const { json, plain } = await both(list('thing', cols(...ALL), { orderBy: [asc('id')] }));
    expect(JSON.parse(plain)).toEqual(JSON.parse(json));
    const rows = JSON.parse(plain).r as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(8);
    expect(rows.slice(5).map((r) => r.score)).toEqual(['NaN', '-Infinity', 'Infinity']);
    expect(rows[0]).toMatchObject({ label: TRICKY, big: 9007199254740992, score: 1e-7, ok: true, mood: 'odd_value', tags: ['a', TRICKY, ''], at: '2026-03-04T05:06:07.891234Z' });
    expect(rows[4]).toEqual(Object.fromEntries(ALL.map((c) => [c, c === 'id' ? uid(5) : null])));
    // Compact: no space between keys and values or between members.
    expect(plain.startsWith(`{"r":[{"id":"${uid(1)}","label":`)).toBe(true);
    // Big integers keep every digit in the text (JSON numbers beyond 2^53 are the client's to read).
    expect(plain).toContain('"big":9007199254740993');
    expect(json).toContain('9007199254740993');
  });

  it('quotes non-finite floats as PostgreSQL does', async () => {
    const { json, plain } = await both(list('thing', cols('id', 'score'), { orderBy: [desc('score')], limit: 3 }));
    expect(JSON.parse(plain)).toEqual(JSON.parse(json));
    expect(plain).toContain('"score":"NaN"');
    expect(plain).toContain('"score":"Infinity"');
  });

  it('embeds to-one and to-many relations, constants and aliases, in selection order', async () => {
    const selection: Selection = [
      { responseKey: 'n', kind: 'column', column: 'n' },
      { responseKey: '__typename', kind: 'typename', value: 'Part' },
      { responseKey: 'owner', kind: 'to_one', relation: partToThing(), selection: [...cols('label', 'mood'), { responseKey: 'all_parts', kind: 'to_many', relation: thingToParts(), node: list('part', cols('n'), { orderBy: [desc('n')] }) as never }] },
      { responseKey: 'again', kind: 'column', column: 'n' },
    ];
    const { json, plain } = await both(list('part', selection, { orderBy: [asc('n')], limit: 2, offset: 1 }));
    expect(JSON.parse(plain)).toEqual(JSON.parse(json));
    expect(JSON.parse(plain).r).toEqual([
      { n: 2, __typename: 'Part', owner: { label: TRICKY, mood: 'odd_value', all_parts: [{ n: 2 }, { n: 1 }] }, again: 2 },
      { n: 3, __typename: 'Part', owner: { label: 'two', mood: 'calm', all_parts: [{ n: 3 }] }, again: 3 },
    ]);
    expect(Object.keys(JSON.parse(plain).r[0])).toEqual(['n', '__typename', 'owner', 'again']);
  });

  it('answers an empty list with [] and a selection of only __typename with one object per row', async () => {
    const empty = await both(list('thing', cols('id'), { filter: { kind: 'compare', column: 'label', type: 'string', op: 'eq', value: 'nothing' } as never }));
    expect(empty.plain).toBe('{"r":[]}');
    expect(JSON.parse(empty.json)).toEqual({ r: [] });
    const typename = await both(list('thing', [{ responseKey: 't', kind: 'typename', value: 'Thing' }], { orderBy: [asc('id')], limit: 2 }));
    expect(JSON.parse(typename.plain)).toEqual(JSON.parse(typename.json));
    expect(JSON.parse(typename.plain)).toEqual({ r: [{ t: 'Thing' }, { t: 'Thing' }] });
  });

  it("never returns or counts another project's rows, at the root or nested", async () => {
    const things = await both(list('thing', cols('id', 'label'), { orderBy: [asc('id')] }));
    const ids = (JSON.parse(things.plain).r as Array<{ id: string }>).map((r) => r.id);
    expect(ids).toHaveLength(8);
    expect(ids).not.toContain(uid(201));
    const parts = await both(
      list('part', [...cols('n'), { responseKey: 'owner', kind: 'to_one', relation: partToThing(), selection: [{ responseKey: 'all_parts', kind: 'to_many', relation: thingToParts(), node: list('part', cols('n')) as never }] }], { orderBy: [asc('n')] }),
    );
    expect(JSON.parse(parts.plain)).toEqual(JSON.parse(parts.json));
    expect((JSON.parse(parts.plain).r as Array<{ n: number }>).map((p) => p.n)).toEqual([1, 2, 3]);
    // B's viewer sees only B's rows through the same statements.
    const viewerB = testPrincipal('viewer', [B]);
    const plan: OperationPlan = { scope: scopeOf(viewerB), roots: [{ responseKey: 'r', node: list('thing', cols('id'), { orderBy: [asc('id')] }) }] };
    const q = compilePlainRead(model, plan, await compileOptionsOf(t.db))!;
    const rows = (await t.db.queryAs<Array<string | null>>(viewerB, q.text, q.params, { raw: true })).rows;
    expect(JSON.parse(writePlainRows(q.rows, rows))).toEqual({ r: [{ id: uid(201) }] });
  });

  it('is chosen for one root list only; other shapes keep the JSON statement', () => {
    const node = list('thing', cols('id'));
    expect(compilePlainRead(model, planOf(node))).toBeDefined();
    expect(compileOperation(model, planOf(node)).rows).toBeDefined();
    const two: OperationPlan = { scope: scopeOf(viewer), roots: [{ responseKey: 'a', node }, { responseKey: 'b', node }] };
    expect(compilePlainRead(model, two)).toBeUndefined();
    expect(compileOperation(model, two).rows).toBeUndefined();
    const object: OperationPlan = planOf({ kind: 'object', entity: 'thing', id: uid(1), selection: cols('id') } as RootNode);
    expect(compileOperation(model, object).rows).toBeUndefined();
  });
});
