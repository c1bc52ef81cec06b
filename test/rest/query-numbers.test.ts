/**
 * Query-string numbers are strict (issue 8 item 7, SPEC R-1): a value converts to a number only when written as
 * a JSON number, so `?step=0x10` and `?duration=%20` are 400 instead of 16 and 0 (AJV's coercion took anything
 * `Number()` accepts); booleans only as `true` / `false`. GraphQL GET variables are JSON and graphql-js does not
 * turn strings into numbers, so they were strict already: checked here too.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertQueryValues } from '../../src/rest/validate.js';
import { createProject, createTestDb, insertRows, testPrincipal, TEST_KINDS, type TestDb } from '../support/db.js';
import { graphqlTestApp } from '../support/graphql-app.js';
import { buildRestApp, call } from './app.js';

describe('convertQueryValues', () => {
  const schema = {
    type: 'object',
    properties: { i: { type: 'integer' }, n: { type: 'number' }, d: { type: ['string', 'number'] }, b: { type: 'boolean' }, s: { type: 'string' } },
  };
  it('converts JSON-number spellings and true/false only', () => {
    const ok: Record<string, unknown> = { i: '-12', n: '1.5e3', d: '0x10', b: 'false', s: '7', extra: '3' };
    convertQueryValues(schema, ok);
    expect(ok).toEqual({ i: -12, n: 1500, d: '0x10', b: false, s: '7', extra: '3' });
    for (const bad of ['0x10', ' ', '', ' 5', '5 ', '+5', '1_000', '1e999', 'Infinity', 'NaN', '.5', '05', '0b1', '1,5']) {
      const v: Record<string, unknown> = { i: bad, n: bad, b: bad === '' ? '1' : bad };
      convertQueryValues(schema, v);
      expect(v, JSON.stringify(bad)).toEqual({ i: bad, n: bad, b: bad === '' ? '1' : bad });
    }
  });
});

describe.each(TEST_KINDS)('strict query-string numbers on %s', (kind) => {
  let t: TestDb;
  let rest: FastifyInstance;
  let gql: FastifyInstance;
  let project: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    project = await createProject(t.db, 'numbers');
    const [e] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: project, name: 'e' }]);
    const [trial] = await insertRows<{ id: string }>(t.db, 'trial', [{ project_id: project, experiment_id: e.id, name: 't', duration: 0 }]);
    await insertRows(t.db, 'metric', [
      { project_id: project, trial_id: trial.id, key: 'loss', value: 1, step: 0 },
      { project_id: project, trial_id: trial.id, key: 'loss', value: 0.5, step: 16 },
    ]);
    rest = await buildRestApp(t);
    gql = await graphqlTestApp(t.db, t.model, { defaultRole: 'viewer' });
  });
  afterAll(async () => {
    await rest?.close();
    await gql?.close();
    await t?.close();
  });

  const viewer = () => testPrincipal('viewer', [project]);

  it('refuses numbers that are not written as JSON numbers (400 naming the parameter)', async () => {
    for (const [url, param] of [
      ['/api/v1/metrics?step=0x10', 'step'],
      ['/api/v1/metrics?step=%20', 'step'],
      ['/api/v1/metrics?step=', 'step'],
      ['/api/v1/metrics?step=1e999', 'step'],
      ['/api/v1/trials?duration=%20', 'duration'],
      ['/api/v1/trials?duration=0x0', 'duration'],
      ['/api/v1/metrics?limit=0x10', 'limit'],
      ['/api/v1/metrics?offset=%201', 'offset'],
    ]) {
      const res = await call(rest, viewer(), 'GET', url);
      expect(res.statusCode, url).toBe(400);
      expect(res.data.error.code).toBe('BAD_USER_INPUT');
      expect(res.data.error.details[0].path, url).toBe(`querystring.${param}`);
    }
  });

  it('accepts JSON-number spellings', async () => {
    const steps = async (url: string) => (await call(rest, viewer(), 'GET', url)).data.items.map((m: { step: number }) => m.step);
    expect(await steps('/api/v1/metrics?step=16')).toEqual([16]);
    expect(await steps('/api/v1/metrics?step=1.6e1')).toEqual([16]);
    expect(await steps('/api/v1/metrics?step=0')).toEqual([0]);
    expect(await steps('/api/v1/metrics?step=16&limit=1&offset=0')).toEqual([16]);
    expect((await call(rest, viewer(), 'GET', '/api/v1/trials?duration=0')).data.total_count).toBe(1);
    expect((await call(rest, viewer(), 'GET', '/api/v1/trials?duration=-0.0')).data.total_count).toBe(1);
  });

  it('keeps GraphQL GET variables strict (JSON values, no string-to-number coercion)', async () => {
    const query = encodeURIComponent('query($s: Int) { metrics(filter: { step: { eq: $s } }) { step } }');
    const url = (s: unknown) => `/graphql?query=${query}&variables=${encodeURIComponent(JSON.stringify({ s }))}`;
    const headers = { accept: 'application/graphql-response+json', 'x-test-projects': project };
    const bad = await gql.inject({ method: 'GET', url: url('0x10'), headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].message).toMatch(/\$s/);
    const good = await gql.inject({ method: 'GET', url: url(16), headers });
    expect(good.json()).toEqual({ data: { metrics: [{ step: 16 }] } });
  });
});
