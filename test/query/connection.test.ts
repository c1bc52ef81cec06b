import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, testPrincipal, TEST_KINDS, type TestDb } from '../support/db.js';
import type { Principal } from '../../src/auth/principal.js';
import { LatticeError } from '../../src/errors.js';
import type { ConnectionArgs, ConnectionField, Filter, OrderItem, RootNode } from '../../src/query/plan.js';
import { decodeCursor } from '../../src/query/cursor.js';
import { asc, cmp, cols, desc, list, runPlan, uid } from './support.js';

interface Page {
  total_count: number;
  edges: Array<{ cursor: string; node: { id: string } }>;
  nodes: Array<{ id: string }>;
  page_info: { has_next_page: boolean; has_previous_page: boolean; start_cursor: string | null; end_cursor: string | null };
}

const FIELDS: ConnectionField[] = [
  { responseKey: 'total_count', kind: 'total_count' },
  { responseKey: 'edges', kind: 'edges', fields: [{ responseKey: 'cursor', kind: 'cursor' }, { responseKey: 'node', kind: 'node', selection: cols('id') }] },
  { responseKey: 'nodes', kind: 'nodes', selection: cols('id') },
  {
    responseKey: 'page_info',
    kind: 'page_info',
    fields: [
      { responseKey: 'has_next_page', kind: 'has_next_page' },
      { responseKey: 'has_previous_page', kind: 'has_previous_page' },
      { responseKey: 'start_cursor', kind: 'start_cursor' },
      { responseKey: 'end_cursor', kind: 'end_cursor' },
    ],
  },
];

const ORDERINGS: Array<[string, OrderItem[]]> = [
  ['id only', []],
  ['duration asc nulls last', [asc('duration', 'LAST')]],
  ['duration desc nulls first, description asc nulls first', [desc('duration', 'FIRST'), asc('description', 'FIRST')]],
  ['status desc, description desc nulls last, duration asc nulls first', [desc('status', 'LAST'), desc('description', 'LAST'), asc('duration', 'FIRST')]],
  ['created_at desc, name asc', [desc('created_at'), asc('name')]],
];

describe.each(TEST_KINDS)('connections on %s', (kind) => {
  let t: TestDb;
  let A: string;
  let viewer: Principal;
  const N = 17;
  const E1 = uid(1);
  const E2 = uid(2);

  beforeAll(async () => {
    t = await createTestDb(kind);
    A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    viewer = testPrincipal('viewer', [A]);
    await insertRows(t.db, 'experiment', [
      { id: E1, project_id: A, name: 'one' },
      { id: E2, project_id: A, name: 'two' },
      { id: uid(3), project_id: B, name: 'other' },
    ]);
    const statuses = ['pending', 'running', 'completed', 'cancelled', 'failed'];
    const descriptions = [null, 'é', 'ü'.repeat(60) + ' long unicode 🚀 description, long enough for base64 line breaks', 'a', 'a', 'Z"\\'];
    const rows = Array.from({ length: N }, (_, i) => ({
      id: uid(100 + ((i * 7) % N)), // ids not in insertion order
      project_id: A,
      experiment_id: i % 3 === 0 ? E2 : E1,
      name: `t${i % 5}`,
      duration: i % 4 === 0 ? null : [0.1, 2.5, 2.5, 1e-7, 3][i % 5],
      status: statuses[i % 5],
      description: descriptions[i % descriptions.length],
      created_at: `2026-01-0${1 + (i % 3)}T10:00:00.${String(123456 + (i % 2)).padStart(6, '0')}Z`,
    }));
    await insertRows(t.db, 'trial', rows);
    await insertRows(t.db, 'trial', [{ id: uid(900), project_id: B, experiment_id: uid(3), name: 'hidden', status: 'pending' }]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const conn = (args: ConnectionArgs): RootNode => ({ kind: 'connection', entity: 'trial', args, fields: FIELDS });
  const page = async (args: ConnectionArgs) => (await runPlan(t.db, t.model, viewer, [['c', conn(args)]])).data.c as Page;
  const cur = (orderBy: OrderItem[], raw: string) => decodeCursor(t.model, 'trial', orderBy, raw);
  const expectedIds = async (orderBy: OrderItem[], filter?: Filter) => {
    const all = (await runPlan(t.db, t.model, viewer, [['r', list('trial', cols('id'), { orderBy, ...(filter ? { filter } : {}) })]])).data.r as Array<{ id: string }>;
    // Offset pages of 4 concatenate to the same order.
    const paged: string[] = [];
    for (let offset = 0; offset < all.length; offset += 4) {
      const p = (await runPlan(t.db, t.model, viewer, [['r', list('trial', cols('id'), { orderBy, limit: 4, offset, ...(filter ? { filter } : {}) })]])).data.r as Array<{ id: string }>;
      paged.push(...p.map((r) => r.id));
    }
    expect(paged).toEqual(all.map((r) => r.id));
    return all.map((r) => r.id);
  };

  function checkPage(p: Page) {
    expect(p.nodes.map((n) => n.id)).toEqual(p.edges.map((e) => e.node.id));
    expect(p.page_info.start_cursor).toBe(p.edges[0]?.cursor ?? null);
    expect(p.page_info.end_cursor).toBe(p.edges.at(-1)?.cursor ?? null);
    expect(p.total_count).toBe(N);
  }

  describe.each(ORDERINGS)('ordering %s', (_name, orderBy) => {
    it.each([1, 3, 5])('walks forward and backward with page size %i', async (size) => {
      const expected = await expectedIds(orderBy);
      expect(expected).toHaveLength(N);
      // Forward.
      const forward: string[] = [];
      let after: string | null = null;
      for (let i = 0; ; i++) {
        const p: Page = await page({ orderBy, first: size, ...(after ? { after: cur(orderBy, after) } : {}) });
        checkPage(p);
        expect(p.page_info.has_previous_page).toBe(i > 0);
        forward.push(...p.nodes.map((n) => n.id));
        expect(p.page_info.has_next_page).toBe(forward.length < N);
        if (!p.page_info.has_next_page) break;
        after = p.page_info.end_cursor;
      }
      expect(forward).toEqual(expected);
      // Backward.
      const backward: string[] = [];
      let before: string | null = null;
      for (let i = 0; ; i++) {
        const p: Page = await page({ orderBy, last: size, ...(before ? { before: cur(orderBy, before) } : {}) });
        checkPage(p);
        expect(p.page_info.has_next_page).toBe(i > 0);
        backward.unshift(...p.nodes.map((n) => n.id));
        expect(p.page_info.has_previous_page).toBe(backward.length < N);
        if (!p.page_info.has_previous_page) break;
        before = p.page_info.start_cursor;
      }
      expect(backward).toEqual(expected);
    });

    it('mixes directions and bounds a page by after and before', async () => {
      const expected = await expectedIds(orderBy);
      const p1 = await page({ orderBy, first: 4 });
      const p2 = await page({ orderBy, first: 4, after: cur(orderBy, p1.page_info.end_cursor!) });
      expect(p2.nodes.map((n) => n.id)).toEqual(expected.slice(4, 8));
      const back = await page({ orderBy, last: 4, before: cur(orderBy, p2.page_info.start_cursor!) });
      expect(back.nodes.map((n) => n.id)).toEqual(expected.slice(0, 4));
      expect(back.page_info).toMatchObject({ has_previous_page: false, has_next_page: true });
      const between = await page({ orderBy, after: cur(orderBy, p1.edges[1].cursor), before: cur(orderBy, p2.edges[2].cursor) });
      expect(between.nodes.map((n) => n.id)).toEqual(expected.slice(2, 6));
      expect(between.page_info).toMatchObject({ has_previous_page: true, has_next_page: true });
      const lastBetween = await page({ orderBy, last: 2, after: cur(orderBy, p1.edges[1].cursor), before: cur(orderBy, p2.edges[2].cursor) });
      expect(lastBetween.nodes.map((n) => n.id)).toEqual(expected.slice(4, 6));
      expect(lastBetween.page_info).toMatchObject({ has_previous_page: true, has_next_page: true });
    });
  });

  it('answers empty pages, first: 0 and filtered totals', async () => {
    const empty = await page({ orderBy: [], first: 3, filter: cmp('name', 'eq', 'nobody') });
    expect(empty).toEqual({ total_count: 0, edges: [], nodes: [], page_info: { has_next_page: false, has_previous_page: false, start_cursor: null, end_cursor: null } });
    const zero = await page({ orderBy: [], first: 0 });
    expect(zero.edges).toEqual([]);
    expect(zero.page_info).toEqual({ has_next_page: true, has_previous_page: false, start_cursor: null, end_cursor: null });
    const all = await page({ orderBy: [] });
    expect(all.nodes).toHaveLength(N);
    expect(all.page_info.has_next_page).toBe(false);
    const filter = cmp('status', 'eq', 'failed', 'enum');
    const f = await page({ orderBy: [asc('duration')], first: 1, filter });
    expect(f.total_count).toBe(3);
    const expected = await expectedIds([asc('duration')], filter);
    const f2 = await page({ orderBy: [asc('duration')], first: 5, filter, after: cur([asc('duration')], f.page_info.end_cursor!) });
    expect([...f.nodes, ...f2.nodes].map((n) => n.id)).toEqual(expected);
    expect(f2.total_count).toBe(3);
  });

  it('answers connections selecting only some fields (every parameter used)', async () => {
    const only = (fields: ConnectionField[], args: ConnectionArgs) => runPlan(t.db, t.model, viewer, [['c', { kind: 'connection', entity: 'trial', args, fields }]]);
    const first = await page({ orderBy: [asc('name')], first: 2 });
    const after = cur([asc('name')], first.page_info.end_cursor!);
    expect((await only([{ responseKey: 'total_count', kind: 'total_count' }], { orderBy: [asc('name')], first: 2, after })).data.c).toEqual({ total_count: N });
    expect((await only([{ responseKey: 'n', kind: 'typename', value: 'TrialConnection' }], { orderBy: [], last: 2 })).data.c).toEqual({ n: 'TrialConnection' });
    expect((await only([{ responseKey: 'pi', kind: 'page_info', fields: [{ responseKey: 'p', kind: 'has_previous_page' }] }], { orderBy: [asc('name')], first: 2, after })).data.c).toEqual({ pi: { p: true } });
    expect((await only([{ responseKey: 'pi', kind: 'page_info', fields: [{ responseKey: 'n', kind: 'has_next_page' }] }], { orderBy: [asc('name')], last: 2, before: after })).data.c).toEqual({ pi: { n: true } });
  });

  it('nests connections under each parent row, correlated and counted per parent', async () => {
    const { data } = await runPlan(t.db, t.model, viewer, [
      ['e', list('experiment', [...cols('name'), { responseKey: 'tc', kind: 'to_many', relation: 'trials', node: { kind: 'connection', entity: 'trial', args: { orderBy: [asc('name')], first: 2 }, fields: [{ responseKey: 'total_count', kind: 'total_count' }, { responseKey: 'nodes', kind: 'nodes', selection: cols('name') }, { responseKey: 'page_info', kind: 'page_info', fields: [{ responseKey: 'has_next_page', kind: 'has_next_page' }] }] } }], { orderBy: [asc('name')] })],
    ]);
    expect(data.e).toEqual([
      { name: 'one', tc: { total_count: 11, nodes: [{ name: 't0' }, { name: 't0' }], page_info: { has_next_page: true } } },
      { name: 'two', tc: { total_count: 6, nodes: [{ name: 't0' }, { name: 't0' }], page_info: { has_next_page: true } } },
    ]);
  });

  it('refuses malformed and foreign cursors with BAD_USER_INPUT', async () => {
    const p = await page({ orderBy: [asc('duration')], first: 2 });
    const raw = p.page_info.end_cursor!;
    expect(cur([asc('duration')], raw).values).toHaveLength(2);
    const attempt = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as LatticeError;
      }
      throw new Error('expected a refusal');
    };
    const foreign = attempt(() => cur([desc('duration')], raw));
    expect(foreign.code).toBe('BAD_USER_INPUT');
    expect(foreign.message).toMatch(/different ordering or entity/);
    expect(attempt(() => decodeCursor(t.model, 'experiment', [asc('duration')], raw)).code).toBe('BAD_USER_INPUT');
    for (const bad of ['garbage!', raw.slice(0, -3), `${raw}x`]) {
      expect(attempt(() => cur([asc('duration')], bad)).code).toBe('BAD_USER_INPUT');
    }
  });
});
