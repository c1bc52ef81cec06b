/**
 * SPEC G-4 operator matrix through GraphQL, on every test database: every operator of the shared table
 * (`src/query/operators.ts`) on every filterable field type, against known rows — including a row whose every
 * field is null (null semantics: `ne` / `not_in` / `not` keep it, every other comparison drops it) and a twin
 * of row 1 in another project that must never match. Also logic (`and` / `or` / `not`), to-one nesting and
 * to-many `some` / `every` / `none`, and the generated operator inputs themselves.
 */
import { getNamedType, GraphQLInputObjectType, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { executeGraphQL } from '../../src/graphql/execute.js';
import { buildSchema } from '../../src/graphql/schema/build.js';
import { loadModelDocument } from '../../src/model/load.js';
import { operatorsFor } from '../../src/query/operators.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { uid } from './support.js';

const model = loadModelDocument({
  name: 'ops',
  entities: {
    team: { fields: { name: { type: 'string', required: true } } },
    item: {
      fields: {
        team: { type: 'ref', to: 'team' },
        s: { type: 'string' },
        t: { type: 'text' },
        i: { type: 'int' },
        b: { type: 'bigint' },
        f: { type: 'float' },
        d: { type: 'decimal' },
        ok: { type: 'boolean' },
        at: { type: 'datetime' },
        day: { type: 'date' },
        u: { type: 'uuid' },
        j: { type: 'json' },
        e: { type: 'enum', values: ['low', 'mid', 'high'] },
        tags: { type: 'string[]' },
        v: { type: 'vector', dimensions: 3 },
      },
    },
    part: { fields: { item: { type: 'ref', to: 'item', required: true, on_delete: 'cascade' }, n: { type: 'int' } } },
  },
});

/** Items 1–4 of project A (4: every field null), 9: item 1's twin in project B. */
const I = { 1: uid(1), 2: uid(2), 3: uid(3), 4: uid(4), 9: uid(9) };
const U = { 1: uid(101), 2: uid(102), 3: uid(103) };
const G = { 1: uid(201), 2: uid(202), B: uid(209) };

type Case = readonly [field: string, op: string, operand: unknown, expected: readonly number[]];

// prettier-ignore
const MATRIX: readonly Case[] = [
  // string
  ['s', 'eq', 'alpha', [1]], ['s', 'ne', 'alpha', [2, 3, 4]], ['s', 'in', ['alpha', 'gamma'], [1, 3]], ['s', 'not_in', ['alpha'], [2, 3, 4]],
  ['s', 'lt', 'beta', [1]], ['s', 'lte', 'beta', [1, 2]], ['s', 'gt', 'beta', [3]], ['s', 'gte', 'beta', [2, 3]],
  ['s', 'is_null', true, [4]], ['s', 'is_null', false, [1, 2, 3]],
  ['s', 'like', 'al%', [1]], ['s', 'like', '_eta', [2]], ['s', 'ilike', 'GAM%', [3]], ['s', 'starts_with', 'be', [2]], ['s', 'contains', 'mm', [3]],
  // text: patterns are literal where they should be
  ['t', 'ilike', 'ALPHA%', [1]], ['t', 'like', 'ALPHA%', []], ['t', 'starts_with', 'beta_', [2]], ['t', 'starts_with', 'bet%', []],
  ['t', 'contains', 'two%', [2]], ['t', 'contains', '_', [2]], ['t', 'contains', 'ALPHA', []], ['t', 'contains', 'a', [1, 2, 3]],
  ['t', 'eq', 'gamma', [3]], ['t', 'in', ['gamma', 'Alpha one'], [1, 3]], ['t', 'gt', 'b', [2, 3]], ['t', 'ne', 'gamma', [1, 2, 4]],
  // int
  ['i', 'eq', 2, [2]], ['i', 'ne', 2, [1, 3, 4]], ['i', 'in', [1, 3], [1, 3]], ['i', 'not_in', [1, 3], [2, 4]],
  ['i', 'lt', 2, [1]], ['i', 'lte', 2, [1, 2]], ['i', 'gt', 2, [3]], ['i', 'gte', 2, [2, 3]], ['i', 'is_null', true, [4]],
  // bigint (beyond int4)
  ['b', 'eq', 10_000_000_000, [1]], ['b', 'ne', 0, [1, 2, 4]], ['b', 'in', [-5, 0], [2, 3]], ['b', 'not_in', [0], [1, 2, 4]],
  ['b', 'lt', 0, [2]], ['b', 'lte', -5, [2]], ['b', 'gt', 0, [1]], ['b', 'gte', 0, [1, 3]], ['b', 'is_null', false, [1, 2, 3]],
  // float
  ['f', 'eq', 2.5, [2]], ['f', 'ne', 1.5, [2, 3, 4]], ['f', 'in', [1.5, -0.5], [1, 3]], ['f', 'not_in', [1.5], [2, 3, 4]],
  ['f', 'lt', 0, [3]], ['f', 'lte', 1.5, [1, 3]], ['f', 'gt', 1.5, [2]], ['f', 'gte', 1.5, [1, 2]], ['f', 'is_null', true, [4]],
  // decimal (numeric comparison: 10.50 = 10.5, 100 > 10.5 although "100" < "10.5" as text)
  ['d', 'eq', '10.5', [1]], ['d', 'ne', '10.5', [2, 3, 4]], ['d', 'in', ['2.25', '100'], [2, 3]], ['d', 'not_in', ['100'], [1, 2, 4]],
  ['d', 'lt', '3', [2]], ['d', 'lte', '10.50', [1, 2]], ['d', 'gt', '10.5', [3]], ['d', 'gte', '10.5', [1, 3]], ['d', 'is_null', true, [4]],
  // boolean
  ['ok', 'eq', true, [1, 3]], ['ok', 'ne', true, [2, 4]], ['ok', 'in', [false], [2]], ['ok', 'not_in', [true], [2, 4]], ['ok', 'is_null', true, [4]],
  // datetime (an offset names the same instant)
  ['at', 'eq', '2024-06-01T14:00:00+02:00', [2]], ['at', 'ne', '2024-06-01T12:00:00Z', [1, 3, 4]],
  ['at', 'in', ['2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z'], [1, 3]], ['at', 'not_in', ['2024-01-01T00:00:00Z'], [2, 3, 4]],
  ['at', 'lt', '2024-06-01T12:00:00Z', [1]], ['at', 'lte', '2024-06-01T12:00:00Z', [1, 2]], ['at', 'gt', '2024-03-01T00:00:00Z', [2, 3]],
  ['at', 'gte', '2024-06-01T12:00:00.000001Z', [3]], ['at', 'is_null', true, [4]],
  // date
  ['day', 'eq', '2024-06-01', [2]], ['day', 'ne', '2024-06-01', [1, 3, 4]], ['day', 'in', ['2024-01-01'], [1]], ['day', 'not_in', ['2024-01-01'], [2, 3, 4]],
  ['day', 'lt', '2025-01-01', [1, 2]], ['day', 'lte', '2024-01-01', [1]], ['day', 'gt', '2024-01-01', [2, 3]], ['day', 'gte', '2025-01-01', [3]], ['day', 'is_null', false, [1, 2, 3]],
  // uuid (byte order)
  ['u', 'eq', U[2], [2]], ['u', 'ne', U[2], [1, 3, 4]], ['u', 'in', [U[1], U[3]], [1, 3]], ['u', 'not_in', [U[1]], [2, 3, 4]],
  ['u', 'lt', U[2], [1]], ['u', 'lte', U[2], [1, 2]], ['u', 'gt', U[2], [3]], ['u', 'gte', U[2], [2, 3]], ['u', 'is_null', true, [4]],
  // id and foreign key (ID)
  ['id', 'eq', I[2], [2]], ['id', 'ne', I[2], [1, 3, 4]], ['id', 'in', [I[1], I[4], I[9]], [1, 4]], ['id', 'not_in', [I[1]], [2, 3, 4]],
  ['id', 'lt', I[2], [1]], ['id', 'lte', I[2], [1, 2]], ['id', 'gt', I[2], [3, 4]], ['id', 'gte', I[3], [3, 4]], ['id', 'is_null', false, [1, 2, 3, 4]],
  ['team_id', 'eq', G[1], [1, 3]], ['team_id', 'ne', G[1], [2, 4]], ['team_id', 'in', [G[2], G.B], [2]], ['team_id', 'not_in', [G[2]], [1, 3, 4]],
  ['team_id', 'gt', G[1], [2]], ['team_id', 'lte', G[2], [1, 2, 3]], ['team_id', 'is_null', true, [4]],
  // json
  ['j', 'eq', { b: 2 }, [2]], ['j', 'eq', [1, 2], [3]], ['j', 'ne', { b: 2 }, [1, 3, 4]], ['j', 'in', [{ b: 2 }, [1, 2]], [2, 3]], ['j', 'not_in', [{ b: 2 }], [1, 3, 4]],
  ['j', 'contains', { a: 1 }, [1]], ['j', 'contains', { tags: ['x'] }, [1]], ['j', 'contains', [1], [3]], ['j', 'contains', {}, [1, 2]],
  ['j', 'has_key', 'b', [2]], ['j', 'has_key', 'tags', [1]], ['j', 'has_key', 'zzz', []], ['j', 'is_null', true, [4]],
  // enum (ranges in declared order low < mid < high, not alphabetical)
  ['e', 'eq', 'mid', [2]], ['e', 'ne', 'mid', [1, 3, 4]], ['e', 'in', ['low', 'high'], [1, 3]], ['e', 'not_in', ['low'], [2, 3, 4]],
  ['e', 'lt', 'mid', [1]], ['e', 'lte', 'mid', [1, 2]], ['e', 'gt', 'low', [2, 3]], ['e', 'gte', 'mid', [2, 3]], ['e', 'is_null', true, [4]],
  // string[]
  ['tags', 'contains', ['y'], [1, 2]], ['tags', 'contains', ['y', 'x'], [1]], ['tags', 'contains', [], [1, 2, 3]],
  ['tags', 'overlaps', ['x', 'z'], [1]], ['tags', 'overlaps', [], []], ['tags', 'eq', ['y'], [2]], ['tags', 'eq', ['y', 'x'], []],
  ['tags', 'ne', ['y'], [1, 3, 4]], ['tags', 'is_null', false, [1, 2, 3]],
];

/** The GraphQL type of each field's operand variables (`$v`), per operator shape. */
const SCALAR: Record<string, string> = {
  s: 'String', t: 'String', i: 'Int', b: 'BigInt', f: 'Float', d: 'Decimal', ok: 'Boolean', at: 'DateTime', day: 'Date',
  u: 'UUID', id: 'ID', team_id: 'ID', j: 'JSON', e: 'ItemE', tags: '[String!]',
};

describe.each(TEST_KINDS)('filter operators (SPEC G-4) on %s', (kind) => {
  let t: TestDb;
  let schema: GraphQLSchema;
  let viewerA: Principal;
  let admin: Principal;

  beforeAll(async () => {
    t = await createTestDb(kind, model);
    schema = buildSchema(model);
    const A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    viewerA = testPrincipal('viewer', [A]);
    admin = testPrincipal('admin');
    await insertRows(t.db, 'team', [
      { id: G[1], project_id: A, name: 'g1' },
      { id: G[2], project_id: A, name: 'g2' },
      { id: G.B, project_id: B, name: 'g1' },
    ]);
    const one = { s: 'alpha', t: 'Alpha one', i: 1, b: 10_000_000_000, f: 1.5, d: '10.50', ok: true, at: '2024-01-01T00:00:00Z', day: '2024-01-01', u: U[1], j: JSON.stringify({ a: 1, tags: ['x'] }), e: 'low', tags: ['x', 'y'] };
    const nulls = { s: null, t: null, i: null, b: null, f: null, d: null, ok: null, at: null, day: null, u: null, j: null, e: null, tags: null };
    await insertRows(t.db, 'item', [
      { id: I[1], project_id: A, team_id: G[1], ...one },
      { id: I[2], project_id: A, team_id: G[2], s: 'beta', t: 'beta_two%', i: 2, b: -5, f: 2.5, d: '2.25', ok: false, at: '2024-06-01T12:00:00Z', day: '2024-06-01', u: U[2], j: JSON.stringify({ b: 2 }), e: 'mid', tags: ['y'] },
      { id: I[3], project_id: A, team_id: G[1], s: 'gamma', t: 'gamma', i: 3, b: 0, f: -0.5, d: '100', ok: true, at: '2025-01-01T00:00:00Z', day: '2025-01-01', u: U[3], j: '[1,2]', e: 'high', tags: [] },
      { id: I[4], project_id: A, team_id: null, ...nulls },
      { id: I[9], project_id: B, team_id: G.B, ...one },
    ]);
    await insertRows(t.db, 'part', [
      { project_id: A, item_id: I[1], n: 1 },
      { project_id: A, item_id: I[1], n: 10 },
      { project_id: A, item_id: I[2], n: 3 },
      { project_id: A, item_id: I[4], n: null },
      { project_id: B, item_id: I[9], n: 3 },
    ]);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Run one GraphQL query as `principal`; returns data, errors and the number of statements it cost. */
  async function gql(query: string, variables: Record<string, unknown> = {}, principal = viewerA) {
    const before = t.db.stats.statements;
    const res = await executeGraphQL(
      { model, schema, db: t.db, principal, config: { mode: 'production', limits: { maxLimit: 1000, maxDepth: 12 } } },
      { query, variables },
    );
    const body = JSON.parse(res.body) as { data?: Record<string, any>; errors?: { message: string; extensions: { code: string } }[] };
    return { ...body, status: res.status, statements: t.db.stats.statements - before };
  }

  /** Item numbers matching `filter` (sorted), asserting one statement and no errors. */
  async function matching(filter: unknown, principal = viewerA, extraVars = ''): Promise<number[]> {
    const res = await gql(`query($f: ItemFilter${extraVars}) { items(filter: $f) { id } }`, { f: filter }, principal);
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.statements).toBe(1);
    const back = new Map(Object.entries(I).map(([n, id]) => [id, Number(n)]));
    return (res.data!.items as { id: string }[]).map((r) => back.get(r.id)!).sort((a, b) => a - b);
  }

  it.each(MATRIX)('%s %s %j → items %j', async (field, op, operand, expected) => {
    expect(await matching({ [field]: { [op]: operand } })).toEqual(expected);
  });

  it('takes operands as literals and as typed variables alike', async () => {
    for (const [field, op, operand, expected] of MATRIX.filter(([, op]) => op === 'in' || op === 'lt')) {
      const type = op === 'in' ? `[${SCALAR[field].replace(/^\[(.*)\]$/, '$1')}!]` : SCALAR[field];
      const res = await gql(`query($v: ${type}) { items(filter: { ${field}: { ${op}: $v } }) { id } }`, { v: operand });
      expect(res.errors, `${field} ${op}: ${JSON.stringify(res.errors)}`).toBeUndefined();
      expect(res.data!.items).toHaveLength(expected.length);
    }
    const literal = await gql(`{ items(filter: { e: { gt: low }, j: { contains: { b: 2 } }, tags: { overlaps: ["y"] }, at: { lt: "2024-12-31T00:00:00Z" } }) { id } }`);
    expect(literal.data!.items).toEqual([{ id: I[2] }]);
  });

  it('several operators in one object all hold; and / or / not keep SQL nulls where a user expects', async () => {
    expect(await matching({ i: { gt: 1, lt: 3 } })).toEqual([2]);
    expect(await matching({ i: { gte: 2 }, ok: { eq: true } })).toEqual([3]);
    expect(await matching({ and: [{ i: { gte: 2 } }, { ok: { eq: true } }] })).toEqual([3]);
    expect(await matching({ or: [{ i: { eq: 1 } }, { s: { eq: 'gamma' } }] })).toEqual([1, 3]);
    expect(await matching({ not: { i: { gt: 1 } } })).toEqual([1, 4]); // the null row is "not > 1"
    expect(await matching({ not: { or: [{ ok: { eq: true } }, { ok: { is_null: true } }] } })).toEqual([2]);
    expect(await matching({ or: [] })).toEqual([]);
    expect(await matching({ and: [] })).toEqual([1, 2, 3, 4]);
    expect(await matching({})).toEqual([1, 2, 3, 4]);
  });

  it('nests to-one filters and quantifies to-many ones (some / every / none), tenant-scoped', async () => {
    expect(await matching({ team: { name: { eq: 'g1' } } })).toEqual([1, 3]);
    expect(await matching({ team: { name: { eq: 'g1' } } }, admin)).toEqual([1, 3, 9]);
    expect(await matching({ not: { team: { name: { eq: 'g1' } } } })).toEqual([2, 4]);
    expect(await matching({ parts: { some: { n: { gt: 5 } } } })).toEqual([1]);
    expect(await matching({ parts: { some: {} } })).toEqual([1, 2, 4]);
    // every: vacuously true without parts (3); a null n is not "< 5" (4)
    expect(await matching({ parts: { every: { n: { lt: 5 } } } })).toEqual([2, 3]);
    expect(await matching({ parts: { none: { n: { gt: 5 } } } })).toEqual([2, 3, 4]);
    expect(await matching({ parts: { none: {} } })).toEqual([3]);
    expect(await matching({ parts: { some: { n: { eq: 3 } } } })).toEqual([2]); // B's part with n = 3 belongs to B's twin
    expect(await matching({ parts: { some: { n: { eq: 3 } } } }, admin)).toEqual([2, 9]);
    expect(await matching({ parts: { some: { item: { team: { name: { eq: 'g2' } } } } } })).toEqual([2]);
    const res = await gql(`{ teams(filter: { items: { some: { e: { eq: low } } } }) { name items(filter: { s: { is_null: false } }) { s } } }`);
    expect(res.data!.teams).toEqual([{ name: 'g1', items: [{ s: 'alpha' }, { s: 'gamma' }] }]);
    expect(res.statements).toBe(1);
  });

  it('never matches another project: the twin of item 1 matches for an admin only', async () => {
    for (const [field, op, operand] of MATRIX.filter(([field, , , expected]) => expected.includes(1) && field !== 'id' && field !== 'team_id')) {
      expect(await matching({ [field]: { [op]: operand } }, admin), `${field} ${op}`).toContain(9);
    }
    expect(await matching({ id: { eq: I[9] } })).toEqual([]);
  });

  it('generates one operator input per type family with exactly the shared table of operators', () => {
    const filter = schema.getType('ItemFilter') as GraphQLInputObjectType;
    const fields = filter.getFields();
    expect(fields.v).toBeUndefined(); // vectors are searched with nearest, not filtered
    for (const f of model.entities.get('item')!.fields) {
      if (f.type === 'vector') continue;
      const ops = getNamedType(fields[f.column].type) as GraphQLInputObjectType;
      expect(Object.keys(ops.getFields()), f.column).toEqual(operatorsFor(f));
    }
    expect((getNamedType(fields.j.type) as GraphQLInputObjectType).name).toBe('JSONFilter');
    expect((getNamedType(fields.tags.type) as GraphQLInputObjectType).name).toBe('StringListFilter');
    expect((getNamedType(fields.team_id.type) as GraphQLInputObjectType).name).toBe('IDFilter');
    expect((getNamedType(fields.e.type) as GraphQLInputObjectType).name).toBe('ItemEFilter');
  });

  it.each([
    ['a null operand', '{ items(filter: { i: { eq: null } }) { id } }', 'is_null'],
    ['a null is_null', '{ items(filter: { i: { is_null: null } }) { id } }', 'true or false'],
    ['an operator the type lacks', '{ items(filter: { ok: { gt: true } }) { id } }', 'gt'],
    ['a vector field', '{ items(filter: { v: { eq: [1, 2, 3] } }) { id } }', 'v'],
    ['a wrong operand type', '{ items(filter: { i: { in: ["x"] } }) { id } }', 'Int'],
    ['an unknown enum value', '{ items(filter: { e: { lt: huge } }) { id } }', 'huge'],
  ])('refuses %s with BAD_USER_INPUT', async (_name, query, mention) => {
    const res = await gql(query);
    expect(res.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].message).toContain(mention);
    expect(res.statements).toBe(0);
  });
});
