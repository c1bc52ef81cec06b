import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, testPrincipal, TEST_KINDS, type TestDb } from '../support/db.js';
import type { Principal } from '../../src/auth/principal.js';
import { loadModelDocument } from '../../src/model/load.js';
import type { ConnectionArgs, OrderItem, RootNode } from '../../src/query/plan.js';
import { decodeCursor } from '../../src/query/cursor.js';
import { asc, cmp, cols, desc, list, runPlan, uid } from './support.js';

const model = loadModelDocument({
  name: 'types',
  entities: {
    thing: {
      fields: {
        label: { type: 'string' },
        tags: { type: 'string[]' },
        price: { type: 'decimal' },
        big: { type: 'bigint' },
        count: { type: 'int' },
        ok: { type: 'boolean' },
        day: { type: 'date' },
        at: { type: 'datetime' },
        doc: { type: 'json' },
        ref: { type: 'uuid' },
      },
    },
  },
});

describe.each(TEST_KINDS)('column types on %s', (kind) => {
  let t: TestDb;
  let viewer: Principal;

  beforeAll(async () => {
    t = await createTestDb(kind, model);
    const A = await createProject(t.db, 'A');
    viewer = testPrincipal('viewer', [A]);
    const row = (n: number, v: Record<string, unknown>) => ({
      id: uid(n), project_id: A, label: null, tags: null, price: null, big: null, count: null, ok: null, day: null, at: null, doc: null, ref: null, ...v,
    });
    await insertRows(t.db, 'thing', [
      row(1, { label: 'one', tags: ['a', 'b'], price: '12345678901234567890.123456789', big: '9007199254740991', count: -5, ok: true, day: '2024-02-29', at: '2026-03-04T05:06:07.891234Z', doc: { n: 1, s: 'x', arr: [1, 2] }, ref: uid(77) }),
      row(2, { label: 'two', tags: ['b', 'c'], price: '0.10', big: '-42', count: 7, ok: false, day: '1999-12-31', at: '2026-03-04T05:06:07.891235Z', doc: { n: 2 } }),
      row(3, { label: 'three', tags: [], price: '-1', big: '0', count: 0, ok: null, day: null, at: null }),
      row(4, {}),
    ]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const run = (roots: Array<[string, RootNode]>) => runPlan(t.db, model, viewer, roots);

  it('returns decimal as string, bigint as number, datetime ISO UTC, date, json values and arrays', async () => {
    const { data } = await run([['r', list('thing', cols('label', 'tags', 'price', 'big', 'count', 'ok', 'day', 'at', 'doc', 'ref'), { orderBy: [asc('id')], limit: 2 })]]);
    expect(data.r).toEqual([
      { label: 'one', tags: ['a', 'b'], price: '12345678901234567890.123456789', big: 9007199254740991, count: -5, ok: true, day: '2024-02-29', at: '2026-03-04T05:06:07.891234Z', doc: { n: 1, s: 'x', arr: [1, 2] }, ref: uid(77) },
      { label: 'two', tags: ['b', 'c'], price: '0.10', big: -42, count: 7, ok: false, day: '1999-12-31', at: '2026-03-04T05:06:07.891235Z', doc: { n: 2 }, ref: null },
    ]);
  });

  const cases: Array<[string, ReturnType<typeof cmp>, string[]]> = [
    ['string[] contains', cmp('tags', 'contains', ['b'], 'string[]'), ['1', '2']],
    ['string[] overlaps', cmp('tags', 'overlaps', ['c', 'z'], 'string[]'), ['2']],
    ['decimal gt', cmp('price', 'gt', '0.1', 'decimal'), ['1']],
    ['decimal eq', cmp('price', 'eq', '0.1', 'decimal'), ['2']],
    ['bigint gte', cmp('big', 'gte', 0, 'bigint'), ['1', '3']],
    ['boolean eq false', cmp('ok', 'eq', false, 'boolean'), ['2']],
    ['boolean ne true keeps null', cmp('ok', 'ne', true, 'boolean'), ['2', '3', '4']],
    ['date lt', cmp('day', 'lt', '2000-01-01', 'date'), ['2']],
    ['datetime gt microseconds', cmp('at', 'gt', '2026-03-04T05:06:07.891234Z', 'datetime'), ['2']],
    ['json eq', cmp('doc', 'eq', { n: 2 }, 'json'), ['2']],
    ['json contains nested', cmp('doc', 'contains', { arr: [2] }, 'json'), ['1']],
    ['uuid eq', cmp('ref', 'eq', uid(77), 'uuid'), ['1']],
    ['int in', cmp('count', 'in', [0, 7], 'int'), ['2', '3']],
  ];
  it.each(cases)('filter %s', async (_n, filter, expected) => {
    const { data } = await run([['r', list('thing', cols('id'), { filter, orderBy: [asc('id')] })]]);
    expect((data.r as Array<{ id: string }>).map((r) => String(Number(r.id.slice(-12))))).toEqual(expected);
  });

  const orderings: OrderItem[][] = [
    [asc('price', 'FIRST')],
    [desc('ok', 'LAST'), asc('day', 'FIRST')],
    [desc('at'), asc('big')],
    [asc('doc', 'LAST'), desc('tags', 'FIRST')],
    [asc('label'), asc('count')],
  ];
  it.each(orderings)('pages through every type with keyset cursors (%o)', async (...orderBy) => {
    const all = ((await run([['r', list('thing', cols('id'), { orderBy })]])).data.r as Array<{ id: string }>).map((r) => r.id);
    expect(all).toHaveLength(4);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const args: ConnectionArgs = { orderBy, first: 1, ...(after ? { after: decodeCursor(model, 'thing', orderBy, after) } : {}) };
      const node: RootNode = { kind: 'connection', entity: 'thing', args, fields: [{ responseKey: 'nodes', kind: 'nodes', selection: cols('id') }, { responseKey: 'pi', kind: 'page_info', fields: [{ responseKey: 'next', kind: 'has_next_page' }, { responseKey: 'end', kind: 'end_cursor' }] }] };
      const c = (await run([['c', node]])).data.c as { nodes: Array<{ id: string }>; pi: { next: boolean; end: string } };
      seen.push(...c.nodes.map((n) => n.id));
      if (!c.pi.next) break;
      after = c.pi.end;
    }
    expect(seen).toEqual(all);
  });
});
