/**
 * Persisted documents (SPEC G-13, issue 8 item 6): automatic persisted queries as Apollo clients speak them
 * (hash-only miss → 200 PERSISTED_QUERY_NOT_FOUND, retry with the query, then hash-only hits, also over GET),
 * and trusted-documents mode (only allow-listed documents run, over HTTP and the WebSocket transport), with the
 * allow-list file checked at start. Real servers (`buildServer`) with API keys on every test database.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { LatticeError } from '../../src/errors.js';
import { loadTrustedDocuments, PersistedDocuments, persistedDocumentsFromEnv, sha256Hex, TRUSTED_DOCUMENTS_ENV } from '../../src/graphql/persisted.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';
import { subscribeWs, waitForSubscribers, wsClient, type Served } from './live-support.js';

const EXPERIMENTS = 'query Names { experiments(order_by: { name: ASC }) { name } }';
const BY_NAME = 'query ByName($n: String!) { experiments(filter: { name: { eq: $n } }) { name } }';
const SUBSCRIPTION = 'subscription Events { experiment_events { op } }';
const GQL = 'application/graphql-response+json';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lattice-persisted-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Write `content` (JSON unless a string) to a new file in the test directory. */
async function file(name: string, content: unknown): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

/** The LatticeError `fn` throws. */
function thrown(fn: () => unknown): LatticeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LatticeError);
    return err as LatticeError;
  }
  throw new Error('expected a LatticeError');
}

describe('trusted-documents files', () => {
  it('reads plain maps (sha256, sha256:-prefixed and opaque ids) and Apollo manifests', async () => {
    const plain = loadTrustedDocuments(
      await file('plain.json', { [sha256Hex(EXPERIMENTS)]: EXPERIMENTS, [`sha256:${sha256Hex(BY_NAME)}`]: BY_NAME, '0cc175b9c0f1b6a831c399e269772661': SUBSCRIPTION }),
    );
    expect(plain.byId.get(sha256Hex(EXPERIMENTS))).toBe(EXPERIMENTS);
    expect(plain.byId.get(sha256Hex(BY_NAME))).toBe(BY_NAME);
    expect(plain.byId.get('0cc175b9c0f1b6a831c399e269772661')).toBe(SUBSCRIPTION);
    expect([...plain.bySha256.keys()].sort()).toEqual([EXPERIMENTS, BY_NAME, SUBSCRIPTION].map(sha256Hex).sort());

    const manifest = loadTrustedDocuments(
      await file('manifest.json', {
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id: sha256Hex(EXPERIMENTS), name: 'Names', type: 'query', body: EXPERIMENTS }],
      }),
    );
    expect(manifest.byId.get(sha256Hex(EXPERIMENTS))).toBe(EXPERIMENTS);
  });

  it('refuses a bad file at start with a message naming the variable, the file and the problem', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['not-json.json', '{ nope', /is not JSON/],
      ['array.json', [EXPERIMENTS], /must be a JSON object mapping document hashes/],
      ['empty.json', {}, /lists no documents/],
      ['number.json', { a: 5 }, /document "a" is not a non-empty string/],
      ['syntax.json', { a: '{ experiments { ' }, /document "a" is not valid GraphQL: Syntax Error/],
      ['mismatch.json', { [sha256Hex('{ other }')]: EXPERIMENTS }, new RegExp(`looks like a SHA-256 but the SHA-256 of its document is ${sha256Hex(EXPERIMENTS)}`)],
      ['manifest-bad.json', { format: 'apollo-persisted-query-manifest', version: 2, operations: [] }, /"version": 1/],
    ];
    for (const [name, content, problem] of cases) {
      const p = await file(name, content);
      const err = thrown(() => loadTrustedDocuments(p));
      expect(err.code, name).toBe('BAD_USER_INPUT');
      expect(err.message, name).toContain(`${TRUSTED_DOCUMENTS_ENV}=${p}: `);
      expect(err.message, name).toMatch(problem);
    }
    const missing = path.join(dir, 'missing.json');
    expect(thrown(() => persistedDocumentsFromEnv({ [TRUSTED_DOCUMENTS_ENV]: missing })).message).toMatch(/cannot read the file \(ENOENT\)/);
    expect(persistedDocumentsFromEnv({}).trusted).toBeNull();
  });

  it('keeps the APQ store bounded (least recently used documents leave first)', () => {
    const docs = ['{ a }', '{ b }', '{ c }'];
    const store = new PersistedDocuments({ apqMaxEntries: 2 });
    for (const d of docs) store.register(sha256Hex(d), d);
    expect(store.storedCount).toBe(2);
    const ask = (d: string) => store.resolve({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(d) } } }).kind;
    expect(docs.map(ask)).toEqual(['not-found', 'document', 'document']);
    // By total size too: a document larger than the store is not kept.
    const small = new PersistedDocuments({ apqMaxChars: 10 });
    small.register(sha256Hex('{ experiments { id } }'), '{ experiments { id } }');
    expect(small.storedCount).toBe(0);
  });
});

describe.each(TEST_KINDS)('persisted documents on %s', (kind) => {
  let t: TestDb;
  let auth: string;
  const servers: FastifyInstance[] = [];

  beforeAll(async () => {
    t = await createTestDb(kind);
    const project = await createProject(t.db, 'persisted');
    await insertRows(t.db, 'experiment', [
      { project_id: project, name: 'alpha' },
      { project_id: project, name: 'beta' },
    ]);
    auth = `Bearer ${(await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key}`;
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await t?.close();
  });

  async function server(persisted?: PersistedDocuments): Promise<FastifyInstance> {
    const { app } = await buildServer({ db: t.db, model: t.model, persisted });
    servers.push(app);
    return app;
  }
  const post = (app: FastifyInstance, payload: object, accept?: string) =>
    app.inject({ method: 'POST', url: '/graphql', headers: { authorization: auth, ...(accept ? { accept } : {}) }, payload });
  const get = (app: FastifyInstance, params: Record<string, string>) =>
    app.inject({ method: 'GET', url: `/graphql?${new URLSearchParams(params)}`, headers: { authorization: auth } });
  const apq = (query: string) => ({ persistedQuery: { version: 1, sha256Hash: sha256Hex(query) } });
  const names = { data: { experiments: [{ name: 'alpha' }, { name: 'beta' }] } };

  describe('automatic persisted queries', () => {
    it('answers a hash-only miss the way Apollo clients expect, stores the full query, then serves the hash (POST and GET)', async () => {
      const app = await server();
      for (const accept of [undefined, GQL]) {
        const miss = await post(app, { extensions: apq(`${EXPERIMENTS} # ${accept}`) }, accept);
        expect(miss.statusCode).toBe(200);
        expect(miss.headers['cache-control']).toBe('private, no-cache, must-revalidate');
        expect(miss.json()).toEqual({
          errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', hint: expect.stringContaining('send the request again with the full "query"') } }],
        });
      }
      // A GET miss is not cacheable either.
      const getMiss = await get(app, { extensions: JSON.stringify(apq(EXPERIMENTS)) });
      expect([getMiss.statusCode, getMiss.json().errors[0].extensions.code, getMiss.headers['cache-control']]).toEqual([200, 'PERSISTED_QUERY_NOT_FOUND', 'private, no-cache, must-revalidate']);

      // The client's retry: the full query with the same extension; stored.
      const retry = await post(app, { query: EXPERIMENTS, extensions: apq(EXPERIMENTS) });
      expect([retry.statusCode, retry.json()]).toEqual([200, names]);
      const hit = await post(app, { extensions: apq(EXPERIMENTS), operationName: 'Names' });
      expect([hit.statusCode, hit.json()]).toEqual([200, names]);
      // GET with the extension as URL-encoded JSON: a short URL a CDN can cache.
      const viaGet = await get(app, { extensions: JSON.stringify(apq(EXPERIMENTS)) });
      expect([viaGet.statusCode, viaGet.json()]).toEqual([200, names]);
      // Variables travel with the hash.
      await post(app, { query: BY_NAME, variables: { n: 'beta' }, extensions: apq(BY_NAME) });
      const withVars = await get(app, { extensions: JSON.stringify(apq(BY_NAME)), variables: JSON.stringify({ n: 'alpha' }) });
      expect(withVars.json()).toEqual({ data: { experiments: [{ name: 'alpha' }] } });
      // GraphQL-over-HTTP documentId names a stored document too.
      const byId = await post(app, { documentId: `sha256:${sha256Hex(EXPERIMENTS)}` });
      expect([byId.statusCode, byId.json()]).toEqual([200, names]);
      const unknownId = await post(app, { documentId: `sha256:${'0'.repeat(64)}` });
      expect([unknownId.statusCode, unknownId.json().errors[0].extensions.code]).toEqual([404, 'UNKNOWN_DOCUMENT']);
      expect(unknownId.json().errors[0].message).toMatch(/send the full "query"/);
    });

    it('refuses a hash that is not the query\'s SHA-256 (400) and stores nothing for it, nor for invalid documents', async () => {
      const app = await server();
      const wrong = sha256Hex('{ something else }');
      const res = await post(app, { query: EXPERIMENTS, extensions: { persistedQuery: { version: 1, sha256Hash: wrong } } });
      expect(res.statusCode).toBe(400);
      expect(res.json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(res.json().errors[0].message).toContain(`is not the SHA-256 of "query" (${sha256Hex(EXPERIMENTS)})`);
      expect((await post(app, { extensions: { persistedQuery: { version: 1, sha256Hash: wrong } } })).json().errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

      const invalid = '{ experiments { nope } }';
      expect((await post(app, { query: invalid, extensions: apq(invalid) }, GQL)).statusCode).toBe(400);
      expect((await post(app, { extensions: apq(invalid) })).json().errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

      for (const [persistedQuery, problem] of [
        [{ version: 2, sha256Hash: sha256Hex(EXPERIMENTS) }, /version 2 is not supported; use version 1/],
        [{ version: 1, sha256Hash: 'abc' }, /64 hex digits/],
        ['x', /must be an object/],
      ] as const) {
        const bad = await post(app, { query: EXPERIMENTS, extensions: { persistedQuery } });
        expect(bad.statusCode, String(problem)).toBe(400);
        expect(bad.json().errors[0].message).toMatch(problem);
      }
      expect((await post(app, { query: EXPERIMENTS, documentId: `sha256:${sha256Hex(EXPERIMENTS)}` })).json().errors[0].message).toMatch(/either "documentId" or "query"/);
    });
  });

  describe('trusted documents', () => {
    let app: FastifyInstance;
    let listFile: string;

    beforeAll(async () => {
      listFile = await file(`trusted-${kind}.json`, {
        [sha256Hex(EXPERIMENTS)]: EXPERIMENTS,
        [`sha256:${sha256Hex(BY_NAME)}`]: BY_NAME,
        [sha256Hex(SUBSCRIPTION)]: SUBSCRIPTION,
        'relay-md5-0cc175b9c0f1b6a8': '{ __typename }',
      });
      // Configured as in production: through the environment.
      process.env[TRUSTED_DOCUMENTS_ENV] = listFile;
      try {
        app = await server();
      } finally {
        delete process.env[TRUSTED_DOCUMENTS_ENV];
      }
    });

    it('runs listed documents named by documentId, APQ hash or their own text', async () => {
      expect((await post(app, { documentId: `sha256:${sha256Hex(EXPERIMENTS)}` })).json()).toEqual(names);
      expect((await post(app, { documentId: sha256Hex(EXPERIMENTS) })).json()).toEqual(names);
      expect((await post(app, { documentId: 'relay-md5-0cc175b9c0f1b6a8' })).json()).toEqual({ data: { __typename: 'Query' } });
      expect((await get(app, { documentId: `sha256:${sha256Hex(BY_NAME)}`, variables: JSON.stringify({ n: 'beta' }) })).json()).toEqual({
        data: { experiments: [{ name: 'beta' }] },
      });
      expect((await get(app, { extensions: JSON.stringify(apq(EXPERIMENTS)) })).json()).toEqual(names);
      expect((await post(app, { query: EXPERIMENTS })).json()).toEqual(names);
      expect((await post(app, { query: EXPERIMENTS, extensions: apq(EXPERIMENTS) })).json()).toEqual(names);
    });

    it('refuses everything else with a code and a message that says what to do', async () => {
      const free = await post(app, { query: '{ experiments { name } }' });
      expect(free.statusCode).toBe(403);
      expect(free.json().errors[0].extensions.code).toBe('PERSISTED_QUERY_REQUIRED');
      expect(free.json().errors[0].message).toContain(`runs only trusted documents (${listFile})`);
      // Also when sent the APQ way (and nothing is stored: the hash stays unknown).
      const unlisted = '{ experiments { id } }';
      expect((await post(app, { query: unlisted, extensions: apq(unlisted) })).json().errors[0].extensions.code).toBe('PERSISTED_QUERY_REQUIRED');
      const hashOnly = await post(app, { extensions: apq(unlisted) });
      expect([hashOnly.statusCode, hashOnly.json().errors[0].extensions.code]).toEqual([404, 'UNKNOWN_DOCUMENT']);
      const unknownId = await post(app, { documentId: `sha256:${'1'.repeat(64)}` });
      expect([unknownId.statusCode, unknownId.json().errors[0].extensions.code]).toEqual([404, 'UNKNOWN_DOCUMENT']);
      expect(unknownId.json().errors[0].message).toMatch(/regenerate the client's persisted documents/);
      // Introspection is a document like any other.
      expect((await get(app, { query: '{ __schema { queryType { name } } }' })).json().errors[0].extensions.code).toBe('PERSISTED_QUERY_REQUIRED');
      expect((await post(app, {})).statusCode).toBe(400);
    });

    it('applies to subscriptions over the WebSocket transport', async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const addr = app.server.address();
      if (!addr || typeof addr === 'string') throw new Error('no address');
      const s: Served = { app, base: `127.0.0.1:${addr.port}` };
      const client = wsClient(s, auth);
      try {
        const refused = subscribeWs(client, 'subscription { experiment_events { id } }');
        await refused.finished;
        expect(JSON.stringify(refused.errors[0])).toContain('PERSISTED_QUERY_REQUIRED');
        const listed = subscribeWs(client, SUBSCRIPTION);
        await waitForSubscribers(s, 1);
        expect(listed.errors).toEqual([]);
        listed.dispose();
      } finally {
        await client.dispose();
      }
    });
  });
});
