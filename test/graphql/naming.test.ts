/**
 * SPEC G-1 `naming: graphql-default` over HTTP, on every test database: the experiments preset with camelCase
 * fields and arguments (`trialConnection`, `orderBy`, `experimentId`, `totalCount`, `pageInfo { hasNextPage
 * endCursor }`, `startsWith`, `isNull`, `trialsList`, `trialMetrics(trialId)`), a Relay-shaped connection
 * paged to the end with `first`/`after`, one statement per request; no generated name keeps a snake_case
 * spelling, while type names stay PascalCase and enum values as declared.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { isInputObjectType, isObjectType, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildSchema, schemaFor } from '../../src/graphql/schema/build.js';
import { listPresets, loadModelDocument } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { uid } from '../query/support.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { graphqlTestApp } from '../support/graphql-app.js';

async function camelExperiments(): Promise<Model> {
  const doc = parseYaml(await readFile(new URL('../../presets/experiments/model.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
  return loadModelDocument({ ...doc, naming: 'graphql-default' });
}

/** Every generated field, argument and input field whose name still has an underscore. */
function snakeNames(schema: GraphQLSchema): string[] {
  const out: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (!isObjectType(type) && !isInputObjectType(type)) continue;
    for (const f of Object.values(type.getFields())) {
      // `_rank` / `_distance`-style leading underscores mark computed fields; only inner ones are snake_case.
      if (/[a-z0-9]_[a-z0-9]/i.test(f.name)) out.push(`${type.name}.${f.name}`);
      for (const a of 'args' in f ? f.args : []) if (/[a-z0-9]_[a-z0-9]/i.test(a.name)) out.push(`${type.name}.${f.name}(${a.name})`);
    }
  }
  return out;
}

const E = { one: uid(1), two: uid(2), secret: uid(9) };

describe('naming: graphql-default on every shipped preset', () => {
  it.each(listPresets())('%s: no generated field or argument keeps a snake_case name', async (name) => {
    const doc = parseYaml(await readFile(new URL(`../../presets/${name}/model.yaml`, import.meta.url), 'utf8')) as Record<string, unknown>;
    const model = loadModelDocument({ ...doc, naming: 'graphql-default' });
    expect(snakeNames(buildSchema(model))).toEqual([]);
  });
});

describe.each(TEST_KINDS)('naming: graphql-default on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let A: string;
  const trialIds: string[] = [];

  beforeAll(async () => {
    t = await createTestDb(kind, await camelExperiments());
    A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    await insertRows(t.db, 'experiment', [
      { id: E.one, project_id: A, name: 'one' },
      { id: E.two, project_id: A, name: 'two' },
      { id: E.secret, project_id: B, name: 'secret' },
    ]);
    for (let i = 1; i <= 5; i++) trialIds.push(uid(100 + i));
    await insertRows(
      t.db,
      'trial',
      trialIds.map((id, i) => ({
        id, project_id: A, experiment_id: E.one, name: `t${i + 1}`, status: i % 2 ? 'failed' : 'completed',
        duration: i === 4 ? null : i, created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      })),
    );
    await insertRows(t.db, 'trial', [
      { id: uid(110), project_id: A, experiment_id: E.two, name: 'other', status: 'running', duration: 9, created_at: '2026-01-01T00:00:00.5Z' },
      { id: uid(190), project_id: B, experiment_id: E.secret, name: 'hidden', status: 'completed', duration: 1, created_at: '2026-01-01T00:00:02.5Z' },
    ]);
    await insertRows(t.db, 'metric', [{ project_id: A, trial_id: trialIds[0], key: 'loss', value: 0.5, step: 1 }]);

    app = await graphqlTestApp(t.db, t.model, { principal: testPrincipal('viewer', [A]) });
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  /** POST a query; asserts no errors and exactly one statement. */
  async function one(query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
    const before = t.db.stats.statements;
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, variables } });
    const body = res.json() as { data?: Record<string, any>; errors?: unknown[] };
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(t.db.stats.statements - before).toBe(1);
    return body.data!;
  }

  it('generates no snake_case field or argument names; types stay PascalCase, enum values as declared', () => {
    const schema = schemaFor(t.model);
    expect(snakeNames(schema)).toEqual([]);
    const q = schema.getQueryType()!.getFields();
    expect(Object.keys(q)).toEqual(expect.arrayContaining(['trial', 'trials', 'trialList', 'trialConnection', 'trialsByIds', 'trialMetrics']));
    expect(q.trialConnection.args.map((a) => a.name)).toEqual(expect.arrayContaining(['filter', 'orderBy', 'first', 'after', 'last', 'before', 'experimentId', 'projectId']));
    expect(schema.getType('TrialStatus')).toBeDefined();
    expect(Object.keys((schema.getType('PageInfo') as any).getFields())).toEqual(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor']);
  });

  it('pages a Relay connection to the end: totalCount, edges { cursor node }, pageInfo { hasNextPage endCursor }', async () => {
    const query = `query Page($c: String, $e: ID) {
      trialConnection(first: 2, after: $c, experimentId: $e, orderBy: [{ createdAt: ASC }]) {
        totalCount
        edges { cursor node { id createdAt experimentId } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }`;
    const seen: string[] = [];
    const pages: boolean[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const c: any = (await one(query, { c: cursor, e: E.one })).trialConnection;
      expect(c.totalCount).toBe(5);
      for (const edge of c.edges) {
        expect(edge.node.experimentId).toBe(E.one);
        expect(edge.node.createdAt).toMatch(/^2026-01-01T00:00:0\d\.000000Z$/);
        expect(typeof edge.cursor).toBe('string');
        seen.push(edge.node.id);
      }
      if (c.edges.length) {
        expect(c.pageInfo.startCursor).toBe(c.edges[0].cursor);
        expect(c.pageInfo.endCursor).toBe(c.edges[c.edges.length - 1].cursor);
      }
      expect(c.pageInfo.hasPreviousPage).toBe(cursor !== null);
      pages.push(c.pageInfo.hasNextPage);
      if (!c.pageInfo.hasNextPage) break;
      cursor = c.pageInfo.endCursor;
    }
    expect(seen).toEqual(trialIds);
    expect(pages).toEqual([true, true, false]);
  });

  it('pages a nested connection and a list page, and accepts camelCase filter operators', async () => {
    const data = await one(`{
      experiment(id: "${E.one}") {
        trialsConnection(first: 3, orderBy: [{ name: DESC }]) { totalCount nodes { name } pageInfo { hasNextPage } }
        trialsList(limit: 2, offset: 1, orderBy: [{ name: ASC }]) { totalCount items { name } }
      }
      f: trials(filter: { name: { startsWith: "t" }, duration: { isNull: false }, status: { notIn: [failed] } }, orderBy: [{ name: ASC }]) { name }
      n: trials(filter: { or: [{ duration: { isNull: true } }, { experiment: { name: { eq: "two" } } }] }, orderBy: [{ name: ASC }]) { name }
      m: trialMetrics(trialId: "${trialIds[0]}") { key value trialId runId }
      byIds: trialsByIds(ids: ["${trialIds[1]}", "${uid(190)}"]) { name }
    }`);
    expect(data.experiment.trialsConnection).toEqual({ totalCount: 5, nodes: [{ name: 't5' }, { name: 't4' }, { name: 't3' }], pageInfo: { hasNextPage: true } });
    expect(data.experiment.trialsList).toEqual({ totalCount: 5, items: [{ name: 't2' }, { name: 't3' }] });
    expect(data.f).toEqual([{ name: 't1' }, { name: 't3' }]);
    expect(data.n).toEqual([{ name: 'other' }, { name: 't5' }]);
    expect(data.m).toEqual([{ key: 'loss', value: 0.5, trialId: trialIds[0], runId: null }]);
    expect(data.byIds).toEqual([{ name: 't2' }, null]);
  });

  it('speaks camelCase in its messages', async () => {
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ trials(experimentId: null, filter: { duration: { eq: null } }) { id } }' } });
    const message = (res.json() as { errors: { message: string }[] }).errors[0].message;
    expect(message).toMatch(/isNull: true/);
    expect(message).not.toMatch(/is_null|experiment_id/);
  });
});
