/**
 * Bad input never gets a 5xx (SPEC §8 Security): deeply nested documents, variables and bodies, NUL characters
 * and out-of-range numbers that only the database would reject.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, type CreatedApiKey } from '../../src/auth/api-keys.js';
import { documentNesting, jsonNesting, MAX_DOCUMENT_NESTING, MAX_JSON_NESTING } from '../../src/nesting.js';
import { userErrorFromFailure } from '../../src/errors.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

describe('nesting measures', () => {
  it('counts brackets outside strings, block strings and comments', () => {
    expect(documentNesting('{ a { b(x: [1, [2]]) } }')).toBe(5);
    expect(documentNesting('{ a(s: "{{{{[[[") # {{{{{\n }')).toBe(2);
    expect(documentNesting('{ a(s: """ {{{ \\""" {{ """) }')).toBe(2);
    expect(documentNesting('{'.repeat(10_000), 300)).toBe(301);
  });
  it('measures JSON depth iteratively', () => {
    expect(jsonNesting(5)).toBe(0);
    expect(jsonNesting({ a: [1, { b: [] }] })).toBe(4);
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonNesting(deep, 200)).toBe(201);
  });
  it('maps database data exceptions and stack overflows to BAD_USER_INPUT without database text', () => {
    const e = userErrorFromFailure(Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' }));
    expect(e?.code).toBe('BAD_USER_INPUT');
    expect(e?.message).not.toContain('UTF8');
    expect(userErrorFromFailure(new RangeError('Maximum call stack size exceeded'))?.code).toBe('BAD_USER_INPUT');
    expect(userErrorFromFailure(Object.assign(new Error('x'), { code: '23505' }))).toBeNull();
  });
});

describe.each(TEST_KINDS)('bad input answers 4xx on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let editor: CreatedApiKey;
  const gql = (payload: unknown) =>
    app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: `Bearer ${editor.secret_key}`, accept: 'application/graphql-response+json' },
      payload: payload as object,
    });

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    editor = await createApiKey(t.db, { projectId: await createProject(t.db, 'p'), role: 'editor' });
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('refuses a document nested thousands of levels deep (QUERY_TOO_COMPLEX), accepts a reasonable one', async () => {
    const nested = (n: number) => `{ experiments(filter: ${'{and: ['.repeat(n)}{}${']}'.repeat(n)}) { id } }`;
    const deep = await gql({ query: nested(3000) });
    expect(deep.statusCode).toBe(400);
    expect(deep.json().errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(deep.json().errors[0].message).toContain(String(MAX_DOCUMENT_NESTING));
    const ok = await gql({ query: nested(20) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ data: { experiments: [] } });
  });

  it('refuses deeply nested variables and bodies before recursing into them', async () => {
    // Built as text: JSON.stringify itself would overflow on the client side.
    const f = `${'{"and":['.repeat(3000)}{}${']}'.repeat(3000)}`;
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: `Bearer ${editor.secret_key}`, 'content-type': 'application/json' },
      payload: `{"query":"query($f: ExperimentFilter) { experiments(filter: $f) { id } }","variables":{"f":${f}}}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json().errors[0].message).toContain(String(MAX_JSON_NESTING));
    const rest = await app.inject({
      method: 'POST',
      url: '/api/v1/experiments',
      headers: { authorization: `Bearer ${editor.secret_key}`, 'content-type': 'application/json' },
      payload: `{"name":"x","meta":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    });
    expect(rest.statusCode).toBe(400);
    expect(rest.json().error.code).toBe('BAD_USER_INPUT');
  });

  it('answers NUL characters and out-of-range numbers with 400, never 500 or database text', async () => {
    const nul = await gql({ query: '{ experiments(filter: {name: {eq: "a\\u0000b"}}) { id } }' });
    expect(nul.statusCode).toBe(400);
    expect(nul.json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(nul.body).not.toMatch(/UTF8|byte sequence/);
    const viaVariable = await gql({ query: 'query($n: String) { experiments(filter: {name: {eq: $n}}) { id } }', variables: { n: 'a\u0000b' } });
    expect(viaVariable.statusCode).toBe(400);
    const ingest = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: { authorization: `Bearer ${editor.secret_key}` },
      payload: {
        batch: [
          { id: 'nul', type: 'experiment.create', body: { name: 'a\u0000b' } },
          { id: 'nul-json', type: 'experiment.create', body: { name: 'ok', meta: { k: 'a\u0000b' } } },
          { id: 'fine', type: 'experiment.create', body: { name: 'fine' } },
        ],
      },
    });
    expect(ingest.statusCode).toBe(207);
    const body = ingest.json();
    expect(body.successes.map((s: { id: string }) => s.id)).toEqual(['fine']);
    expect(body.errors.map((e: { id: string; status: number }) => [e.id, e.status])).toEqual([
      ['nul', 400],
      ['nul-json', 400],
    ]);
  });
});
