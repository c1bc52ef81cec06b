/**
 * Run-time model changes across instances (SPEC M-7, §8 "Scale-out"): two servers on one PostgreSQL under a
 * steady stream of GraphQL and REST reads; a field and an entity added through instance A; both instances
 * serve them within a second (B learns it through NOTIFY), and no request of the stream failed.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { trackerDocAdded, trackerModel } from './support.js';

describe.skipIf(!TEST_KINDS.includes('postgres'))('model changes across two instances on postgres', () => {
  let t: TestDb;
  let dbB: Db;
  let a: FastifyInstance;
  let b: FastifyInstance;
  let urlA: string;
  let urlB: string;
  let admin: string;
  let editor: string;

  beforeAll(async () => {
    t = await createTestDb('postgres', trackerModel());
    dbB = await openPostgres({ connectionString: t.url!, max: 5 });
    const project = await createProject(t.db, 'A');
    admin = (await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key;
    editor = (await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key;
    ({ app: a } = await buildServer({ db: t.db, model: t.model }));
    ({ app: b } = await buildServer({ db: dbB, model: trackerModel() }));
    urlA = await a.listen({ host: '127.0.0.1', port: 0 });
    urlB = await b.listen({ host: '127.0.0.1', port: 0 });
    const board = await fetch(`${urlA}/api/v1/boards`, { method: 'POST', headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'B' }) });
    const boardId = ((await board.json()) as { id: string }).id;
    for (let i = 0; i < 5; i++) {
      await fetch(`${urlB}/api/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json' }, body: JSON.stringify({ board_id: boardId, name: `t${i}` }) });
    }
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await dbB?.close();
    await t?.close();
  });

  const graphql = (url: string, query: string) =>
    fetch(`${url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }) });

  it('both serve a field and an entity added through A within a second; no request of the stream fails', async () => {
    const failures: string[] = [];
    let completed = 0;
    let completedDuringChange = 0;
    let changing = false;
    let stop = false;
    const stream = async (url: string) => {
      while (!stop) {
        const [g, r] = await Promise.all([graphql(url, '{ tasks(order_by: { name: ASC }) { id name status board { title } } }'), fetch(`${url}/api/v1/tasks?limit=10`, { headers: { authorization: `Bearer ${editor}` } })]);
        const gBody = (await g.json()) as { data?: { tasks: unknown[] }; errors?: unknown };
        const rBody = (await r.json()) as { items?: unknown[] };
        if (g.status !== 200 || gBody.errors || gBody.data?.tasks.length !== 5) failures.push(`${url} graphql ${g.status} ${JSON.stringify(gBody).slice(0, 200)}`);
        if (r.status !== 200 || rBody.items?.length !== 5) failures.push(`${url} rest ${r.status} ${JSON.stringify(rBody).slice(0, 200)}`);
        completed += 2;
        if (changing) completedDuringChange += 2;
      }
    };
    const loops = [stream(urlA), stream(urlA), stream(urlB), stream(urlB)];
    while (completed < 40) await new Promise((r) => setTimeout(r, 10));

    changing = true;
    const put = await fetch(`${urlA}/api/v1/model`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: trackerDocAdded() }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ applied: true, version: 2 });
    const applied = performance.now();

    const servedWithin = async (url: string): Promise<number> => {
      for (;;) {
        const res = await graphql(url, '{ tasks { priority } labels { text } }');
        const body = (await res.json()) as { data?: { tasks: Array<{ priority: number }> } };
        if (res.status === 200 && body.data?.tasks.length === 5) return performance.now() - applied;
        if (performance.now() - applied > 5_000) return Infinity;
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    // A swapped before answering the PUT: its very next request sees the new model.
    const firstOnA = (await (await graphql(urlA, '{ tasks { priority } labels { text } }')).json()) as { errors?: unknown };
    const onB = await servedWithin(urlB);
    const restB = await fetch(`${urlB}/api/v1/labels`, { headers: { authorization: `Bearer ${editor}` } });
    const docB = (await (await fetch(`${urlB}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    const before = completed;
    while (completed < before + 40) await new Promise((r) => setTimeout(r, 10));
    changing = false;
    stop = true;
    await Promise.all(loops);

    expect(JSON.stringify(firstOnA.errors)).toBeUndefined();
    expect(onB).toBeLessThan(1_000);
    expect(restB.status).toBe(200);
    expect(docB.paths['/api/v1/labels']).toBeDefined();
    expect(completedDuringChange).toBeGreaterThan(40);
    expect(failures).toEqual([]);
  });
});
