/**
 * SPEC G-16: introspection is on by default and can be switched off (`introspection: false` in the server
 * config, `LATTICE_INTROSPECTION=false`, `lattice serve --no-introspection`). Off, `__schema` and `__type` are
 * refused by validation with BAD_USER_INPUT — also for a document the same schema cached while introspection
 * was on — while `__typename` and data queries keep working. Through the whole server, on every database.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer, introspectionFromEnv, resolveServerConfig } from '../../src/server/app.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';

describe('LATTICE_INTROSPECTION', () => {
  const saved = process.env.LATTICE_INTROSPECTION;
  afterEach(() => {
    if (saved === undefined) delete process.env.LATTICE_INTROSPECTION;
    else process.env.LATTICE_INTROSPECTION = saved;
  });

  it('defaults to on; true/false spellings; anything else is refused', () => {
    expect(introspectionFromEnv(undefined)).toBe(true);
    expect(introspectionFromEnv('')).toBe(true);
    for (const v of ['true', 'TRUE', '1', 'on', 'yes']) expect(introspectionFromEnv(v)).toBe(true);
    for (const v of ['false', 'False', '0', 'off', 'no']) expect(introspectionFromEnv(v)).toBe(false);
    expect(() => introspectionFromEnv('flase')).toThrow(/LATTICE_INTROSPECTION is "flase"; set it to true or false/);
  });

  it('resolveServerConfig reads it unless the config says otherwise', () => {
    delete process.env.LATTICE_INTROSPECTION;
    expect(resolveServerConfig().introspection).toBe(true);
    process.env.LATTICE_INTROSPECTION = 'false';
    expect(resolveServerConfig().introspection).toBe(false);
    expect(resolveServerConfig({ introspection: true }).introspection).toBe(true);
    process.env.LATTICE_INTROSPECTION = 'true';
    expect(resolveServerConfig({ introspection: false }).introspection).toBe(false);
  });
});

describe.each(TEST_KINDS)('introspection switch on %s', (kind) => {
  let t: TestDb;
  let open: FastifyInstance;
  let closed: FastifyInstance;
  let auth: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    const A = await createProject(t.db, 'A');
    await insertRows(t.db, 'experiment', [{ project_id: A, name: 'visible' }]);
    auth = `Bearer ${(await createApiKey(t.db, { projectId: A, role: 'viewer' })).secret_key}`;
    // Both servers serve the same Model object, hence the same GraphQLSchema and document cache.
    ({ app: open } = await buildServer({ db: t.db, model: t.model }));
    ({ app: closed } = await buildServer({ db: t.db, model: t.model, config: { introspection: false } }));
  });
  afterAll(async () => {
    await open?.close();
    await closed?.close();
    await t?.close();
  });

  async function gql(app: FastifyInstance, query: string) {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: auth, accept: 'application/graphql-response+json' }, payload: { query } });
    return { status: res.statusCode, body: res.json() as { data?: any; errors?: { message: string; extensions: { code: string } }[] } };
  }

  const SCHEMA = '{ __schema { queryType { name } } }';
  const TYPE = '{ __type(name: "Experiment") { fields { name } } }';

  it('answers introspection by default', async () => {
    expect((await gql(open, SCHEMA)).body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    expect((await gql(open, TYPE)).body.data.__type.fields.map((f: { name: string }) => f.name)).toContain('trials_connection');
  });

  it.each([
    ['__schema', SCHEMA],
    ['__type', TYPE],
    ['__schema inside a fragment, next to data', '{ experiments { name } ...F } fragment F on Query { __schema { types { name } } }'],
  ])('refuses %s when switched off, even when the document was cached while on', async (field, query) => {
    await gql(open, query);
    const res = await gql(closed, query);
    expect(res.status).toBe(400);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors?.[0].message).toMatch(new RegExp(`introspection has been disabled.*"${field.slice(0, 8)}`));
  });

  it('keeps __typename and data queries working when switched off', async () => {
    expect((await gql(closed, '{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
    expect((await gql(closed, '{ experiments { __typename name } }')).body).toEqual({
      data: { experiments: [{ __typename: 'Experiment', name: 'visible' }] },
    });
    // The refusal did not leak into the server that allows it.
    expect((await gql(open, SCHEMA)).status).toBe(200);
  });
});
