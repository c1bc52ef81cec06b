/**
 * Trusted proxy headers (SPEC A-2, seed 001; issue 8 item 2) through real servers on every test database:
 * identity headers are believed only with the proxy secret, refused with 401 otherwise (also when proxy headers
 * are not enabled), build principals as strong as an API key's (row-level security, write rules), and
 * authenticate subscriptions from the WebSocket upgrade request and SSE requests.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { readProxyConfig } from '../../src/auth/proxy.js';
import { liveHubOf } from '../../src/live/transports.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { subscribeWs, waitFor, waitForSubscribers, type Served } from '../graphql/live-support.js';
import { appWithEnv, expectConfigError, expectRefused, insertExperiment, seedTwoProjects, serveWithEnv, subscribeSseWith, visible, wsClientWith } from './support.js';

const SECRET = randomBytes(32).toString('hex');

/** Expect a readProxyConfig failure whose message matches. */
function configFails(env: Record<string, string>, message: RegExp): void {
  expectConfigError(() => readProxyConfig(env), message);
}

describe('proxy configuration (LATTICE_PROXY_*)', () => {
  it('is off without a secret and refuses weak or ambiguous settings', () => {
    expect(readProxyConfig({})).toBeNull();
    expect(readProxyConfig({ LATTICE_PROXY_SECRET: SECRET })?.secretHeader).toBe('X-Lattice-Proxy-Secret');
    expect(readProxyConfig({ LATTICE_PROXY_SECRET: SECRET })).not.toHaveProperty('secret');
    configFails({ LATTICE_PROXY_SECRET: 'hunter2' }, /LATTICE_PROXY_SECRET has 7 characters; use at least 32/);
    configFails({ LATTICE_PROXY_SECRET_HEADER: 'X-Gateway-Secret' }, /LATTICE_PROXY_SECRET_HEADER is set but LATTICE_PROXY_SECRET is not/);
    configFails({ LATTICE_PROXY_SECRET: SECRET, LATTICE_PROXY_SECRET_HEADER: 'X-Lattice-Role' }, /must be a header name .* other than Authorization and the identity headers/);
    configFails({ LATTICE_PROXY_SECRET: SECRET, LATTICE_PROXY_SECRET_HEADER: 'bad header' }, /must be a header name/);
  });
});

describe.each(TEST_KINDS)('trusted proxy headers on %s', (kind) => {
  let t: TestDb;
  let A: string;
  let B: string;
  let proxy: FastifyInstance;
  let custom: FastifyInstance;
  let disabled: FastifyInstance;
  const as = (role: string, projects: string, extra: Record<string, string> = {}) => ({
    'x-lattice-proxy-secret': SECRET,
    'x-lattice-user-id': 'user-7',
    'x-lattice-role': role,
    'x-lattice-project-ids': projects,
    ...extra,
  });

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ A, B } = await seedTwoProjects(t));
    proxy = await appWithEnv(t, { LATTICE_PROXY_SECRET: SECRET });
    custom = await appWithEnv(t, { LATTICE_PROXY_SECRET: SECRET, LATTICE_PROXY_SECRET_HEADER: 'X-Gateway-Secret' });
    disabled = await appWithEnv(t, {});
  });
  afterAll(async () => {
    for (const a of [proxy, custom, disabled]) await a?.close();
    await t?.close();
  });

  it('a proxy identity of project A reads only A over GraphQL and REST and writes into A; admin sees all', async () => {
    expect(await visible(proxy, as('editor', A))).toEqual({ graphql: ['a-visible'], rest: ['a-visible'], bById: 404 });
    const created = await proxy.inject({ method: 'POST', url: '/api/v1/experiments', headers: as('editor', A), payload: { name: 'via-proxy' } });
    expect(created.statusCode, created.body).toBe(201);
    const { rows } = await t.db.query<{ project_id: string }>('SELECT project_id::text AS project_id FROM app.experiment WHERE id = $1', [created.json().id]);
    expect(rows).toEqual([{ project_id: A }]);
    const viewer = await proxy.inject({ method: 'POST', url: '/api/v1/experiments', headers: as('viewer', A), payload: { name: 'x' } });
    expect(viewer.statusCode).toBe(403);
    // Several projects (comma-separated, spaces and case tolerated): reads span them.
    expect((await visible(proxy, as('viewer', ` ${A} ,${B.toUpperCase()}`))).graphql).toEqual(['a-visible', 'b-secret']);
    expect((await visible(proxy, as('admin', ''))).graphql).toEqual(['a-visible', 'b-secret']);
  });

  it('refuses identity headers without the secret, with a wrong one, or with no proxy configured (401, never trusted)', async () => {
    const { 'x-lattice-proxy-secret': _s, ...noSecret } = as('admin', '');
    await expectRefused(proxy, noSecret, 401, /accepted only from the trusted proxy, with the header X-Lattice-Proxy-Secret; it is missing/);
    await expectRefused(proxy, as('admin', '', { 'x-lattice-proxy-secret': `${SECRET.slice(0, -1)}${SECRET.endsWith('0') ? '1' : '0'}` }), 401, /the header X-Lattice-Proxy-Secret is wrong/, [SECRET]);
    await expectRefused(proxy, as('admin', '', { 'x-lattice-proxy-secret': 'short' }), 401, /is wrong/);
    // A single identity header is enough to require the secret.
    await expectRefused(proxy, { 'x-lattice-role': 'admin' }, 401, /it is missing/);
    // The default header name does not carry the secret on a server configured with another one.
    await expectRefused(custom, as('admin', ''), 401, /with the header X-Gateway-Secret; it is missing/);
    expect((await visible(custom, as('viewer', B, { 'x-gateway-secret': SECRET }))).graphql).toEqual(['b-secret']);
    // Not enabled: refused even with the right-looking secret, and even next to a valid API key.
    const key = await createApiKey(t.db, { projectId: A, role: 'viewer' });
    await expectRefused(disabled, as('admin', ''), 401, /Trusted proxy headers are not enabled on this server/);
    await expectRefused(disabled, { ...as('admin', ''), authorization: `Bearer ${key.secret_key}` }, 401, /not enabled/);
    expect((await visible(disabled, { authorization: `Bearer ${key.secret_key}` })).graphql).toEqual(['a-visible']);
  });

  it('refuses incomplete or invalid identities with what to fix', async () => {
    await expectRefused(proxy, as('superuser', A), 401, /X-Lattice-Role must be admin, owner, editor or viewer/);
    await expectRefused(proxy, as('viewer', `${A},not-a-uuid`), 401, /X-Lattice-Project-Ids holds a project id that is not a UUID/);
    await expectRefused(proxy, as('editor', ''), 403, /grants role 'editor' but no project; only admin spans all projects\. Send the project ids in X-Lattice-Project-Ids/);
    await expectRefused(proxy, as('viewer', A, { 'x-lattice-user-id': '' }), 401, /X-Lattice-User-Id is missing or empty/);
    // A repeated header reaches the server joined ("viewer, admin"): no role, not the stronger one.
    const twice = await proxy.inject({ method: 'GET', url: '/api/v1/experiments', headers: { ...as('viewer', A), 'x-lattice-role': ['viewer', 'admin'] } });
    expect(twice.statusCode).toBe(401);
    expect(twice.json().error.message).toMatch(/X-Lattice-Role must be admin, owner, editor or viewer/);
  });

  it('the secret header alone authenticates nothing; a valid proxy identity wins over a passed-through Authorization', async () => {
    const alone = await proxy.inject({ method: 'GET', url: '/api/v1/experiments', headers: { 'x-lattice-proxy-secret': SECRET } });
    expect(alone.statusCode).toBe(401);
    expect(alone.json().error.message).toMatch(/Authentication required/);
    // The gateway forwards the user's original (here: unusable) bearer token along with the identity it verified.
    expect((await visible(proxy, { ...as('viewer', B), authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln' })).graphql).toEqual(['b-secret']);
  });

  describe('subscriptions', () => {
    let s: Served;
    beforeAll(async () => {
      s = await serveWithEnv(t, { LATTICE_PROXY_SECRET: SECRET });
    });
    afterAll(async () => s?.app.close());

    it('authenticates from the WebSocket upgrade request and SSE headers; A sees A only; a wrong secret is refused at init', async () => {
      const ws = wsClientWith(s, as('viewer', A), {});
      const overWs = subscribeWs(ws, 'subscription { experiment_events { op id } }');
      const overSse = subscribeSseWith(s, as('viewer', A), 'subscription { experiment_events { op id } }');
      try {
        await waitForSubscribers(s, 2);
        await insertExperiment(t, B, 'proxy-live-b');
        const a = await insertExperiment(t, A, 'proxy-live-a');
        await waitFor(() => overWs.events.length >= 1 && overSse.events.length >= 1, 5000, 'A events');
        for (const sub of [overWs, overSse]) expect(sub.events.map((e) => e.data.experiment_events)).toEqual([{ op: 'INSERT', id: a }]);
      } finally {
        overWs.dispose();
        overSse.dispose();
        await ws.dispose();
      }
      const closes: number[] = [];
      const bad = wsClientWith(s, as('admin', '', { 'x-lattice-proxy-secret': 'wrong' }), {}, closes);
      await subscribeWs(bad, 'subscription { experiment_events { op id } }').finished;
      expect(closes).toEqual([4403]);
      await bad.dispose();
      const sseBad = subscribeSseWith(s, as('admin', '', { 'x-lattice-proxy-secret': 'wrong' }), 'subscription { experiment_events { op id } }');
      await sseBad.finished;
      expect(sseBad.events).toEqual([]);
      expect(sseBad.errors).toHaveLength(1);
      sseBad.dispose();
      await waitFor(() => liveHubOf(s.app)!.size === 0, 5000, 'no subscribers');
    });
  });
});
