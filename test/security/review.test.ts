/**
 * Security review findings (SPEC ): each test failed before its fix.
 * - Revoking a key through the admin route with the key id in upper case (the same UUID) revoked it in the
 *   database but left its cached credential valid in this process for up to 5 s.
 * - A credential lookup that read the key just before a revocation committed re-inserted the key into the
 *   cache after the revocation had emptied it, so the revoked key kept working in this process.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, clearCredentialCache, createApiKey, revokeApiKey, type CreatedApiKey } from '../../src/auth/api-keys.js';
import type { Queryable } from '../../src/db/types.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const bearer = (k: CreatedApiKey) => ({ authorization: `Bearer ${k.secret_key}` });

describe.each(TEST_KINDS)('security review: credential cache and revocation on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let admin: CreatedApiKey;
  let project: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    project = await createProject(t.db, 'P');
  });
  afterAll(async () => {
    clearCredentialCache();
    await app?.close();
    await t?.close();
  });

  it('a key revoked through the admin route with an upper-case key id is refused at once', async () => {
    const victim = await createApiKey(t.db, { projectId: project, role: 'editor' });
    expect((await app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(victim) })).statusCode).toBe(200);
    const del = await app.inject({
      method: 'DELETE',
      url: `/api/v1/projects/${project}/keys/${victim.id.toUpperCase()}`,
      headers: bearer(admin),
    });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ id: victim.id, revoked_at: expect.any(String) });
    const after = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(victim) });
    expect(after.statusCode).toBe(401);
    const write = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: bearer(victim), payload: { name: 'x' } });
    expect(write.statusCode).toBe(401);
  });

  it('a lookup racing a revocation does not put the revoked key back into the cache', async () => {
    const victim = await createApiKey(t.db, { projectId: project, role: 'editor' });
    const header = `Bearer ${victim.secret_key}`;
    // A database handle whose key lookup is held until released (the revocation commits meanwhile).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let looked!: () => void;
    const lookedUp = new Promise<void>((resolve) => (looked = resolve));
    const slow: Queryable = {
      query: async (text, params) => {
        const res = await t.db.query(text, params);
        if (/FROM lattice\.api_keys WHERE revoked_at IS NULL/.test(text)) {
          looked();
          await gate;
        }
        return res as never;
      },
    };
    const inFlight = authenticate(slow, header);
    await lookedUp;
    expect(await revokeApiKey(t.db, victim.id, { projectId: project })).not.toBeNull();
    release();
    await inFlight; // read before the revocation: this one request may still pass
    expect(await authenticate(t.db, header)).toBeNull();
    expect((await app.inject({ method: 'GET', url: '/api/v1/projects', headers: { authorization: header } })).statusCode).toBe(401);
  });
});
