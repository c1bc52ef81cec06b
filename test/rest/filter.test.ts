/**
 * `GET /api/v1/<plural>?filter=<JSON>` (SPEC R-1, G-4) on every test database: the G-4 language with the
 * model's snake_case names (operators, and / or / not, to-one nesting, to-many some / every / none), combined
 * with equality parameters, ordering and paging, in one statement; tenant isolation (another project's rows
 * never match, are never counted, not even through a relation filter); and a 400 naming the parameter and
 * the path inside it for every kind of bad input.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { uid } from '../query/support.js';
import { buildRestApp, call } from './app.js';

const E = { alpha: uid(1), beta: uid(2), apex: uid(3), secret: uid(9) };
const T = { t1: uid(11), t2: uid(12), t3: uid(13), t4: uid(14), tb: uid(19) };

describe.each(TEST_KINDS)('REST filter= on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let viewerA: Principal;
  let admin: Principal;

  beforeAll(async () => {
    t = await createTestDb(kind);
    const A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    viewerA = testPrincipal('viewer', [A]);
    admin = testPrincipal('admin');
    await insertRows(t.db, 'experiment', [
      { id: E.alpha, project_id: A, name: 'alpha', kind: 'softmax', meta: { team: 'ml', tags: ['x'] } },
      { id: E.beta, project_id: A, name: 'beta', kind: 'mlp', meta: { team: 'cv' } },
      { id: E.apex, project_id: A, name: 'apex', kind: null, meta: null },
      { id: E.secret, project_id: B, name: 'alpha-secret', kind: 'softmax', meta: { team: 'ml' } },
    ]);
    const trial = (id: string, project: string, experiment: string, name: string, status: string, duration: number | null) => ({
      id, project_id: project, experiment_id: experiment, name, status, duration,
    });
    await insertRows(t.db, 'trial', [
      trial(T.t1, A, E.alpha, 't1', 'completed', 1),
      trial(T.t2, A, E.alpha, 't2', 'failed', 5),
      trial(T.t3, A, E.alpha, 't3', 'running', null),
      trial(T.t4, A, E.beta, 't4', 'completed', 2),
      trial(T.tb, B, E.secret, 'tb', 'completed', 1),
    ]);
    await insertRows(t.db, 'run', [
      { project_id: A, trial_id: T.t1, status: 'completed' },
      { project_id: A, trial_id: T.t1, status: 'failed' },
      { project_id: A, trial_id: T.t2, status: 'failed' },
      { project_id: B, trial_id: T.tb, status: 'failed' },
    ]);
    app = await buildRestApp(t, 500);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  /** GET a list with `filter` (and more parameters) as `principal`; asserts 200 and one statement. */
  async function list(plural: string, filter: unknown, extra = '', principal = viewerA) {
    const before = t.db.stats.statements;
    const res = await call(app, principal, 'GET', `/api/v1/${plural}?filter=${encodeURIComponent(JSON.stringify(filter))}${extra}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(t.db.stats.statements - before).toBe(1);
    return res.data as { items: Array<Record<string, any>>; total_count: number; limit: number; offset: number };
  }
  const names = (page: { items: Array<Record<string, any>> }) => page.items.map((r) => r.name);

  it('filters by operators on columns, with the same semantics as GraphQL', async () => {
    expect(names(await list('trials', { status: { eq: 'completed' } }, '&order_by=name'))).toEqual(['t1', 't4']);
    expect(names(await list('trials', { status: { in: ['failed', 'running'] } }, '&order_by=name'))).toEqual(['t2', 't3']);
    expect(names(await list('trials', { status: { gt: 'running' } }, '&order_by=name'))).toEqual(['t1', 't2', 't4']); // declared order
    expect(names(await list('trials', { duration: { gte: 2, lt: 5 } }))).toEqual(['t4']);
    expect(names(await list('trials', { duration: { ne: 1 } }, '&order_by=name'))).toEqual(['t2', 't3', 't4']); // null kept
    expect(names(await list('trials', { name: { like: 't_' }, duration: { is_null: true } }))).toEqual(['t3']);
    expect(names(await list('experiments', { meta: { contains: { team: 'ml' } } }))).toEqual(['alpha']);
    expect(names(await list('experiments', { meta: { has_key: 'tags' } }))).toEqual(['alpha']);
    expect(names(await list('experiments', { name: { starts_with: 'a' }, kind: { is_null: false } }))).toEqual(['alpha']);
    expect(names(await list('trials', { id: { in: [T.t2, T.t4, T.tb] } }, '&order_by=name'))).toEqual(['t2', 't4']);
    expect(names(await list('trials', { created_at: { lte: new Date(Date.now() + 86_400_000).toISOString() } }))).toHaveLength(4);
  });

  it('combines and / or / not, to-one nesting and to-many quantifiers', async () => {
    expect(names(await list('trials', { or: [{ duration: { gt: 4 } }, { duration: { is_null: true } }] }, '&order_by=name'))).toEqual(['t2', 't3']);
    expect(names(await list('trials', { and: [{ status: { ne: 'failed' } }, { experiment: { name: { eq: 'alpha' } } }] }, '&order_by=name'))).toEqual(['t1', 't3']);
    expect(names(await list('trials', { not: { duration: { lt: 2 } } }, '&order_by=name'))).toEqual(['t2', 't3', 't4']);
    expect(names(await list('trials', { experiment: { name: { starts_with: 'a' } } }, '&order_by=name'))).toEqual(['t1', 't2', 't3']);
    expect(names(await list('trials', { runs: { some: { status: { eq: 'failed' } } } }, '&order_by=name'))).toEqual(['t1', 't2']);
    expect(names(await list('trials', { runs: { every: { status: { eq: 'failed' } } } }, '&order_by=name'))).toEqual(['t2', 't3', 't4']);
    expect(names(await list('trials', { runs: { none: { status: { eq: 'failed' } } } }, '&order_by=name'))).toEqual(['t3', 't4']);
    expect(names(await list('experiments', { trials: { some: { runs: { some: { status: { eq: 'failed' } } } } } }))).toEqual(['alpha']);
    expect(names(await list('experiments', { trials: { none: {} } }))).toEqual(['apex']);
    const runs = await list('runs', { trial: { experiment: { name: { eq: 'alpha' } } }, status: { eq: 'completed' } });
    expect(runs.items.map((r) => r.trial_id)).toEqual([T.t1]);
    expect(names(await list('trials', {}, '&order_by=name'))).toEqual(['t1', 't2', 't3', 't4']);
    expect(names(await list('trials', { or: [] }))).toEqual([]);
  });

  it('ANDs filter= with equality parameters, and pages with total_count', async () => {
    const page = await list('trials', { status: { ne: 'completed' } }, `&experiment_id=${E.alpha}&order_by=-name&limit=1&offset=1`);
    expect(page).toMatchObject({ total_count: 2, limit: 1, offset: 1 });
    expect(names(page)).toEqual(['t2']);
    expect((await list('trials', { status: { eq: 'completed' } }, `&experiment_id=${E.beta}`)).total_count).toBe(1);
  });

  it("never matches, counts or reveals another project's rows, not even through relations", async () => {
    expect((await list('trials', { name: { eq: 'tb' } })).total_count).toBe(0);
    expect((await list('trials', { experiment_id: { eq: E.secret } })).total_count).toBe(0);
    expect((await list('trials', { experiment: { name: { eq: 'alpha-secret' } } })).total_count).toBe(0);
    expect((await list('experiments', { trials: { some: { name: { eq: 'tb' } } } })).total_count).toBe(0);
    // every: B's experiment would match vacuously if its rows leaked; A's alpha has a failed run → not every.
    expect(names(await list('experiments', { trials: { every: { runs: { every: { status: { eq: 'failed' } } } } } }, '&order_by=name'))).toEqual(['apex', 'beta']);
    // The same filters do match for an admin, so the rows exist and the filters are right.
    expect(names(await list('trials', { experiment: { name: { eq: 'alpha-secret' } } }, '', admin))).toEqual(['tb']);
    expect(names(await list('experiments', { trials: { some: { name: { eq: 'tb' } } } }, '', admin))).toEqual(['alpha-secret']);
  });

  it.each([
    ['bad JSON', 'trials', '{"status":', 'filter', 'not valid JSON'],
    ['not an object', 'trials', '[1]', 'filter', 'expected an object'],
    ['an unknown field', 'trials', '{"colour":{"eq":"red"}}', 'filter.colour', 'unknown field of trial; use one of: id, project_id, experiment_id'],
    ['a wrong enum value', 'trials', '{"status":{"eq":"done"}}', 'filter.status.eq', 'must be one of: pending, running, completed, cancelled, failed'],
    ['an operator the type lacks', 'trials', '{"status":{"like":"run%"}}', 'filter.status.like', 'unknown operator for status (enum); use one of: eq, ne, in'],
    ['an unknown operator', 'trials', '{"name":{"equals":"t1"}}', 'filter.name.equals', 'unknown operator'],
    ['a null operand', 'trials', '{"duration":{"eq":null}}', 'filter.duration.eq', 'is_null'],
    ['a null is_null', 'trials', '{"duration":{"is_null":null}}', 'filter.duration.is_null', 'true or false'],
    ['a non-boolean is_null', 'trials', '{"duration":{"is_null":"yes"}}', 'filter.duration.is_null', 'must be boolean'],
    ['a bare value instead of operators', 'trials', '{"status":"failed"}', 'filter.status', 'expected an object of operators such as {"eq": ...}'],
    ['a wrongly typed operand deep inside', 'trials', '{"or":[{"name":{"eq":"a"}},{"duration":{"gt":"long"}}]}', 'filter.or[1].duration.gt', 'must be number'],
    ['a bad list element', 'trials', '{"status":{"in":["failed","done"]}}', 'filter.status.in[1]', 'must be one of'],
    ['in without a list', 'trials', '{"status":{"in":"failed"}}', 'filter.status.in', 'must be array'],
    ['a bad UUID', 'trials', '{"experiment_id":{"eq":"nope"}}', 'filter.experiment_id.eq', 'must be a UUID'],
    ['a bad datetime', 'trials', '{"created_at":{"gt":"yesterday"}}', 'filter.created_at.gt', 'must be a valid date-time'],
    ['or without a list', 'trials', '{"or":{"name":{"eq":"a"}}}', 'filter.or', 'expected an array of filters'],
    ['an unknown quantifier', 'trials', '{"runs":{"any":{}}}', 'filter.runs.any', 'use some, every or none'],
    ['a to-many relation without quantifier', 'trials', '{"runs":[]}', 'filter.runs', 'expected {"some": {...}}'],
    ['a bad nested relation field', 'trials', '{"experiment":{"name":{"eq":1}}}', 'filter.experiment.name.eq', 'must be string'],
    ['a json operator on a string', 'experiments', '{"name":{"has_key":"a"}}', 'filter.name.has_key', 'unknown operator for name (string)'],
    ['deep nesting', 'trials', `${'{"not":'.repeat(200)}{}${'}'.repeat(200)}`, 'filter', 'nested more than'],
  ])('400 naming the path for %s', async (_name, plural, filter, path, message) => {
    const res = await call(app, viewerA, 'GET', `/api/v1/${plural}?filter=${encodeURIComponent(filter)}`);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.data.error.code).toBe('BAD_USER_INPUT');
    expect(res.data.error.message).toContain(`${path}: `);
    expect(res.data.error.message).toContain(message);
    expect(res.data.error.details).toEqual([{ path: `querystring.${path}`, message: expect.stringContaining(message) }]);
    expect(res.data.request_id).toBeTruthy();
  });
});
