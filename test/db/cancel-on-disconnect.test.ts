/**
 * Cancellation of a request's database work when its client disconnects (SPEC G-12, issue 8 item 5;
 * `src/db/cancel.ts`, `src/db/pg-cancel.ts`, `src/server/disconnect.ts`).
 *
 * On both databases: work of a cancelled request is skipped (nothing sent, a transaction rolled back instead of
 * committed), owner work is never cancelled. On PostgreSQL only: a statement RUNNING when the client goes away
 * is cancelled on the server. To make a statement run as long as needed without timing, it waits for a lock held
 * by another connection (a row lock for writes, a table lock for reads); the test disconnects the HTTP client,
 * then sees the waiting backend go idle WHILE the lock is still held (so it was cancelled: without the
 * cancellation it would wait for the lock, or its 30 s statement timeout), and the row unchanged after the lock
 * is released. PGlite cannot interrupt a running statement (one in-process connection, statements run
 * synchronously in WASM): that part is PostgreSQL-only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { Cancellation, currentCancellation, RequestCancelledError, runWithCancellation, withoutCancellation } from '../../src/db/cancel.js';
import { buildServer } from '../../src/server/app.js';
import { cancelOnDisconnectFromEnv, registerCancelOnDisconnect } from '../../src/server/disconnect.js';
import { metrics } from '../../src/server/metrics.js';
import { NO_TELEMETRY } from '../../src/server/telemetry.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

/** Poll `probe` every 20 ms until it returns a value other than undefined/false; fail after `limitMs`. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, limitMs = 10_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The rejection of `p` (fails the test when it resolves). */
async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Sum of the samples of a metric whose labels include `labels`, from the process registry. */
async function sample(name: string, labels: Record<string, string>): Promise<number> {
  const text = await metrics.registry.metrics();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

type LogLine = { level: number; msg: string };

/** A pino destination collecting the JSON log lines. */
function logCollector(): { stream: Writable; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  return { stream, logs };
}

const DISCONNECT_LINE = 'client disconnected before the answer; cancelling its database work';

/** Start an HTTP request to 127.0.0.1:`port` and return it unfinished (its errors, the reset it gets, are expected). */
function startRequest(port: number, authorization: string, method: string, path: string, body?: unknown): http.ClientRequest {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const req = http.request({
    host: '127.0.0.1',
    port,
    method,
    path,
    headers: { authorization, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
  });
  req.on('error', () => undefined);
  req.end(payload);
  return req;
}

const cancelled = (): Cancellation => {
  const c = new Cancellation();
  c.cancel();
  return c;
};

describe('the cancellation scope of HTTP requests', () => {
  it('gives each request its own scope, never cancelled once answered; none when switched off', async () => {
    for (const enabled of [true, false]) {
      const app = Fastify();
      registerCancelOnDisconnect(app, enabled);
      const seen: Array<Cancellation | undefined> = [];
      app.get('/', async () => {
        await new Promise((r) => setImmediate(r)); // still in the scope after an await
        seen.push(currentCancellation());
        return 'ok';
      });
      expect((await app.inject('/')).body).toBe('ok');
      expect((await app.inject('/')).body).toBe('ok');
      await app.close();
      if (enabled) {
        expect(seen[0]).toBeInstanceOf(Cancellation);
        expect(seen[1]).not.toBe(seen[0]);
        expect(seen.map((c) => c?.cancelled)).toEqual([false, false]);
      } else {
        expect(seen).toEqual([undefined, undefined]);
      }
    }
  });

  it('reads LATTICE_CANCEL_ON_DISCONNECT strictly (on by default)', () => {
    expect(cancelOnDisconnectFromEnv(undefined)).toBe(true);
    expect(cancelOnDisconnectFromEnv('OFF')).toBe(false);
    expect(cancelOnDisconnectFromEnv('1')).toBe(true);
    expect(() => cancelOnDisconnectFromEnv('sometimes')).toThrow(/LATTICE_CANCEL_ON_DISCONNECT is "sometimes"/);
  });
});

describe.each(TEST_KINDS)('work of a disconnected request on %s', (kind) => {
  let t: TestDb;
  let A: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    A = await createProject(t.db, 'A');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('sends nothing for a request already gone: queryAs and withPrincipal reject with CLIENT_CLOSED_REQUEST', async () => {
    const editor = testPrincipal('editor', [A]);
    const before = t.db.stats.statements;
    let ran = false;
    const read = await rejectionOf(runWithCancellation(cancelled(), () => t.db.queryAs(editor, 'SELECT 1')));
    const write = await rejectionOf(
      runWithCancellation(cancelled(), () =>
        t.db.withPrincipal(editor, async () => {
          ran = true;
        }),
      ),
    );
    for (const err of [read, write]) {
      expect(err).toBeInstanceOf(RequestCancelledError);
      expect(err).toMatchObject({ code: 'CLIENT_CLOSED_REQUEST', status: 499, interrupted: false });
    }
    expect(ran).toBe(false);
    expect(t.db.stats.statements).toBe(before);
  });

  it('rolls back instead of committing when the client leaves between statements, and sends no further one', async () => {
    const editor = testPrincipal('editor', [A]);
    const cancellation = new Cancellation();
    let next: unknown;
    const err = await rejectionOf(
      runWithCancellation(cancellation, () =>
        t.db.withPrincipal(editor, async (tx) => {
          await tx.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'left-behind')`, [A]);
          cancellation.cancel();
          next = await rejectionOf(tx.query('SELECT 1'));
          return 'swallowed'; // a callback that ignores the cancellation still gets nothing committed
        }),
      ),
    );
    expect(err).toBeInstanceOf(RequestCancelledError);
    expect(next).toBeInstanceOf(RequestCancelledError);
    const { rows } = await t.db.query(`SELECT 1 FROM app.experiment WHERE name = 'left-behind'`);
    expect(rows).toEqual([]);
  });

  it('never cancels owner work, and background work started inside a request does not inherit its signal', async () => {
    const owner = await runWithCancellation(cancelled(), () => t.db.transaction((tx) => tx.query<{ n: number }>('SELECT 1 AS n')));
    expect(owner.rows).toEqual([{ n: 1 }]);
    const background = await runWithCancellation(cancelled(), () => withoutCancellation(() => t.db.queryAs(testPrincipal('viewer', [A]), 'SELECT 2 AS n')));
    expect(background.rows).toEqual([{ n: 2 }]);
  });

  // PGlite's one connection: a request queued behind other work whose client leaves never sends its statement.
  it.runIf(kind === 'pglite')('PGlite: a read queued behind other work is skipped when its client disconnects', async () => {
    const { stream, logs } = logCollector();
    const { app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false, telemetry: NO_TELEMETRY, logger: { level: 'debug', stream } });
    let release: () => void = () => undefined;
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      const auth = `Bearer ${(await createApiKey(t.db, { projectId: A, role: 'editor' })).secret_key}`;
      const skippedBefore = await sample('lattice_db_statement_duration_seconds_count', { via: 'query_as', outcome: 'cancelled' });
      const holding = new Promise<void>((held) => {
        // Holds the one connection: the request waits behind it (for its key look-up, then its read).
        void t.db.transaction(() => {
          held();
          return new Promise<void>((r) => (release = r));
        });
      });
      await holding;
      const req = startRequest(port, auth, 'GET', '/api/v1/experiments');
      await waitFor('the request to arrive', async () => logs.some((l) => l.msg === 'incoming request'));
      req.destroy();
      await waitFor('the server to see the disconnect', async () => logs.some((l) => l.msg === DISCONNECT_LINE));
      release();
      // Counted as cancelled: on PGlite that means its read was refused before it was sent.
      await waitFor('the request to end cancelled', async () =>
        (await sample('lattice_db_statement_duration_seconds_count', { via: 'query_as', outcome: 'cancelled' })) > skippedBefore,
      );
      expect(logs.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      release();
      await app.close();
    }
  });
});

/** Not on PGlite: a running statement cannot be interrupted there (see the file comment). */
describe.skipIf(!TEST_KINDS.includes('postgres'))('a running statement of a disconnected client on PostgreSQL (needs TEST_DATABASE_URL; PGlite cannot interrupt a statement)', () => {
  let t: TestDb;
  let app: FastifyInstance;
  let port: number;
  let A: string;
  let editorAuth: string;
  let observer: pg.Client;
  let blocker: pg.Client;
  let blockerPid: number;
  const { stream, logs } = logCollector();

  beforeAll(async () => {
    t = await createTestDb('postgres');
    A = await createProject(t.db, 'A');
    editorAuth = `Bearer ${(await createApiKey(t.db, { projectId: A, role: 'editor' })).secret_key}`;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false, telemetry: NO_TELEMETRY, logger: { level: 'debug', stream } }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    observer = new pg.Client({ connectionString: t.url });
    blocker = new pg.Client({ connectionString: t.url });
    await observer.connect();
    await blocker.connect();
    blockerPid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  });
  afterAll(async () => {
    await blocker?.end().catch(() => undefined);
    await observer?.end().catch(() => undefined);
    await app?.close();
    await t?.close();
  });

  const send = (method: string, path: string, body?: unknown) => startRequest(port, editorAuth, method, path, body);

  /** The backend of this database waiting for a lock (the request's), once there is one. */
  const waitingBackend = () =>
    waitFor('the request statement to wait for the lock', async () => {
      const { rows } = await observer.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
        [blockerPid],
      );
      return rows[0]?.pid;
    });

  /** Disconnect `req` while its statement waits; check the statement is cancelled while the lock is still held. */
  async function disconnectAndExpectCancelled(req: http.ClientRequest): Promise<void> {
    const pid = await waitingBackend();
    req.destroy();
    // Cancelled, and back in the pool clean: idle, no transaction left open (a write's is rolled back).
    await waitFor('the waiting statement to be cancelled and its connection to be idle', async () => {
      const { rows } = await observer.query<{ state: string | null; waiting: boolean }>(
        `SELECT state, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS waiting FROM pg_stat_activity a WHERE pid = $1`,
        [pid],
      );
      return rows[0] && !rows[0].waiting && rows[0].state === 'idle';
    });
    // The lock was never released: the statement left the wait because it was cancelled.
    const held = await observer.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [blockerPid]);
    expect(held.rows[0].state).toBe('idle in transaction');
  }

  const nameOf = async (id: string) => (await observer.query<{ name: string }>('SELECT name FROM app.experiment WHERE id = $1', [id])).rows[0]?.name;

  it.each([
    ['REST PATCH', (id: string) => send('PATCH', `/api/v1/experiments/${id}`, { name: 'written-after-disconnect' })],
    [
      'ingestion',
      (id: string) => send('POST', '/api/v1/ingest', { batch: [{ id: `evt-${id}`, type: 'experiment.update', body: { id, name: 'written-after-disconnect' } }] }),
    ],
  ])('%s: a write waiting for a row lock is cancelled, rolled back, and nothing is written', async (_name, start) => {
    const [row] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: A, name: `locked-${_name}` }]);
    const cancelledBefore = await sample('lattice_db_transaction_duration_seconds_count', { kind: 'principal', outcome: 'cancelled' });
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM app.experiment WHERE id = $1 FOR UPDATE', [row.id]);
    try {
      await disconnectAndExpectCancelled(start(row.id));
    } finally {
      await blocker.query('ROLLBACK');
    }
    expect(await nameOf(row.id)).toBe(`locked-${_name}`);
    await waitFor('the cancellation to be counted', async () =>
      (await sample('lattice_db_transaction_duration_seconds_count', { kind: 'principal', outcome: 'cancelled' })) > cancelledBefore,
    );
    // The connection pool still serves requests.
    const after = await app.inject({ method: 'GET', url: `/api/v1/experiments/${row.id}`, headers: { authorization: editorAuth } });
    expect(after.statusCode).toBe(200);
    expect(after.json().name).toBe(`locked-${_name}`);
  });

  it.each([
    ['GraphQL query', () => send('POST', '/graphql', { query: '{ experiments { id name } }' })],
    ['REST list', () => send('GET', '/api/v1/experiments')],
  ])('%s: a read waiting for a table lock is cancelled on the server', async (_name, start) => {
    const cancelledBefore = await sample('lattice_db_statement_duration_seconds_count', { via: 'query_as', outcome: 'cancelled' });
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE app.experiment IN ACCESS EXCLUSIVE MODE');
    try {
      await disconnectAndExpectCancelled(start());
    } finally {
      await blocker.query('ROLLBACK');
    }
    await waitFor('the cancellation to be counted', async () =>
      (await sample('lattice_db_statement_duration_seconds_count', { via: 'query_as', outcome: 'cancelled' })) > cancelledBefore,
    );
    const after = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: editorAuth }, payload: { query: '{ experiments { id } }' } });
    expect(after.statusCode).toBe(200);
  });

  it('logs one debug line per disconnect and no error', () => {
    expect(logs.filter((l) => l.msg === DISCONNECT_LINE)).toHaveLength(4);
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('cancels at the Db level too: the statement fails as interrupted, with the server 57014 as its cause', async () => {
    const [row] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: A, name: 'db-level' }]);
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM app.experiment WHERE id = $1 FOR UPDATE', [row.id]);
    const cancellation = new Cancellation();
    let err: unknown;
    try {
      const pending = rejectionOf(
        runWithCancellation(cancellation, () =>
          t.db.withPrincipal(testPrincipal('editor', [A]), (tx) => tx.query(`UPDATE app.experiment SET name = 'changed' WHERE id = $1`, [row.id])),
        ),
      );
      const pid = await waitingBackend();
      cancellation.cancel();
      await waitFor('the statement to be cancelled and its transaction rolled back', async () => {
        const { rows } = await observer.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
        return rows[0]?.state === 'idle';
      });
      err = await pending;
      const held = await observer.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [blockerPid]);
      expect(held.rows[0].state).toBe('idle in transaction');
    } finally {
      await blocker.query('ROLLBACK');
    }
    expect(err).toBeInstanceOf(RequestCancelledError);
    expect(err).toMatchObject({ interrupted: true, cause: { code: '57014' } });
    expect(await nameOf(row.id)).toBe('db-level');
  });
});
