/**
 * Subscriptions at shutdown and across instances (SPEC G-8, §8 Scale-out; issue 6 items 2 and 5), with the
 * real `graphql-ws` and `graphql-sse` clients:
 * - `app.close()` closes open WebSockets with 1001 "going away" (clients reconnect), ends SSE streams, and
 *   still lets an ordinary request finish;
 * - `lattice serve` as a process: SIGTERM does the same and the process exits 0;
 * - on PostgreSQL, two server instances with their own pools and listeners on one database: a write through
 *   instance A reaches a subscriber on instance B.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { bearer, gql, serve, sleep, subscribeSse, subscribeWs, waitFor, waitForSubscribers, wsClient, type Served } from './live-support.js';

const BIN = fileURLToPath(new URL('../../bin/lattice.mjs', import.meta.url));
const EVENTS = `subscription { experiment_events { op id row { name } } }`;

describe.each(TEST_KINDS)('subscriptions at shutdown and across instances on %s', (kind) => {
  let t: TestDb;
  let pA: string;
  let editorA: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    pA = await createProject(t.db, 'A');
    editorA = (await bearer(t.db, 'editor', pA)).auth;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('closes WebSockets with 1001 and ends SSE streams on app.close(), then drains requests', async () => {
    const s = await serve(t.db, t.model);
    const closes: number[] = [];
    const client = wsClient(s, editorA, closes);
    const ws = subscribeWs(client, EVENTS);
    const sse = subscribeSse(s, editorA, EVENTS);
    await waitForSubscribers(s, 2);
    // A request in flight at close (its body still arriving) is answered, not cut off.
    const body = JSON.stringify({ query: '{ experiments { id } }' });
    const [host, port] = s.base.split(':');
    const req = http.request({ host, port: Number(port), agent: false, method: 'POST', path: '/graphql', headers: { authorization: editorA, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    const answered = new Promise<{ status?: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, 10));
    await sleep(100);
    const closing = s.app.close();
    await Promise.all([ws.finished, sse.finished]);
    req.end(body.slice(10));
    const res = await answered;
    await closing;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ data: { experiments: expect.any(Array) } });
    expect(closes).toEqual([1001]);
    expect(sse.completed).toBe(true);
    expect(sse.errors).toEqual([]);
    await client.dispose();
  });

  it('SIGTERM to `lattice serve` closes subscriptions with 1001 and exits 0', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'lattice-live-'));
    let url = '';
    if (kind === 'postgres') {
      const { rows } = await t.db.query<{ db: string }>('SELECT current_database() AS db');
      const u = new URL(process.env.TEST_DATABASE_URL!);
      u.pathname = `/${rows[0].db}`;
      url = u.toString();
    }
    const args = [BIN, 'serve', '--port', '0', '--no-demo', ...(url ? ['--database-url', url] : ['--data-dir', path.join(cwd, 'data')])];
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, LATTICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /Lattice is running at (http:\/\/\S+)/.test(out), 90_000, 'the server to start');
      const base = /Lattice is running at http:\/\/(\S+?)\/?\s/.exec(out)![1];
      const s: Served = { app: undefined as never, base };
      let auth = editorA;
      let input = 'name: "before-stop", kind: "k"';
      if (!url) {
        const creds = JSON.parse(readFileSync(path.join(cwd, '.lattice', 'credentials'), 'utf8')) as { secret_key: string; project_id: string };
        auth = `Bearer ${creds.secret_key}`;
        input += `, project_id: "${creds.project_id}"`;
      }
      const closes: number[] = [];
      const client = wsClient(s, auth, closes);
      const ws = subscribeWs(client, EVENTS);
      const sse = subscribeSse(s, auth, EVENTS);
      // Prove both are live before stopping: an insert reaches them. The server is another process, so there is
      // no hub to ask whether both subscriptions are registered yet: write again until an insert reaches both.
      const live = () => ws.events.length >= 1 && sse.events.length >= 1;
      for (let i = 0; i < 10 && !live(); i++) {
        await gql(s, auth, `mutation { create_experiment(input: { ${input.replace('before-stop', `before-stop-${i}`)} }) { id } }`);
        await waitFor(live, 2_000, 'events before SIGTERM').catch(() => undefined);
      }
      expect(live()).toBe(true);
      child.kill('SIGTERM');
      await Promise.all([ws.finished, sse.finished]);
      expect(await exited).toBe(0);
      expect(closes).toEqual([1001]);
      expect(sse.completed).toBe(true);
      await client.dispose();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 120_000);

  it.runIf(kind === 'postgres')('delivers a write through instance A to a subscriber on instance B (one PostgreSQL)', async () => {
    const { rows } = await t.db.query<{ db: string }>('SELECT current_database() AS db');
    const u = new URL(process.env.TEST_DATABASE_URL!);
    u.pathname = `/${rows[0].db}`;
    const dbA = await openPostgres({ connectionString: u.toString(), max: 3 });
    const dbB = await openPostgres({ connectionString: u.toString(), max: 3 });
    const a = await serve(dbA, t.model);
    const b = await serve(dbB, t.model);
    const clientB = wsClient(b, editorA);
    try {
      const sub = subscribeWs(clientB, EVENTS);
      await waitForSubscribers(b, 1);
      const { create_experiment: e } = await gql(a, editorA, `mutation { create_experiment(input: { name: "via-a", kind: "k" }) { id } }`);
      await waitFor(() => sub.events.length >= 1, 5000, 'the event on B');
      expect(sub.events[0].data.experiment_events).toEqual({ op: 'INSERT', id: e.id, row: { name: 'via-a' } });
      sub.dispose();
    } finally {
      await clientB.dispose();
      await a.app.close();
      await b.app.close();
      await dbA.close();
      await dbB.close();
    }
  });
});
