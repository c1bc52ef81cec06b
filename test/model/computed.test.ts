/**
 * Computed fields (`computed: { milliseconds_between: [from, to] }`): validated at load, stored as generated
 * columns, read, filtered and ordered like any field, never written by clients (REST, ingestion, GraphQL
 * mutations), and migrated: a changed definition regenerates the column, a plain column becoming computed is
 * destructive. PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { migrate } from '../../src/db/migrate/index.js';
import { loadModelDocument } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import type { FastifyInstance } from 'fastify';

const doc = (computed: unknown = { milliseconds_between: ['started', 'ended'] }, extra: Record<string, unknown> = {}) => ({
  name: 'timing',
  entities: {
    step: {
      fields: {
        name: { type: 'string' },
        started: { type: 'datetime' },
        ended: { type: 'datetime' },
        first_token: { type: 'datetime' },
        duration_ms: { type: 'float', computed },
        ...extra,
      },
    },
  },
});

describe('computed fields: validation', () => {
  it('refuses a wrong type, unknown or non-datetime fields, and write options', () => {
    const fail = (d: unknown) => {
      try {
        loadModelDocument(d);
      } catch (err) {
        return (err as { details: Array<{ path: string; message: string }> }).details;
      }
      throw new Error('loaded');
    };
    expect(fail(doc({ milliseconds_between: ['started', 'nope'] }))).toEqual([
      { path: 'entities.step.fields.duration_ms.computed.milliseconds_between.1', message: 'unknown field "nope" of this entity' },
    ]);
    expect(fail(doc({ milliseconds_between: ['name', 'ended'] }))[0].message).toMatch(/"name" must be a \(not computed\) datetime field/);
    const intDoc = doc();
    (intDoc.entities.step.fields.duration_ms as Record<string, unknown>).type = 'int';
    expect(fail(intDoc)[0]).toMatchObject({ path: 'entities.step.fields.duration_ms.type' });
    const req = doc();
    (req.entities.step.fields.duration_ms as Record<string, unknown>).required = true;
    expect(fail(req)[0]).toMatchObject({ path: 'entities.step.fields.duration_ms.required', message: expect.stringMatching(/database computes it/) });
  });
});

describe.each(TEST_KINDS)('computed fields on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let key: string;
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { payload: body as object }) });
  const gql = async (query: string) => (await call('POST', '/graphql', { query })).json();

  beforeAll(async () => {
    t = await createTestDb(kind, loadModelDocument(doc()));
    const project = await createProject(t.db, 'P');
    key = (await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('is computed by the database, read, filtered and ordered like any field', async () => {
    const a = await call('POST', '/api/v1/steps', { name: 'a', started: '2026-01-01T00:00:00Z', ended: '2026-01-01T00:00:01.250Z' });
    expect(a.statusCode).toBe(201);
    expect(a.json()).toMatchObject({ duration_ms: 1250 });
    await call('POST', '/api/v1/steps', [{ name: 'b', started: '2026-01-01T00:00:00Z', ended: '2026-01-01T00:00:00.5Z' }, { name: 'open', started: '2026-01-01T00:00:00Z' }]);
    expect(await gql('{ steps(filter: { duration_ms: { gt: 100 } }, order_by: { duration_ms: DESC }) { name duration_ms } }')).toEqual({
      data: { steps: [{ name: 'a', duration_ms: 1250 }, { name: 'b', duration_ms: 500 }] },
    });
    const patched = await call('PATCH', `/api/v1/steps/${a.json().id}`, { ended: '2026-01-01T00:00:02Z' });
    expect(patched.json()).toMatchObject({ duration_ms: 2000 });
    expect(await gql('{ step_aggregate { max { duration_ms } } }')).toEqual({ data: { step_aggregate: [{ max: { duration_ms: 2000 } }] } });
  });

  it('is never written by clients: REST, ingestion and mutations refuse it', async () => {
    const rest = await call('POST', '/api/v1/steps', { name: 'x', duration_ms: 5 });
    expect(rest.statusCode).toBe(400);
    expect(rest.json().error.message).toMatch(/duration_ms/);
    const ingest = await call('POST', '/api/v1/ingest', { batch: [{ id: 'e1', type: 'step.create', body: { name: 'x', duration_ms: 5 } }] });
    expect(ingest.json().errors[0]).toMatchObject({ status: 400, message: expect.stringMatching(/duration_ms/) });
    const mutation = await gql('mutation { create_step(input: { name: "x", duration_ms: 5 }) { id } }');
    expect(mutation.errors[0].message).toMatch(/duration_ms/);
  });

  it('migrates: a changed definition regenerates the column; a plain column becoming computed is destructive', async () => {
    const changed = loadModelDocument(doc({ milliseconds_between: ['started', 'first_token'] }));
    const r = await migrate(t.db, changed);
    expect(r.statements).toEqual(expect.arrayContaining(['ALTER TABLE "app"."step" DROP COLUMN "duration_ms"', expect.stringMatching(/ADD COLUMN "duration_ms" double precision GENERATED ALWAYS AS/)]));
    const rows = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM app.step WHERE duration_ms IS NOT NULL`);
    expect(rows.rows[0].n).toBe(0); // no first_token anywhere
    const plain = doc(undefined, { latency: { type: 'float' } });
    delete (plain.entities.step.fields as Record<string, unknown>).duration_ms;
    await migrate(t.db, loadModelDocument({ ...plain, entities: { step: { fields: { ...plain.entities.step.fields, duration_ms: { type: 'float' } } } } })); // no longer computed: values kept
    const kept = await t.db.query<{ generated: string }>(`SELECT is_generated AS generated FROM information_schema.columns WHERE table_name = 'step' AND column_name = 'duration_ms'`);
    expect(kept.rows[0].generated).toBe('NEVER');
    await expect(migrate(t.db, changed)).rejects.toThrow(/duration_ms.*holds stored values; the model now computes it/);
  });
});
