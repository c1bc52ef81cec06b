/**
 * While the database cannot be reached, requests answer 503 `DATABASE_UNAVAILABLE` with `Retry-After` (REST
 * reads, ingestion, GraphQL, authentication) and `/api/health` reports it; once it is back, requests succeed again (issue 8 item
 * 7). On every test database through a Db that fails like a lost database; on PostgreSQL also for real, through
 * a TCP proxy that is stopped and started again in front of the server.
 */
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable, userErrorFromFailure } from '../../src/errors.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('recognises lost connections, servers going away and pool timeouts, and nothing else', () => {
    const yes: unknown[] = [
      coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      coded('ECONNRESET'),
      coded('ENOTFOUND'),
      coded('57P01', 'terminating connection due to administrator command'),
      coded('57P02'),
      coded('57P03', 'the database system is starting up'),
      coded('53300', 'sorry, too many clients already'),
      coded('08006'),
      coded('08001'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout'),
      new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], 'connect failed'),
      new Error('wrapped', { cause: coded('ECONNREFUSED') }),
    ];
    const no: unknown[] = [coded('23505'), coded('57014'), coded('42P01'), coded('22P02'), new Error('Connection terminated by the test'), new Error('x'), null, 'ECONNREFUSED'];
    for (const e of yes) expect(isDatabaseUnavailable(e), String((e as Error).message)).toBe(true);
    for (const e of no) expect(isDatabaseUnavailable(e), String(e)).toBe(false);
    const mapped = userErrorFromFailure(coded('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:5432'));
    expect(mapped?.code).toBe('DATABASE_UNAVAILABLE');
    expect(mapped?.status).toBe(503);
    expect(mapped?.message).not.toContain('10.0.0.5');
  });
});

/** A Db that delegates to `db` until `fail(err)`, then throws `err` from every call (as a lost database does). */
function switchable(db: Db): { db: Db; fail(err: Error | null): void } {
  let failure: Error | null = null;
  const check = () => {
    if (failure) throw failure;
  };
  const wrapped: Db = {
    kind: db.kind,
    get stats() {
      return db.stats;
    },
    query: async (text, params) => (check(), db.query(text, params)),
    transaction: async (fn) => (check(), db.transaction(fn)),
    withPrincipal: async (principal, fn) => (check(), db.withPrincipal(principal, fn)),
    queryAs: async (principal, text, params) => (check(), db.queryAs(principal, text, params)),
    listen: (channel, handler) => db.listen(channel, handler),
    close: async () => undefined,
  };
  return { db: wrapped, fail: (err) => (failure = err) };
}

/** What the three kinds of routes answer now. */
async function answers(app: FastifyInstance, auth: string) {
  const rest = await app.inject({ method: 'GET', url: '/api/v1/experiments', headers: { authorization: auth } });
  const gql = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: auth }, payload: { query: '{ experiments { name } }' } });
  const health = await app.inject({ method: 'GET', url: '/api/health' });
  const ingest = await app.inject({
    method: 'POST',
    url: '/api/v1/ingest',
    headers: { authorization: auth },
    payload: { batch: [{ id: `e-${++events}`, type: 'experiment.create', body: { name: `e-${events}` } }] },
  });
  return { rest, gql, health, ingest };
}
let events = 0;

/** Assert the 503 answers (no driver text anywhere). */
function expectUnavailable({ rest, gql, health, ingest }: Awaited<ReturnType<typeof answers>>): void {
  for (const res of [rest, gql, health, ingest]) {
    expect(res.statusCode, res.body).toBe(503);
    expect(res.headers['retry-after']).toBe(String(DATABASE_RETRY_AFTER_SECONDS));
    expect(res.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|terminat|administrator/i);
  }
  expect(rest.json()).toMatchObject({ error: { code: 'DATABASE_UNAVAILABLE', message: expect.stringContaining('retry in') }, request_id: expect.any(String) });
  expect(gql.json().errors[0].extensions.code).toBe('DATABASE_UNAVAILABLE');
  expect(health.json()).toMatchObject({ status: 'unavailable', database: 'unreachable', code: 'DATABASE_UNAVAILABLE' });
  expect(ingest.json().error.code).toBe('DATABASE_UNAVAILABLE');
}

describe.each(TEST_KINDS)('database unavailable on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let sw: ReturnType<typeof switchable>;
  let auth: string;
  let project: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    sw = switchable(t.db);
    ({ app } = await buildServer({ db: sw.db, model: t.model, followModelChanges: false }));
    project = await createProject(t.db, 'p');
    auth = `Bearer ${(await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key}`;
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After on every route while connections fail, then recovers', async () => {
    const up = await answers(app, auth);
    expect([up.rest.statusCode, up.gql.statusCode, up.health.statusCode, up.ingest.statusCode]).toEqual([200, 200, 200, 207]);
    for (const err of [coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), coded('57P01', 'terminating connection due to administrator command')]) {
      sw.fail(err);
      expectUnavailable(await answers(app, auth));
      // Authentication needs the database too (a key not seen before): the same answer, not 401 or 500.
      const fresh = `Bearer ${(await createApiKey(t.db, { projectId: project, role: 'viewer' })).secret_key}`;
      const res = await app.inject({ method: 'GET', url: '/api/v1/experiments', headers: { authorization: fresh } });
      expect([res.statusCode, res.json().error.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
      // A GraphQL client asking for the GraphQL media type gets the same 503.
      const gql = await app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { authorization: auth, accept: 'application/graphql-response+json' },
        payload: { query: '{ experiments { name } }' },
      });
      expect([gql.statusCode, gql.headers['retry-after']]).toEqual([503, String(DATABASE_RETRY_AFTER_SECONDS)]);
      sw.fail(null);
      const back = await answers(app, auth);
      expect([back.rest.statusCode, back.gql.statusCode, back.health.statusCode, back.ingest.statusCode]).toEqual([200, 200, 200, 207]);
    }
  });
});

/** A TCP proxy to `target` that can stop (refusing connections, cutting open ones) and start again on its port. */
async function tcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const stop = async () => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await start();
  return { port: () => port, start, stop };
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('PostgreSQL unreachable (postgres)', () => {
  let t: TestDb;
  let db: Db;
  let app: FastifyInstance;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let auth: string;

  beforeAll(async () => {
    t = await createTestDb('postgres');
    const url = new URL(t.url!);
    proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port());
    db = await openPostgres({ connectionString: url.toString(), max: 2 });
    ({ app } = await buildServer({ db, model: t.model, followModelChanges: false }));
    const project = await createProject(t.db, 'p');
    auth = `Bearer ${(await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key}`;
  });
  afterAll(async () => {
    await app?.close();
    await proxy?.stop();
    await db?.close().catch(() => undefined);
    await t?.close();
  });

  it('answers 503 while the server is unreachable (connections cut, then refused) and recovers by itself', async () => {
    const up = await answers(app, auth);
    expect([up.rest.statusCode, up.gql.statusCode, up.health.statusCode, up.ingest.statusCode]).toEqual([200, 200, 200, 207]);
    await proxy.stop();
    expectUnavailable(await answers(app, auth));
    await proxy.start();
    // The pool reconnects on its own; poll until the first success (no timing asserted).
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await app.inject({ method: 'GET', url: '/api/v1/experiments', headers: { authorization: auth } })).statusCode;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    const back = await answers(app, auth);
    expect([back.rest.statusCode, back.gql.statusCode, back.health.statusCode, back.ingest.statusCode]).toEqual([200, 200, 200, 207]);
  });
});
