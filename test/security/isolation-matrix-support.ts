/**
 * Shared setup of the tenant-isolation matrix (SPEC A-2, A-3, A-4; issue 8 "Done when"): one real server per
 * database, configured as in production (HS256 JWT secret and trusted proxy secret from the environment), three
 * projects A, B and C, and the principal kinds the matrix runs every path with:
 * - `api key`: an editor API key of A;
 * - `jwt`: an HS256 token whose claims name project A (role editor);
 * - `proxy`: trusted proxy headers naming project A (role editor), with the proxy secret;
 * - `member`: a user who is an editor member of A and C (not B), authenticated by a token naming only its subject.
 * Plus `ownerB`, an owner API key of B, whose reads are the reference for "B is unchanged".
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { createApiKey, type CreatedApiKey } from '../../src/auth/api-keys.js';
import { setMembership } from '../../src/auth/memberships.js';
import { createUser } from '../../src/auth/users.js';
import type { Db } from '../../src/db/types.js';
import { createProject, type TestDb } from '../support/db.js';
import { buildServer } from '../../src/server/app.js';
import { withEnv } from '../auth/support.js';
import type { Served } from '../graphql/live-support.js';

export const ISSUER = 'https://idp.isolation.test/';
const JWT_SECRET = randomBytes(32).toString('hex');
export const PROXY_SECRET = randomBytes(32).toString('hex');

/** The principal kinds every case runs with. */
export const PRINCIPALS = ['api key', 'jwt', 'proxy', 'member'] as const;
export type PrincipalKind = (typeof PRINCIPALS)[number];

export type Headers = Record<string, string>;

/** One principal of the matrix. */
export interface MatrixPrincipal {
  readonly kind: PrincipalKind;
  /** Request headers carrying its credentials. */
  readonly headers: Headers;
  /** Projects it reads: [A], or [A, C] for the member (sorted). */
  readonly visible: readonly string[];
  /** Fields a write into A adds (`{ project_id: A }` for the member, who must name the project; else none). */
  readonly intoA: Record<string, string>;
}

export interface Projects {
  readonly A: string;
  readonly B: string;
  readonly C: string;
}

/** The server and credentials shared by every case of one database. */
export interface Matrix {
  readonly t: TestDb;
  readonly served: Served;
  readonly app: FastifyInstance;
  readonly projects: Projects;
  readonly principals: Record<PrincipalKind, MatrixPrincipal>;
  /** Owner API key of B (reads back B's rows). */
  readonly ownerB: Headers;
  /** Owner API key of A (cleans up or checks A's rows). */
  readonly ownerA: Headers;
}

/** An HS256 token of `sub` with `role`, naming `projectIds` when given, valid for an hour. */
export function token(sub: string, role: string, projectIds?: readonly string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, role, iss: ISSUER, iat: now, exp: now + 3600, ...(projectIds ? { project_ids: [...projectIds] } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** `Authorization` of an API key: `Basic pk:sk` (as the Langfuse SDKs send) or `Bearer sk`. */
export function keyAuth(k: CreatedApiKey, basic = false): string {
  return basic ? `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}` : `Bearer ${k.secret_key}`;
}

/**
 * Create projects A, B, C, the principals and a listening server (JWT and proxy secrets configured).
 * @param basicKeys send API keys as Basic credentials (the traces routes' SDKs) instead of Bearer
 */
export async function setupMatrix(t: TestDb, basicKeys = false): Promise<Matrix> {
  const A = await createProject(t.db, 'A');
  const B = await createProject(t.db, 'B');
  const C = await createProject(t.db, 'C');
  const member = await createUser(t.db, { subject: 'member-ac', issuer: ISSUER });
  await setMembership(t.db, A, member.id, 'editor');
  await setMembership(t.db, C, member.id, 'editor');
  const key = async (projectId: string, role: 'owner' | 'editor') => ({ authorization: keyAuth(await createApiKey(t.db, { projectId, role }), basicKeys) });
  const served = await serve(t);
  const onlyA = { visible: [A], intoA: {} };
  const principals: Record<PrincipalKind, MatrixPrincipal> = {
    'api key': { kind: 'api key', headers: await key(A, 'editor'), ...onlyA },
    jwt: { kind: 'jwt', headers: { authorization: `Bearer ${await token('jwt-a', 'editor', [A])}` }, ...onlyA },
    proxy: {
      kind: 'proxy',
      headers: { 'x-lattice-proxy-secret': PROXY_SECRET, 'x-lattice-user-id': 'proxy-a', 'x-lattice-role': 'editor', 'x-lattice-project-ids': A },
      ...onlyA,
    },
    member: { kind: 'member', headers: { authorization: `Bearer ${await token('member-ac', 'editor')}` }, visible: [A, C].sort(), intoA: { project_id: A } },
  };
  return { t, served, app: served.app, projects: { A, B, C }, principals, ownerB: await key(B, 'owner'), ownerA: await key(A, 'owner') };
}

/**
 * A server configured by the environment as in production (JWT secret, proxy secret), listening on an ephemeral
 * port for subscriptions. `MATRIX_LOG=1` logs its errors (to investigate a 500).
 */
async function serve(t: TestDb): Promise<Served> {
  const { app } = await withEnv({ LATTICE_JWT_SECRET: JWT_SECRET, LATTICE_PROXY_SECRET: PROXY_SECRET }, () =>
    buildServer({ db: t.db, model: t.model, live: { coalesceMs: 30, recheckMs: 200 }, logger: process.env.MATRIX_LOG ? { level: 'error' } : false }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { app, base: `127.0.0.1:${addr.port}` };
}

/** An answer with its parsed JSON body (undefined for an empty body). */
export type Answer = LightMyRequestResponse & { data: any };

/** A REST (or any JSON) request. */
export async function http(app: FastifyInstance, headers: Headers, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<Answer> {
  const res = await app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
  return Object.assign(res, { data: res.body ? JSON.parse(res.body) : undefined });
}

/** GraphQL error as answered. */
export interface GqlError {
  readonly message: string;
  readonly extensions: { code: string; outcome?: string };
}

/** POST /graphql with `application/json` (errors answer 200). */
export async function gql(app: FastifyInstance, headers: Headers, query: string, variables?: Record<string, unknown>): Promise<{ data?: any; errors?: GqlError[]; text: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
    payload: { query, variables },
  });
  return { ...(res.json() as { data?: any; errors?: GqlError[] }), text: res.body };
}

/** Ids (sorted) of `table`'s rows in `projects`, read as the database owner (bypassing row-level security). */
export async function ownerIds(db: Db, table: string, projects: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`SELECT id::text AS id FROM app.${table} WHERE project_id = ANY($1::uuid[]) ORDER BY id`, [projects]);
  return rows.map((r) => r.id);
}

/** Sorted copy of the `id`s of `items`. */
export const idsOf = (items: readonly { id: string }[]): string[] => items.map((i) => i.id).sort();
