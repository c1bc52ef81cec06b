/**
 * Subscriptions across a run-time model change (SPEC M-7 with G-8): a subscription whose document still fits
 * the new model is re-planned and keeps delivering; one whose entity was removed ends at once with
 * MODEL_CHANGED (it would otherwise wait for events that can no longer come). PGlite and PostgreSQL, with the
 * real graphql-ws client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, createProject, TEST_KINDS, type TestDb } from '../support/db.js';
import { bearer, restCreate, serve, subscribeWs, waitFor, waitForSubscribers, wsClient, type Served } from '../graphql/live-support.js';
import { trackerDoc, trackerDocAdded, trackerModel } from './support.js';

describe.each(TEST_KINDS)('subscriptions across a model change on %s', (kind) => {
  let t: TestDb;
  let s: Served;
  let admin: string;
  let editor: string;

  beforeAll(async () => {
    t = await createTestDb(kind, trackerModel());
    const project = await createProject(t.db, 'A');
    admin = (await bearer(t.db, 'admin', null)).auth;
    editor = (await bearer(t.db, 'editor', project)).auth;
    s = await serve(t.db, t.model);
  });
  afterAll(async () => {
    await s?.app.close();
    await t?.close();
  });

  const put = async (model: unknown, allow = false) => {
    const res = await fetch(`http://${s.base}/api/v1/model`, {
      method: 'PUT',
      headers: { authorization: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ model, allow_destructive: allow }),
    });
    expect(res.status).toBe(200);
  };

  it('re-plans a subscription that still fits and ends one whose entity was removed', async () => {
    await put(trackerDocAdded());
    const client = wsClient(s, editor);
    const tasks = subscribeWs(client, 'subscription { task_events { op row { name } } }');
    const labels = subscribeWs(client, 'subscription { label_events { op row { text } } }');
    await waitForSubscribers(s, 2);

    await put(trackerDoc(), true); // drops label (and task.priority)
    await waitFor(() => labels.errors.length > 0 || labels.events.some((e) => e.errors), 5000, 'label subscription to end');
    const ended = JSON.stringify([...labels.errors, ...labels.events]);
    expect(ended).toMatch(/MODEL_CHANGED/);
    expect(ended).toMatch(/label_events/);

    const board = await restCreate(s, editor, 'boards', { title: 'B' });
    await restCreate(s, editor, 'tasks', { board_id: board.id, name: 'after the change' });
    await waitFor(() => tasks.events.length > 0, 5000, 'task event');
    expect(tasks.events[0]).toEqual({ data: { task_events: { op: 'INSERT', row: { name: 'after the change' } } } });
    expect(tasks.errors).toEqual([]);
    tasks.dispose();
    await client.dispose();
  });
});
