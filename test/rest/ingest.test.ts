/**
 * Batch ingestion (SPEC R-2) on every test database: 207 answers mixing good and bad events, parents and
 * children in one batch, one statement per entity type and op, idempotent retries, upsert/update/delete
 * events, whole-request limits; and the row-by-row fallback (unique violations, deletes blocked by children)
 * on a small custom model.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { loadModelDocument } from '../../src/model/load.js';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { buildRestApp, call } from './app.js';

const id = (n: number) => `0190a0a0-0000-7000-8000-${String(n).padStart(12, '0')}`;
type Result = { id: string | null; status: number; message?: string };

/** The 207 answer as a map envelope id → status. */
function statuses(data: { successes: Result[]; errors: Result[] }): Record<string, number> {
  return Object.fromEntries([...data.successes, ...data.errors].map((r) => [r.id ?? 'null', r.status]));
}

describe.each(TEST_KINDS)('POST /api/v1/ingest on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let A: string;
  let editor: Principal;

  beforeAll(async () => {
    t = await createTestDb(kind);
    A = await createProject(t.db, 'A');
    editor = testPrincipal('editor', [A]);
    app = await buildRestApp(t);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  // Children listed before their parents: the server orders the writes.
  const batch = [
    { id: 'm1', type: 'metric.create', body: { id: id(31), trial_id: id(11), run_id: id(21), key: 'loss', value: 0.5, step: 1 } },
    { id: 'm2', type: 'metric.create', body: { id: id(32), trial_id: id(11), key: 'accuracy', value: 0.9, step: 1 } },
    { id: 'r1', type: 'run.create', body: { id: id(21), trial_id: id(11), status: 'running' } },
    { id: 't1', type: 'trial.create', body: { id: id(11), experiment_id: id(1), name: 'lr=0.1', params: { lr: 0.1 } } },
    { id: 'e1', type: 'experiment.create', body: { id: id(1), name: 'sweep' } },
    { id: 'bad-ref', type: 'trial.create', body: { id: id(12), experiment_id: id(999), name: 'orphan' } },
    { id: 'bad-entity', type: 'widget.create', body: { name: 'x' } },
    { id: 'bad-op', type: 'trial.frobnicate', body: {} },
    { id: 'bad-field', type: 'experiment.create', body: { id: id(2), name: 'x', colour: 'red' } },
    { id: 'bad-type', type: 'metric.create', body: { id: id(33), trial_id: id(11), key: 'loss', value: 'high' } },
    { id: 'missing', type: 'run.create', body: { id: id(22) } },
    { type: 'experiment.create', body: { name: 'no envelope id' } },
    42,
  ];

  it('answers 207 with per-event results, writing parents before children with one statement per entity type', async () => {
    const before = t.db.stats.statements;
    const res = await call(app, editor, 'POST', '/api/v1/ingest', { batch });
    expect(res.statusCode).toBe(207);
    expect(t.db.stats.statements - before).toBe(4);
    expect(res.data.successes).toEqual([
      { id: 'm1', status: 201 },
      { id: 'm2', status: 201 },
      { id: 'r1', status: 201 },
      { id: 't1', status: 201 },
      { id: 'e1', status: 201 },
    ]);
    const errors = res.data.errors as Result[];
    expect(errors.map((e) => [e.id, e.status])).toEqual([
      ['bad-ref', 422],
      ['bad-entity', 400],
      ['bad-op', 400],
      ['bad-field', 400],
      ['bad-type', 400],
      ['missing', 400],
      [null, 400],
      [null, 400],
    ]);
    expect(errors[0].message).toMatch(/experiment_id .* no experiment with this id/);
    expect(errors[1].message).toMatch(/Unknown entity "widget".*experiment, trial, run, metric/);
    expect(errors[3].message).toContain('body.colour unknown field');
    expect(errors[4].message).toContain('body.value');
    expect(errors[5].message).toContain('body.trial_id is required');
    const metrics = await call(app, editor, 'GET', `/api/v1/metrics?trial_id=${id(11)}&order_by=key`);
    expect(metrics.data.items.map((m: { key: string }) => m.key)).toEqual(['accuracy', 'loss']);
    expect(metrics.data.items[1]).toMatchObject({ run_id: id(21), value: 0.5, step: 1, project_id: A });
  });

  it('is idempotent: the same batch again gives successes (200) and no duplicates', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/ingest', { batch });
    expect(res.statusCode).toBe(207);
    expect(res.data.successes).toEqual(['m1', 'm2', 'r1', 't1', 'e1'].map((e) => ({ id: e, status: 200 })));
    expect(res.data.errors).toHaveLength(8);
    for (const [plural, n] of [['experiments', 1], ['trials', 1], ['runs', 1], ['metrics', 2]] as const) {
      expect((await call(app, editor, 'GET', `/api/v1/${plural}`)).data.total_count).toBe(n);
    }
  });

  it('upserts, updates and deletes by id; repeated envelope ids share one result', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'u1', type: 'experiment.upsert', body: { id: id(1), kind: 'softmax' } },
        { id: 'u2', type: 'experiment.upsert', body: { id: id(3), name: 'new via upsert' } },
        { id: 'u3', type: 'experiment.upsert', body: { id: id(4), kind: 'no name' } },
        { id: 'p1', type: 'trial.update', body: { id: id(11), status: 'completed', duration: 12.5 } },
        { id: 'p2', type: 'trial.update', body: { id: id(19), status: 'failed' } },
        { id: 'p3', type: 'trial.update', body: { id: id(11), experiment_id: id(999) } },
        { id: 'p4', type: 'trial.update', body: { id: id(11), name: null } },
        { id: 'd1', type: 'metric.delete', body: { id: id(32) } },
        { id: 'd2', type: 'metric.delete', body: { id: id(39) } },
        { id: 'd1', type: 'metric.delete', body: { id: id(32) } },
      ],
    });
    expect(res.statusCode).toBe(207);
    const s = statuses(res.data);
    // Events on the same row keep their own outcomes (p3: bad reference, p4: null for a required field).
    expect(s).toEqual({ u1: 200, u2: 201, u3: 400, p1: 200, p2: 404, p3: 422, p4: 400, d1: 200, d2: 404 });
    expect(res.data.successes.filter((r: Result) => r.id === 'd1')).toHaveLength(2);
    const exp = await call(app, editor, 'GET', `/api/v1/experiments/${id(1)}`);
    expect(exp.data).toMatchObject({ name: 'sweep', kind: 'softmax' });
    expect((await call(app, editor, 'GET', `/api/v1/experiments/${id(3)}`)).data.name).toBe('new via upsert');
    expect((await call(app, editor, 'GET', `/api/v1/metrics/${id(32)}`)).statusCode).toBe(404);
  });

  it('never acknowledges an event it did not write: a different create of an existing id or a reused event id is 409', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'c1', type: 'experiment.create', body: { id: id(41), name: 'first', kind: 'grid' } },
        { id: 'c2', type: 'experiment.create', body: { id: id(41), name: 'second' } }, // same row id, other values
        { id: 'c3', type: 'experiment.create', body: { id: id(41), name: 'first' } }, // a subset that matches: a retry
        { id: 'c4', type: 'experiment.create', body: { id: id(42), name: 'A' } },
        { id: 'c4', type: 'experiment.create', body: { id: id(42), name: 'A' } }, // the same event twice: one result
        { id: 'c4', type: 'experiment.create', body: { id: id(43), name: 'B' } }, // a reused event id: refused
      ],
    });
    expect(res.statusCode).toBe(207);
    const all: Result[] = [...res.data.successes, ...res.data.errors];
    const byId = (eventId: string) => all.filter((r) => r.id === eventId).map((r) => r.status);
    expect(byId('c1')).toEqual([201]);
    expect(byId('c2')).toEqual([409]);
    expect(byId('c3')).toEqual([200]);
    expect(byId('c4').sort()).toEqual([201, 201, 409]);
    const c2 = res.data.errors.find((r: Result & { message?: string }) => r.id === 'c2');
    expect(c2.message).toMatch(/already exists with different values; send it as an upsert or update/);
    const c4 = res.data.errors.find((r: Result & { message?: string }) => r.id === 'c4');
    expect(c4.message).toMatch(/Event id "c4" is already used by batch\[3\] with a different type or body/);
    expect((await call(app, editor, 'GET', `/api/v1/experiments/${id(41)}`)).data).toMatchObject({ name: 'first', kind: 'grid' });
    expect((await call(app, editor, 'GET', `/api/v1/experiments/${id(43)}`)).statusCode).toBe(404);

    // REST create (all or nothing): two different rows under one id in one request are refused whole.
    const rest = await call(app, editor, 'POST', '/api/v1/experiments', [
      { id: id(44), name: 'one' },
      { id: id(44), name: 'two' },
    ]);
    expect(rest.statusCode).toBe(409);
    expect(rest.data.error.message).toMatch(/different values/);
    expect((await call(app, editor, 'GET', `/api/v1/experiments/${id(44)}`)).statusCode).toBe(404);
  });

  it('applies a valid update event on its own', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/ingest', {
      batch: [{ id: 'p1', type: 'trial.update', body: { id: id(11), status: 'completed', duration: 12.5 } }],
    });
    expect(res.data.successes).toEqual([{ id: 'p1', status: 200 }]);
    const trial = await call(app, editor, 'GET', `/api/v1/trials/${id(11)}`);
    expect(trial.data).toMatchObject({ status: 'completed', duration: 12.5, name: 'lr=0.1', params: { lr: 0.1 } });
  });

  it('refuses whole requests: viewer 403, unauthenticated 401, too many events 413, malformed envelope 400', async () => {
    const one = { batch: [{ id: 'x', type: 'experiment.create', body: { name: 'x' } }] };
    expect((await call(app, testPrincipal('viewer', [A]), 'POST', '/api/v1/ingest', one)).statusCode).toBe(403);
    expect((await call(app, undefined, 'POST', '/api/v1/ingest', one)).statusCode).toBe(401);
    const big = { batch: Array.from({ length: 1001 }, (_, i) => ({ id: `e${i}`, type: 'experiment.create', body: { name: 'x' } })) };
    const tooMany = await call(app, editor, 'POST', '/api/v1/ingest', big);
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.data.error.message).toContain('at most 1000');
    const bad = await call(app, editor, 'POST', '/api/v1/ingest', { events: [] });
    expect(bad.statusCode).toBe(400);
    expect(bad.data.error.code).toBe('BAD_USER_INPUT');
  });
});

const customModel = loadModelDocument({
  name: 'owners',
  entities: {
    owner: { fields: { email: { type: 'string', required: true, unique: true }, score: { type: 'int' } } },
    pet: {
      fields: {
        owner: { type: 'ref', to: 'owner', required: true, on_delete: 'restrict' },
        name: { type: 'string', required: true },
        tags: { type: 'string[]' },
        born: { type: 'date' },
        weight: { type: 'decimal' },
        chip: { type: 'bigint' },
      },
    },
  },
});

describe.each(TEST_KINDS)('ingestion fallback (row by row in savepoints) on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let editor: Principal;

  beforeAll(async () => {
    t = await createTestDb(kind, customModel);
    editor = testPrincipal('editor', [await createProject(t.db, 'A')]);
    app = await buildRestApp(t);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('isolates a unique violation to its row; the other groups and rows are written', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'o1', type: 'owner.create', body: { id: id(1), email: 'a@example.com' } },
        { id: 'o2', type: 'owner.create', body: { id: id(2), email: 'a@example.com' } },
        { id: 'o3', type: 'owner.create', body: { id: id(3), email: 'b@example.com', score: 3 } },
        { id: 'p1', type: 'pet.create', body: { id: id(11), owner_id: id(1), name: 'rex', tags: ['dog'], born: '2020-02-29', weight: '12.50', chip: 9007199254740991 } },
        { id: 'p2', type: 'pet.create', body: { id: id(12), owner_id: id(2), name: 'tom' } },
      ],
    });
    expect(res.statusCode).toBe(207);
    expect(statuses(res.data)).toEqual({ o1: 201, o2: 409, o3: 201, p1: 201, p2: 422 });
    expect(res.data.errors[0].message).toContain('unique');
    const pet = await call(app, editor, 'GET', `/api/v1/pets/${id(11)}`);
    expect(pet.data).toMatchObject({ tags: ['dog'], born: '2020-02-29', chip: 9007199254740991 });
    expect(Number(pet.data.weight)).toBe(12.5);
    expect((await call(app, editor, 'GET', '/api/v1/owners')).data.total_count).toBe(2);
  });

  it('reports a delete blocked by children (restrict) as 409 and still deletes the others', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'd1', type: 'owner.delete', body: { id: id(1) } },
        { id: 'd3', type: 'owner.delete', body: { id: id(3) } },
      ],
    });
    expect(statuses(res.data)).toEqual({ d1: 409, d3: 200 });
    expect(res.data.errors[0].message).toContain('still referenced');
    expect((await call(app, editor, 'GET', '/api/v1/owners')).data.items.map((o: { id: string }) => o.id)).toEqual([id(1)]);
  });

  it('REST create answers 409 CONFLICT for a unique violation and writes nothing', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/owners', [{ email: 'c@example.com' }, { email: 'a@example.com' }]);
    expect(res.statusCode).toBe(409);
    expect(res.data.error.code).toBe('CONFLICT');
    expect(res.data.error.details.map((d: { path: string }) => d.path)).toEqual(['body[1]']);
    expect((await call(app, editor, 'GET', '/api/v1/owners?email=c@example.com')).data.total_count).toBe(0);
  });
});
