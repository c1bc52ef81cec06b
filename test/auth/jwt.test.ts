/**
 * JWT bearer tokens (SPEC A-2, issue 8 item 1) through real servers on every test database: HS256 with a
 * secret, RS256 with a PEM key, ES256 from a JWKS served by a local HTTP server (with key rotation), claim
 * checks and refusals, claim-path mapping of common issuers, row-level security for token principals, and
 * subscriptions authenticated with tokens.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { claimAt } from '../../src/auth/jwt-claims.js';
import { readJwtConfig } from '../../src/auth/jwt.js';
import { liveHubOf } from '../../src/live/transports.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { subscribeWs, waitFor, waitForSubscribers, type Served } from '../graphql/live-support.js';
import {
  appWithEnv,
  EXP_B,
  expectConfigError,
  expectRefused,
  insertExperiment,
  seedTwoProjects,
  serveWithEnv,
  subscribeSseWith,
  visible,
  wsClientWith,
} from './support.js';

const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'lattice-api';
const SECRET = randomBytes(32).toString('hex');
const secretKey = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** Standard claims for `sub` with `role` in `projects`, valid for 5 minutes; `extra` overrides. */
function claims(role: string, projects: readonly string[], extra: JWTPayload = {}): JWTPayload {
  return { sub: 'user-1', role, project_ids: [...projects], iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 300, ...extra };
}

function sign(payload: JWTPayload, key: Parameters<SignJWT['sign']>[0], alg: string, kid?: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) }).sign(key);
}

/** Expect a readJwtConfig failure whose message matches. */
function configFails(env: Record<string, string>, message: RegExp): void {
  expectConfigError(() => readJwtConfig(env), message);
}

describe('JWT configuration (LATTICE_JWT_*)', () => {
  it('is off without a key, and refuses other JWT settings without one', () => {
    expect(readJwtConfig({})).toBeNull();
    configFails({ LATTICE_JWT_ISSUER: ISSUER }, /LATTICE_JWT_ISSUER is set but no key is/);
  });

  it('pins algorithms to the configured keys', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES384', { extractable: true });
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    expect(readJwtConfig({ LATTICE_JWT_SECRET: SECRET })?.algorithms).toEqual(['HS256']);
    expect(readJwtConfig({ LATTICE_JWT_PUBLIC_KEY: await exportSPKI(rsa.publicKey) })?.algorithms).toEqual(['RS256']);
    expect(readJwtConfig({ LATTICE_JWT_PUBLIC_KEY: await exportSPKI(ec.publicKey) })?.algorithms).toEqual(['ES384']);
    expect(readJwtConfig({ LATTICE_JWT_PUBLIC_KEY: await exportSPKI(ed.publicKey) })?.algorithms).toEqual(['EdDSA']);
    expect(readJwtConfig({ LATTICE_JWT_JWKS_URL: 'https://idp.test/jwks.json', LATTICE_JWT_SECRET: SECRET })?.algorithms).toEqual([
      'HS256', 'RS256', 'ES256', 'EdDSA',
    ]);
    // A PEM with "\n" escapes (one-line environment variables) is accepted.
    const oneLine = (await exportSPKI(rsa.publicKey)).replace(/\n/g, '\\n');
    expect(readJwtConfig({ LATTICE_JWT_PUBLIC_KEY: oneLine })?.publicKey?.asymmetricKeyType).toBe('rsa');
    configFails({ LATTICE_JWT_PUBLIC_KEY: await exportSPKI(rsa.publicKey), LATTICE_JWT_ALGORITHMS: 'ES256' }, /lists ES256, which LATTICE_JWT_PUBLIC_KEY \(a rsa key\) cannot verify/);
    configFails({ LATTICE_JWT_PUBLIC_KEY: await exportSPKI(rsa.publicKey), LATTICE_JWT_ALGORITHMS: 'HS256,RS256' }, /lists HS256 but LATTICE_JWT_SECRET is not set/);
    configFails({ LATTICE_JWT_SECRET: SECRET, LATTICE_JWT_ALGORITHMS: 'none' }, /"none": unsigned tokens are never accepted/);
    configFails({ LATTICE_JWT_SECRET: SECRET, LATTICE_JWT_ALGORITHMS: 'HS257' }, /unknown algorithm "HS257"/);
  });

  it('refuses weak, ambiguous or malformed settings with the variable named', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    configFails({ LATTICE_JWT_SECRET: 'short' }, /LATTICE_JWT_SECRET is 5 bytes; HS256 needs at least 32 \(RFC 7518 §3\.2\)/);
    configFails({ LATTICE_JWT_SECRET: SECRET.slice(0, 48), LATTICE_JWT_ALGORITHMS: 'HS512' }, /is 48 bytes; HS512 needs at least 64/);
    configFails({ LATTICE_JWT_PUBLIC_KEY: await exportSPKI(rsa.publicKey), LATTICE_JWT_JWKS_URL: 'https://idp.test/jwks' }, /either LATTICE_JWT_PUBLIC_KEY or LATTICE_JWT_JWKS_URL/);
    configFails({ LATTICE_JWT_PUBLIC_KEY: 'not a key' }, /LATTICE_JWT_PUBLIC_KEY is not a PEM public key/);
    configFails({ LATTICE_JWT_PUBLIC_KEY: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }, /holds a private key/);
    configFails({ LATTICE_JWT_JWKS_URL: 'ftp://idp.test/jwks' }, /must be an https:\/\//);
    configFails({ LATTICE_JWT_SECRET: SECRET, LATTICE_JWT_CLOCK_TOLERANCE_SECONDS: '30s' }, /LATTICE_JWT_CLOCK_TOLERANCE_SECONDS must be a whole number from 0 to 300/);
    configFails({ LATTICE_JWT_SECRET: SECRET, LATTICE_JWT_ROLE_MAP: 'authenticated=superuser' }, /LATTICE_JWT_ROLE_MAP must be comma-separated name=role pairs/);
    configFails({ LATTICE_JWT_SECRET: SECRET, LATTICE_JWT_DEFAULT_ROLE: 'admin' }, /LATTICE_JWT_DEFAULT_ROLE must be owner, editor or viewer/);
  });

  it('resolves dotted claim paths, also through claim names containing dots', () => {
    const payload = {
      realm_access: { roles: ['offline_access', 'editor'] },
      'https://hasura.io/jwt/claims': { 'x-hasura-default-role': 'user' },
      'https://lattice.test/role': 'viewer',
      'a.b': { c: 1 },
      a: { b: { c: 2 } },
    };
    expect(claimAt(payload, 'realm_access.roles')).toEqual(['offline_access', 'editor']);
    expect(claimAt(payload, 'https://hasura.io/jwt/claims.x-hasura-default-role')).toBe('user');
    expect(claimAt(payload, 'https://lattice.test/role')).toBe('viewer');
    expect(claimAt(payload, 'a.b.c')).toBe(1); // the longest matching name first
    expect(claimAt(payload, 'realm_access.missing')).toBeUndefined();
  });
});

describe.each(TEST_KINDS)('JWT bearer tokens on %s', (kind) => {
  let t: TestDb;
  let A: string;
  let B: string;
  const apps: FastifyInstance[] = [];
  let hs: FastifyInstance;
  let rs: FastifyInstance;
  let jwksApp: FastifyInstance;
  let plain: FastifyInstance;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  let rsaPem: string;
  // The JWKS endpoint: serves `jwks`, counts fetches.
  let idp: Server;
  let jwks: { keys: JWK[] };
  let fetches = 0;
  let es1: Awaited<ReturnType<typeof generateKeyPair>>;
  let es2: Awaited<ReturnType<typeof generateKeyPair>>;

  const app = async (env: Record<string, string>) => {
    const a = await appWithEnv(t, env);
    apps.push(a);
    return a;
  };

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ A, B } = await seedTwoProjects(t));
    rsa = await generateKeyPair('RS256', { extractable: true });
    rsaPem = await exportSPKI(rsa.publicKey);
    es1 = await generateKeyPair('ES256', { extractable: true });
    es2 = await generateKeyPair('ES256', { extractable: true });
    jwks = { keys: [{ ...(await exportJWK(es1.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    idp = createServer((req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const common = { LATTICE_JWT_ISSUER: ISSUER, LATTICE_JWT_AUDIENCE: AUDIENCE };
    hs = await app({ LATTICE_JWT_SECRET: SECRET, ...common });
    rs = await app({ LATTICE_JWT_PUBLIC_KEY: rsaPem, ...common });
    jwksApp = await app({
      LATTICE_JWT_JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`,
      LATTICE_JWT_JWKS_COOLDOWN_MS: '0',
      ...common,
    });
    plain = await app({});
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    idp?.close();
    await t?.close();
  });

  it('an HS256 token of project A reads only A over GraphQL and REST, and writes into A', async () => {
    const editorA = await sign(claims('editor', [A]), secretKey, 'HS256');
    expect(await visible(hs, auth(editorA))).toEqual({ graphql: ['a-visible'], rest: ['a-visible'], bById: 404 });
    const created = await hs.inject({ method: 'POST', url: '/api/v1/experiments', headers: auth(editorA), payload: { name: 'by-token', kind: 'w' } });
    expect(created.statusCode, created.body).toBe(201);
    const { rows } = await t.db.query<{ project_id: string }>('SELECT project_id::text AS project_id FROM app.experiment WHERE id = $1', [created.json().id]);
    expect(rows).toEqual([{ project_id: A }]);
    // Naming project B in a write is refused like for a key of A.
    const intoB = await hs.inject({ method: 'POST', url: '/api/v1/experiments', headers: auth(editorA), payload: { name: 'x', project_id: B } });
    expect(intoB.statusCode, intoB.body).toBe(403);
    const patchB = await hs.inject({ method: 'PATCH', url: `/api/v1/experiments/${EXP_B}`, headers: auth(editorA), payload: { name: 'pwned' } });
    expect(patchB.statusCode).toBe(404);
    const viewerA = await sign(claims('viewer', [A]), secretKey, 'HS256');
    const denied = await hs.inject({ method: 'POST', url: '/api/v1/experiments', headers: auth(viewerA), payload: { name: 'x' } });
    expect(denied.statusCode).toBe(403);
    const admin = await sign(claims('admin', []), secretKey, 'HS256');
    expect((await visible(hs, auth(admin))).graphql).toEqual(['a-visible', 'b-secret']);
  });

  it('API keys keep working next to JWTs; a JWT on a server without JWT settings is refused', async () => {
    const key = await createApiKey(t.db, { projectId: B, role: 'viewer' });
    expect((await visible(hs, auth(key.secret_key))).graphql).toEqual(['b-secret']);
    const token = await sign(claims('editor', [A]), secretKey, 'HS256');
    await expectRefused(plain, auth(token), 401, /JWT bearer tokens are not accepted: this server has no JWT verification configured/, [token]);
  });

  it('RS256 with a PEM key; an HS256 token signed with that public key as secret (algorithm confusion) is refused', async () => {
    const token = await sign(claims('viewer', [A]), rsa.privateKey, 'RS256');
    expect((await visible(rs, auth(token))).rest).toEqual(['a-visible']);
    const confused = await sign(claims('admin', []), new TextEncoder().encode(rsaPem), 'HS256');
    await expectRefused(rs, auth(confused), 401, /signed with an algorithm this server does not accept; accepted: RS256/, [confused]);
    const other = await generateKeyPair('RS256');
    const foreign = await sign(claims('viewer', [A]), other.privateKey, 'RS256');
    await expectRefused(rs, auth(foreign), 401, /signature does not verify/, [foreign]);
  });

  it('ES256 from a JWKS: keys are cached, and a rotated-in key (new kid) is picked up', async () => {
    const t1 = await sign(claims('viewer', [A]), es1.privateKey, 'ES256', 'k1');
    const before = fetches;
    expect((await visible(jwksApp, auth(t1))).graphql).toEqual(['a-visible']);
    expect((await visible(jwksApp, auth(t1))).graphql).toEqual(['a-visible']);
    expect(fetches - before).toBe(1); // 6 verifications, one fetch
    // Rotation: the provider publishes k2 and signs with it.
    jwks = { keys: [...jwks.keys, { ...(await exportJWK(es2.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' }] };
    const t2 = await sign(claims('viewer', [B]), es2.privateKey, 'ES256', 'k2');
    expect((await visible(jwksApp, auth(t2))).graphql).toEqual(['b-secret']);
    expect(fetches - before).toBe(2);
    const unknown = await sign(claims('viewer', [A]), (await generateKeyPair('ES256')).privateKey, 'ES256', 'k9');
    await expectRefused(jwksApp, auth(unknown), 401, /No key of the identity provider's key set \(JWKS\) matches/, [unknown]);
    // An HS256 token is refused by a JWKS-only server (no secret, HS not among its algorithms).
    const hsToken = await sign(claims('admin', []), secretKey, 'HS256');
    await expectRefused(jwksApp, auth(hsToken), 401, /accepted: RS256, ES256, EdDSA/, [hsToken]);
  });

  it('checks exp and nbf with the clock tolerance (30 s) and requires exp', async () => {
    const expired = await sign(claims('viewer', [A], { exp: now() - 120 }), secretKey, 'HS256');
    const msg = await expectRefused(hs, auth(expired), 401, /^The bearer token expired at \d{4}-.*; get a new token/, [expired]);
    expect(msg).not.toContain(expired.split('.')[1]);
    const future = await sign(claims('viewer', [A], { nbf: now() + 300 }), secretKey, 'HS256');
    await expectRefused(hs, auth(future), 401, /is not valid yet/, [future]);
    const withinTolerance = await sign(claims('viewer', [A], { exp: now() - 5, nbf: now() + 5 }), secretKey, 'HS256');
    expect((await visible(hs, auth(withinTolerance))).rest).toEqual(['a-visible']);
    const { exp: _exp, ...noExp } = claims('viewer', [A]);
    const forever = await sign(noExp, secretKey, 'HS256');
    await expectRefused(hs, auth(forever), 401, /has no expiry \(exp claim\)/, [forever]);
  });

  it('refuses a wrong audience, a wrong issuer, a tampered signature and alg none, without echoing the token', async () => {
    const wrongAud = await sign(claims('viewer', [A], { aud: 'another-api' }), secretKey, 'HS256');
    await expectRefused(hs, auth(wrongAud), 401, /is meant for another audience \(aud\)/, [wrongAud]);
    const wrongIss = await sign(claims('viewer', [A], { iss: 'https://evil.test/' }), secretKey, 'HS256');
    const issMsg = await expectRefused(hs, auth(wrongIss), 401, /issuer \(iss\) this server does not accept/, [wrongIss]);
    expect(issMsg).not.toContain('evil');
    // Tampering: project A's token re-labelled with project B's id, signature kept.
    const good = await sign(claims('viewer', [A]), secretKey, 'HS256');
    const [h, , s] = good.split('.');
    const tampered = `${h}.${b64(claims('viewer', [B]))}.${s}`;
    await expectRefused(hs, auth(tampered), 401, /signature does not verify/, [tampered, s]);
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims('admin', []))}.`;
    await expectRefused(hs, auth(none), 401, /unsigned \(alg "none"\); unsigned tokens are never accepted/, [none]);
    await expectRefused(hs, auth('abc.def.ghi'), 401, /not a valid signed JWT/);
  });

  it('refuses tokens whose identity is incomplete: no project (403), no role (403), a non-UUID project (401), no subject (401)', async () => {
    const noProjects = await sign(claims('editor', []), secretKey, 'HS256');
    await expectRefused(hs, auth(noProjects), 403, /grants role 'editor' but no project; only admin spans all projects\. Put the project ids in the token's claim "project_ids"/);
    const noRole = await sign(claims('superuser', [A]), secretKey, 'HS256');
    await expectRefused(hs, auth(noRole), 403, /carries no Lattice role: its claim "role" is missing or holds none of admin, owner, editor or viewer/);
    const badProject = await sign(claims('viewer', ['project-a']), secretKey, 'HS256');
    await expectRefused(hs, auth(badProject), 401, /claim "project_ids" holds a project id that is not a UUID/);
    const { sub: _sub, ...anonymous } = claims('viewer', [A]);
    await expectRefused(hs, auth(await sign(anonymous, secretKey, 'HS256')), 401, /claim "sub" is missing or empty/);
    const wrongType = await sign(claims('viewer', [A], { role: { name: 'viewer' } }), secretKey, 'HS256');
    await expectRefused(hs, auth(wrongType), 401, /claim "role" must be a string or a list of strings/);
  });

  it('maps Keycloak, Hasura/Auth0 namespaced and Supabase claims by configuration', async () => {
    const keycloak = await app({
      LATTICE_JWT_SECRET: SECRET,
      LATTICE_JWT_CLAIM_ROLE: 'realm_access.roles',
      LATTICE_JWT_CLAIM_PROJECT_IDS: 'lattice.project_ids',
    });
    const kc = { sub: 'f:1', exp: now() + 60, realm_access: { roles: ['offline_access', 'viewer', 'editor'] }, lattice: { project_ids: [B] } };
    expect((await visible(keycloak, auth(await sign(kc, secretKey, 'HS256')))).graphql).toEqual(['b-secret']);

    const ns = 'https://hasura.io/jwt/claims';
    const hasura = await app({
      LATTICE_JWT_SECRET: SECRET,
      LATTICE_JWT_CLAIM_ROLE: `${ns}.x-hasura-default-role`,
      LATTICE_JWT_CLAIM_PROJECT_IDS: `${ns}.x-hasura-project-ids`,
      LATTICE_JWT_ROLE_MAP: 'user=viewer',
    });
    const ha = { sub: 'auth0|42', exp: now() + 60, [ns]: { 'x-hasura-default-role': 'user', 'x-hasura-project-ids': `${A}, ${B}` } };
    expect((await visible(hasura, auth(await sign(ha, secretKey, 'HS256')))).graphql).toEqual(['a-visible', 'b-secret']);

    const supabase = await app({
      LATTICE_JWT_SECRET: SECRET,
      LATTICE_JWT_AUDIENCE: 'authenticated',
      LATTICE_JWT_CLAIM_PROJECT_IDS: 'app_metadata.project_ids',
      LATTICE_JWT_ROLE_MAP: 'authenticated=editor,service_role=admin',
    });
    const sb = (role: string) => ({ sub: 'f2c1', aud: 'authenticated', role, exp: now() + 60, app_metadata: { project_ids: [A] } });
    const user = await sign(sb('authenticated'), secretKey, 'HS256');
    expect(await visible(supabase, auth(user))).toEqual({ graphql: ['a-visible'], rest: ['a-visible'], bById: 404 });
    expect((await supabase.inject({ method: 'POST', url: '/api/v1/experiments', headers: auth(user), payload: { name: 'sb' } })).statusCode).toBe(201);
    expect((await visible(supabase, auth(await sign(sb('service_role'), secretKey, 'HS256')))).graphql).toEqual(['a-visible', 'b-secret']);
    // With a role map only mapped names count: "anon" and even a literal "admin" grant nothing.
    await expectRefused(supabase, auth(await sign(sb('anon'), secretKey, 'HS256')), 403, /names mapped by LATTICE_JWT_ROLE_MAP \(authenticated, service_role\)/);
    await expectRefused(supabase, auth(await sign(sb('admin'), secretKey, 'HS256')), 403, /carries no Lattice role/);
  });

  describe('subscriptions', () => {
    let s: Served;
    beforeAll(async () => {
      // No clock tolerance here, so a token can expire while its subscription runs.
      s = await serveWithEnv(t, { LATTICE_JWT_SECRET: SECRET, LATTICE_JWT_ISSUER: ISSUER, LATTICE_JWT_AUDIENCE: AUDIENCE, LATTICE_JWT_CLOCK_TOLERANCE_SECONDS: '0' });
    });
    afterAll(async () => s?.app.close());

    it('a token of project A subscribes over WebSocket and SSE and receives A events only; a bad token is refused at init', async () => {
      const token = await sign(claims('viewer', [A]), secretKey, 'HS256');
      const ws = wsClientWith(s, {}, { authorization: `Bearer ${token}` });
      const overWs = subscribeWs(ws, 'subscription { experiment_events { op id } }');
      const overSse = subscribeSseWith(s, auth(token), 'subscription { experiment_events { op id } }');
      try {
        await waitForSubscribers(s, 2);
        await insertExperiment(t, B, 'live-b');
        const a = await insertExperiment(t, A, 'live-a');
        await waitFor(() => overWs.events.length >= 1 && overSse.events.length >= 1, 5000, 'A events');
        // B's notification came first on the same channel: had it been delivered, it would be here already.
        for (const sub of [overWs, overSse]) expect(sub.events.map((e) => e.data.experiment_events)).toEqual([{ op: 'INSERT', id: a }]);
      } finally {
        overWs.dispose();
        overSse.dispose();
        await ws.dispose();
      }
      const closes: number[] = [];
      const expired = await sign(claims('viewer', [A], { exp: now() - 120 }), secretKey, 'HS256');
      const bad = wsClientWith(s, {}, { authorization: `Bearer ${expired}` }, closes);
      const refused = subscribeWs(bad, 'subscription { experiment_events { op id } }');
      await refused.finished;
      expect(closes).toEqual([4403]);
      await bad.dispose();
      await waitFor(() => liveHubOf(s.app)!.size === 0, 5000, 'no subscribers');
    });

    it('ends a subscription with UNAUTHENTICATED when its token expires (re-checked like a revoked key)', async () => {
      const shortLived = await sign(claims('viewer', [A], { exp: now() + 2 }), secretKey, 'HS256');
      const ws = wsClientWith(s, {}, { authorization: `Bearer ${shortLived}` });
      const sub = subscribeWs(ws, 'subscription { experiment_events { op id } }');
      try {
        await waitForSubscribers(s, 1);
        await sub.finished; // the hub re-checks every 200 ms here; the token lives at most 2 s
        expect(sub.completed).toBe(true);
        expect(sub.events.at(-1).errors[0].extensions.code).toBe('UNAUTHENTICATED');
        expect(sub.events.at(-1).errors[0].message).toMatch(/token expired/);
      } finally {
        sub.dispose();
        await ws.dispose();
      }
    });
  });
});
