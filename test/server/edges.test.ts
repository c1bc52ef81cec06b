/**
 * Malformed and hostile requests over real sockets (issue 8 item 7): every answer is a 4xx in Lattice's error
 * shape — an oversized body gets its 413 before the connection closes (with `fetch`, which sends the whole body
 * before reading), Fastify's bad-URL and long-parameter answers and Node's header-size answer are reshaped,
 * non-JSON bodies get 415, a `__proto__` key inside a JSON field is stored as data, and an admin write naming a
 * project that does not exist says so.
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const errorShape = { error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) }, request_id: expect.any(String) };

/** A raw request with `node:http` (no retries, no fetch niceties). */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; chunked?: boolean },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (options.body === undefined) req.end();
    else if (options.chunked) {
      // Several writes without Content-Length: Transfer-Encoding chunked.
      const body = Buffer.from(options.body);
      const step = 1024 * 1024;
      for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      req.end();
    } else req.end(options.body);
  });
}

describe.each(TEST_KINDS)('HTTP edges on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let base: string;
  let admin: string;
  let project: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    base = `http://127.0.0.1:${addr.port}`;
    admin = `Bearer ${(await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key}`;
    project = await createProject(t.db, 'edges');
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('answers a 20 MB body with 413 in the error shape before closing, also to clients that send it all first', async () => {
    const body = JSON.stringify({ query: `{ __typename } #${'x'.repeat(20 * 1024 * 1024)}` });
    const headers = { authorization: admin, 'content-type': 'application/json' };
    const viaFetch = await fetch(`${base}/api/v1/projects`, { method: 'POST', headers, body });
    expect(viaFetch.status).toBe(413);
    expect(await viaFetch.json()).toEqual(errorShape);
    const gql = await fetch(`${base}/graphql`, { method: 'POST', headers, body });
    expect(gql.status).toBe(413);
    expect(((await gql.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    // Same with node:http, with a Content-Length and chunked.
    for (const chunked of [false, true]) {
      const res = await raw(`${base}/api/v1/projects`, { method: 'POST', headers, body, chunked });
      expect(res.status, `chunked ${chunked}`).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('10 MiB') } });
    }
    // A chunked body within the limit still arrives whole.
    const fine = await raw(`${base}/api/v1/projects`, { method: 'POST', headers, body: JSON.stringify({ name: 'chunked' }), chunked: true });
    expect(fine.status).toBe(201);
  });

  it("answers Fastify's bad-URL and long-parameter errors and Node's header overflow in the error shape", async () => {
    const badUrl = await raw(`${base}/api/v1/experiments/%E0%A4%A`, { headers: { authorization: admin } });
    expect(badUrl.status).toBe(400);
    expect(JSON.parse(badUrl.body)).toMatchObject({ error: { code: 'BAD_USER_INPUT', message: expect.stringContaining('not valid percent-encoding') } });
    expect(badUrl.headers['x-request-id']).toBe(JSON.parse(badUrl.body).request_id);

    const long = await raw(`${base}/api/v1/experiments/${'a'.repeat(300)}`, { headers: { authorization: admin } });
    expect(long.status).toBe(414);
    expect(JSON.parse(long.body)).toEqual(errorShape);

    const big = await raw(`${base}/api/health`, { headers: { 'x-big': 'a'.repeat(20_000) } });
    expect(big.status).toBe(431);
    expect(big.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(big.body)).toMatchObject({ error: { code: 'BAD_USER_INPUT', message: expect.stringMatching(/headers are larger than the server accepts/) } });

    // The server is fine afterwards.
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
  });

  it('answers bodies that are not JSON with 415 (REST and GraphQL)', async () => {
    for (const [contentType, payload] of [['text/plain', '{"name":"x"}'], ['application/x-www-form-urlencoded', 'name=x']]) {
      const rest = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: { authorization: admin, 'content-type': contentType }, payload });
      expect(rest.statusCode, contentType).toBe(415);
      expect(rest.json()).toEqual(errorShape);
      expect(rest.json().error.message).toContain(`"${contentType}"`);
    }
    const gql = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: admin, 'content-type': 'text/plain' }, payload: '{"query":"{ __typename }"}' });
    expect(gql.statusCode).toBe(415);
    expect(gql.json().errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('application/json') });
  });

  it('stores a "__proto__" (or "constructor") key inside a JSON field as data, through REST, ingestion and GraphQL', async () => {
    const meta = JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"ok":true}') as Record<string, unknown>;
    const headers = { authorization: admin, 'content-type': 'application/json' };
    const created = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers, payload: JSON.stringify({ name: 'proto', project_id: project, meta }) });
    expect(created.statusCode, created.body).toBe(201);
    const ingest = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers,
      payload: JSON.stringify({ batch: [{ id: 'p', type: 'experiment.create', body: { name: 'proto-ingest', project_id: project, meta } }] }),
    });
    expect(ingest.statusCode).toBe(207);
    expect(ingest.json().errors).toEqual([]);
    const mutation = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers,
      payload: JSON.stringify({
        query: 'mutation($m: JSON) { create_experiment(input: { name: "proto-gql", project_id: "' + project + '", meta: $m }) { id } }',
        variables: { m: meta },
      }),
    });
    expect(mutation.json().errors, mutation.body).toBeUndefined();

    const { rows } = await t.db.query<{ name: string; meta: string }>(`SELECT name, meta::text AS meta FROM app.experiment WHERE name LIKE 'proto%' ORDER BY name`);
    expect(rows.map((r) => r.name)).toEqual(['proto', 'proto-gql', 'proto-ingest']);
    for (const r of rows) {
      const stored = JSON.parse(r.meta) as Record<string, unknown>;
      expect(Object.keys(stored).sort(), r.name).toEqual(['__proto__', 'constructor', 'ok']);
      expect(Object.getOwnPropertyDescriptor(stored, '__proto__')?.value).toEqual({ polluted: 1 });
    }
    // Nothing leaked into prototypes.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The top level of a body is still checked: "__proto__" is not a field.
    const top = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers, payload: `{"name":"x","project_id":"${project}","__proto__":{"a":1}}` });
    expect(top.statusCode).toBe(400);
    expect(top.json().error.details).toEqual([{ path: 'body.__proto__', message: 'unknown field; remove it' }]);
  });

  it('names a project that does not exist in admin writes (404)', async () => {
    const missing = '01a23000-0000-7000-8000-000000000000';
    const headers = { authorization: admin, 'content-type': 'application/json' };
    const create = await app.inject({ method: 'POST', url: `/api/v1/projects/${missing}/keys`, headers, payload: { role: 'editor' } });
    const revoke = await app.inject({ method: 'DELETE', url: `/api/v1/projects/${missing}/keys/${missing}`, headers: { authorization: admin } });
    for (const res of [create, revoke]) {
      expect(res.statusCode).toBe(404);
      expect(res.json().error).toMatchObject({ code: 'NOT_FOUND', message: `Project ${missing} does not exist.` });
    }
    // An existing project without that key keeps the key-specific message.
    const noKey = await app.inject({ method: 'DELETE', url: `/api/v1/projects/${project}/keys/${missing}`, headers: { authorization: admin } });
    expect(noKey.json().error.message).toBe(`Project ${project} has no API key ${missing}.`);
  });
});
