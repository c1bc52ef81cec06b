/**
 * API key expiry and last-used time (SPEC A-2; issue 8 item 3) on every test database: `expires_at` given at
 * creation (admin route), validated, listed, and refused with a 401 saying the key expired; `last_used_at`
 * written at most once a minute per key, never once per request.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { authenticate, clearCredentialCache, createApiKey, listApiKeys, parseExpiry, type CreatedApiKey } from '../../src/auth/api-keys.js';
import { LatticeError } from '../../src/errors.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

describe('parseExpiry', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('accepts ISO-8601 instants with a time zone and dates, in the future', () => {
    expect(parseExpiry('2026-12-31T00:00:00Z', now).toISOString()).toBe('2026-12-31T00:00:00.000Z');
    expect(parseExpiry('2026-12-31T01:30+01:00', now).toISOString()).toBe('2026-12-31T00:30:00.000Z');
    expect(parseExpiry('2026-12-31', now).toISOString()).toBe('2026-12-31T00:00:00.000Z');
  });
  it('refuses other spellings, impossible dates and the past, saying what to send', () => {
    for (const bad of ['tomorrow', '2026-12-31T00:00:00', '2026-02-31', '2026-13-01', '1767225600', '']) {
      expect(() => parseExpiry(bad, now), bad).toThrow(/must be an ISO-8601 date-time with a time zone, e\.g\. 2026-12-31T00:00:00Z/);
    }
    expect(() => parseExpiry('2025-12-31T23:59:59Z', now)).toThrow(/is not in the future/);
    expect(() => parseExpiry('2025-12-31', now)).toThrowError(LatticeError);
  });
});

describe.each(TEST_KINDS)('API key expiry and last use on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let admin: CreatedApiKey;
  let projectId: string;

  const lastUsed = async (id: string) => (await t.db.query<{ at: string | null }>(`SELECT to_json(last_used_at) #>> '{}' AS at FROM lattice.api_keys WHERE id = $1`, [id])).rows[0].at;

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    projectId = await createProject(t.db, 'expiry');
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('creates a key with an expiry, lists it, and refuses it with 401 once expired', async () => {
    const at = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const res = await app.inject({ method: 'POST', url: `/api/v1/projects/${projectId}/keys`, headers: { authorization: `Bearer ${admin.secret_key}` }, payload: { role: 'viewer', expires_at: at } });
    expect(res.statusCode, res.body).toBe(201);
    const key = res.json() as CreatedApiKey;
    expect(Date.parse(key.expires_at!)).toBe(Date.parse(at));
    const headers = { authorization: `Bearer ${key.secret_key}` };
    expect((await app.inject({ method: 'GET', url: '/api/v1/experiments', headers })).statusCode).toBe(200);
    const listed = await app.inject({ method: 'GET', url: `/api/v1/projects/${projectId}/keys`, headers: { authorization: `Bearer ${admin.secret_key}` } });
    expect(listed.json().items.find((k: { id: string }) => k.id === key.id)).toMatchObject({ expires_at: expect.any(String), revoked_at: null });

    // The expiry passes (moved into the past; the cache is cleared as its TTL would).
    await t.db.query(`UPDATE lattice.api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, [key.id]);
    clearCredentialCache();
    const expired = await app.inject({ method: 'GET', url: '/api/v1/experiments', headers });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/^This API key expired at \d{4}-\d\d-\d\dT.*; create a new key/) });
    await expect(authenticate(t.db, `Basic ${Buffer.from(`${key.public_key}:${key.secret_key}`).toString('base64')}`)).rejects.toThrow(/expired at/);
    // A wrong secret for an expired key is still just "invalid", learning nothing about the key.
    expect(await authenticate(t.db, `Bearer ${key.secret_key}x`)).toBeNull();
    // Keys without expiry are unaffected.
    const forever = await createApiKey(t.db, { projectId, role: 'viewer' });
    expect(forever.expires_at).toBeNull();
    expect(await authenticate(t.db, `Bearer ${forever.secret_key}`)).toMatchObject({ role: 'viewer' });
  });

  it('refuses an expiry that is malformed or not in the future (400, no key created)', async () => {
    const before = (await listApiKeys(t.db, { projectId })).length;
    for (const expires_at of ['next week', '2020-01-01T00:00:00Z', '2027-02-30']) {
      const res = await app.inject({ method: 'POST', url: `/api/v1/projects/${projectId}/keys`, headers: { authorization: `Bearer ${admin.secret_key}` }, payload: { role: 'viewer', expires_at } });
      expect(res.statusCode, expires_at).toBe(400);
      expect(res.json().error.message).toMatch(/"expires_at"/);
    }
    expect((await listApiKeys(t.db, { projectId })).length).toBe(before);
    await expect(createApiKey(t.db, { projectId, role: 'viewer', expiresAt: new Date(Date.now() - 1000) })).rejects.toThrow(/expire in the future/);
  });

  it('records the last use at most once a minute per key, not once per request', async () => {
    const key = await createApiKey(t.db, { projectId, role: 'editor' });
    const header = `Bearer ${key.secret_key}`;
    expect(await lastUsed(key.id)).toBeNull();
    clearCredentialCache();
    let before = t.db.stats.statements;
    expect(await authenticate(t.db, header)).not.toBeNull();
    expect(t.db.stats.statements - before).toBe(2); // the look-up, and the first last_used_at
    await vi.waitFor(async () => expect(await lastUsed(key.id)).not.toBeNull());
    const first = await lastUsed(key.id);

    // Within the minute: a fresh look-up (cache cleared) sends no update; a cached one sends nothing at all.
    clearCredentialCache();
    before = t.db.stats.statements;
    await authenticate(t.db, header);
    expect(t.db.stats.statements - before).toBe(1);
    before = t.db.stats.statements;
    for (let i = 0; i < 5; i++) await authenticate(t.db, header);
    expect(t.db.stats.statements - before).toBe(0);
    expect(await lastUsed(key.id)).toBe(first);

    // A minute later (moved back two minutes): refreshed on the next look-up.
    await t.db.query(`UPDATE lattice.api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [key.id]);
    const old = await lastUsed(key.id);
    clearCredentialCache();
    await authenticate(t.db, header);
    await vi.waitFor(async () => expect(await lastUsed(key.id)).not.toBe(old));
    const listed = (await listApiKeys(t.db, { projectId })).find((k) => k.id === key.id)!;
    expect(Date.parse(listed.last_used_at!)).toBeGreaterThan(Date.parse(old!));
  });
});
