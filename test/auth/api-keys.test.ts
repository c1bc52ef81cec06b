import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  clearCredentialCache,
  createApiKey,
  listApiKeys,
  parseAuthorization,
  revokeApiKey,
} from '../../src/auth/api-keys.js';
import { LatticeError } from '../../src/errors.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const basic = (pk: string, sk: string) => `Basic ${Buffer.from(`${pk}:${sk}`).toString('base64')}`;
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('parseAuthorization', () => {
  it('parses Basic and Bearer, rejects other schemes and malformed values', () => {
    expect(parseAuthorization(basic('lk-pk-a', 'lk-sk-b:c'))).toEqual({ kind: 'basic', publicKey: 'lk-pk-a', secret: 'lk-sk-b:c' });
    expect(parseAuthorization('bearer lk-sk-x')).toEqual({ kind: 'bearer', secret: 'lk-sk-x' });
    expect(parseAuthorization('Digest abc')).toBeNull();
    expect(parseAuthorization('Bearer')).toBeNull();
    expect(parseAuthorization(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeNull();
  });
});

describe.each(TEST_KINDS)('API keys on %s', (kind) => {
  let t: TestDb;
  let projectId: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    projectId = await createProject(t.db, 'keys-test');
  });
  afterAll(async () => t?.close());

  it('stores the SHA-256 of the secret, never the secret', async () => {
    const key = await createApiKey(t.db, { projectId: null, role: 'admin', name: 'admin' });
    expect(key.public_key).toMatch(/^lk-pk-[A-Za-z0-9_-]{43}$/);
    expect(key.secret_key).toMatch(/^lk-sk-[A-Za-z0-9_-]{43}$/);
    const { rows } = await t.db.query<Record<string, unknown>>('SELECT * FROM lattice.api_keys WHERE id = $1', [key.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].secret_hash).toBe(createHash('sha256').update(key.secret_key).digest('hex'));
    expect(JSON.stringify(rows[0])).not.toContain(key.secret_key.slice(6));
    const listed = await listApiKeys(t.db, { projectId: null });
    expect(listed.map((k) => k.id)).toContain(key.id);
    for (const k of listed) expect(Object.keys(k)).not.toContain('secret_hash');
  });

  it('authenticates admin keys with Bearer and project keys with Basic', async () => {
    const admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    const editor = await createApiKey(t.db, { projectId, role: 'editor' });
    expect(await authenticate(t.db, `Bearer ${admin.secret_key}`)).toEqual({ kind: 'api_key', id: admin.id, role: 'admin', projectIds: [] });
    expect(await authenticate(t.db, basic(editor.public_key, editor.secret_key))).toEqual({
      kind: 'api_key',
      id: editor.id,
      role: 'editor',
      projectIds: [projectId],
    });
    expect(await authenticate(t.db, `Bearer ${editor.secret_key}`)).toMatchObject({ role: 'editor', projectIds: [projectId] });
  });

  it('refuses wrong secrets, unknown and mismatched public keys, and foreign token formats', async () => {
    const a = await createApiKey(t.db, { projectId, role: 'viewer' });
    const b = await createApiKey(t.db, { projectId, role: 'owner' });
    expect(await authenticate(t.db, basic(a.public_key, `${a.secret_key}x`))).toBeNull();
    expect(await authenticate(t.db, basic(a.public_key, b.secret_key))).toBeNull();
    expect(await authenticate(t.db, basic('lk-pk-unknown', a.secret_key))).toBeNull();
    expect(await authenticate(t.db, `Bearer ${a.secret_key.slice(0, -1)}`)).toBeNull();
    expect(await authenticate(t.db, 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig')).toBeNull();
    expect(await authenticate(t.db, 'nonsense')).toBeNull();
  });

  it('refuses revoked keys at once in this process and records last use', async () => {
    const key = await createApiKey(t.db, { projectId, role: 'editor' });
    const header = `Bearer ${key.secret_key}`;
    expect(await authenticate(t.db, header)).not.toBeNull();
    await settle();
    const [used] = await listApiKeys(t.db, { projectId }).then((ks) => ks.filter((k) => k.id === key.id));
    expect(used.last_used_at).not.toBeNull();
    const revoked = await revokeApiKey(t.db, key.id, { projectId });
    expect(revoked?.revoked_at).toBeTruthy();
    expect(await authenticate(t.db, header)).toBeNull();
    expect(await revokeApiKey(t.db, key.id, { projectId: '00000000-0000-7000-8000-000000000000' })).toBeNull();
    expect(await listApiKeys(t.db, { projectId, includeRevoked: false }).then((ks) => ks.map((k) => k.id))).not.toContain(key.id);
  });

  it('caches verified credentials: a repeated request costs no query until the cache is cleared', async () => {
    const key = await createApiKey(t.db, { projectId, role: 'viewer' });
    const header = basic(key.public_key, key.secret_key);
    expect(await authenticate(t.db, header)).not.toBeNull();
    await settle(); // the last_used_at update is fire-and-forget
    const before = t.db.stats.statements;
    expect(await authenticate(t.db, header)).not.toBeNull();
    expect(t.db.stats.statements).toBe(before);
    // Revoked behind the cache's back (another instance): trusted until the TTL, re-checked once cleared.
    await t.db.query('UPDATE lattice.api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    expect(await authenticate(t.db, header)).not.toBeNull();
    clearCredentialCache();
    expect(await authenticate(t.db, header)).toBeNull();
    expect(t.db.stats.statements).toBeGreaterThan(before);
  });

  it('rejects keys whose role and project do not fit', async () => {
    await expect(createApiKey(t.db, { projectId, role: 'admin' })).rejects.toBeInstanceOf(LatticeError);
    await expect(createApiKey(t.db, { projectId: null, role: 'viewer' })).rejects.toThrow(/needs a project/);
  });
});
