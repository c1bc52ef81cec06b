/**
 * Helpers for the JWT and proxy tests: real servers (`buildServer`, configured through the environment as in
 * production), two projects with one experiment each, reads over GraphQL and REST, subscription clients with
 * arbitrary headers.
 */
import type { FastifyInstance } from 'fastify';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client } from 'graphql-ws';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { LatticeError } from '../../src/errors.js';
import type { LiveOptions } from '../../src/live/hub.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, insertRows, type TestDb } from '../support/db.js';
import type { Collected, Served } from '../graphql/live-support.js';

export const EXP_A = '0190a0a0-0000-7000-8000-00000000a001';
export const EXP_B = '0190a0a0-0000-7000-8000-00000000b001';

/** Every variable the servers under test read; cleared around each build so the runner's environment cannot leak in. */
const AUTH_VARS = [
  'LATTICE_JWT_SECRET', 'LATTICE_JWT_PUBLIC_KEY', 'LATTICE_JWT_JWKS_URL', 'LATTICE_JWT_ISSUER', 'LATTICE_JWT_AUDIENCE',
  'LATTICE_JWT_ALGORITHMS', 'LATTICE_JWT_CLAIM_SUBJECT', 'LATTICE_JWT_CLAIM_ROLE', 'LATTICE_JWT_CLAIM_PROJECT_IDS',
  'LATTICE_JWT_ROLE_MAP', 'LATTICE_JWT_DEFAULT_ROLE', 'LATTICE_JWT_CLOCK_TOLERANCE_SECONDS', 'LATTICE_JWT_JWKS_COOLDOWN_MS',
  'LATTICE_JWT_JWKS_CACHE_MAX_AGE_MS', 'LATTICE_PROXY_SECRET', 'LATTICE_PROXY_SECRET_HEADER',
];

/** Run `fn` with exactly `vars` among the authentication variables (restored afterwards, also on failure). */
export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map(AUTH_VARS.map((k) => [k, process.env[k]]));
  for (const k of AUTH_VARS) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const k of AUTH_VARS) delete process.env[k];
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}

/** A real server configured by `env` (not listening: use `app.inject`). */
export async function appWithEnv(t: TestDb, env: Record<string, string>): Promise<FastifyInstance> {
  const { app } = await withEnv(env, () => buildServer({ db: t.db, model: t.model }));
  await app.ready();
  return app;
}

/** A real server configured by `env`, listening on an ephemeral port (for subscriptions). */
export async function serveWithEnv(t: TestDb, env: Record<string, string>, live: LiveOptions = { coalesceMs: 30, recheckMs: 200 }): Promise<Served> {
  const { app } = await withEnv(env, () => buildServer({ db: t.db, model: t.model, live }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { app, base: `127.0.0.1:${addr.port}` };
}

/** Projects A and B with one experiment each (`a-visible`, `b-secret`), inserted as owner. */
export async function seedTwoProjects(t: TestDb): Promise<{ A: string; B: string }> {
  const A = await createProject(t.db, 'A');
  const B = await createProject(t.db, 'B');
  await insertRows(t.db, 'experiment', [
    { id: EXP_A, project_id: A, name: 'a-visible', kind: 'seed' },
    { id: EXP_B, project_id: B, name: 'b-secret', kind: 'seed' },
  ]);
  return { A, B };
}

/**
 * Names of the `seed` experiments the credentials in `headers` see over GraphQL and over REST (each must answer 200),
 * plus whether B's experiment can be fetched by id.
 */
export async function visible(app: FastifyInstance, headers: Record<string, string>): Promise<{ graphql: string[]; rest: string[]; bById: number }> {
  const g = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
    payload: { query: '{ experiments(filter: { kind: { eq: "seed" } }, order_by: [{ name: ASC }]) { name } }' },
  });
  expect(g.statusCode, g.body).toBe(200);
  const r = await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed&order_by=name', headers });
  expect(r.statusCode, r.body).toBe(200);
  const byId = await app.inject({ method: 'GET', url: `/api/v1/experiments/${EXP_B}`, headers });
  return {
    graphql: (g.json().data.experiments as { name: string }[]).map((e) => e.name),
    rest: (r.json().items as { name: string }[]).map((e) => e.name),
    bById: byId.statusCode,
  };
}

/**
 * Expect GraphQL and REST to refuse `headers` with `status`, code and a message matching `message`, and the
 * answer not to contain any of `secrets` (the token, its signature).
 * @returns the REST error message
 */
export async function expectRefused(
  app: FastifyInstance,
  headers: Record<string, string>,
  status: 401 | 403,
  message: RegExp,
  secrets: readonly string[] = [],
): Promise<string> {
  const code = status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN';
  const r = await app.inject({ method: 'GET', url: '/api/v1/experiments', headers });
  expect(r.statusCode, r.body).toBe(status);
  expect(r.json().error.code).toBe(code);
  expect(r.json().error.message).toMatch(message);
  // GraphQL over HTTP with the graphql-response media type answers the error's status (application/json: 200 for a 403).
  const g = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { ...headers, 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    payload: { query: '{ experiments { name } }' },
  });
  expect(g.statusCode, g.body).toBe(status);
  expect(g.json().errors[0].extensions.code).toBe(code);
  expect(g.json().errors[0].message).toMatch(message);
  for (const s of secrets) {
    expect(r.body).not.toContain(s);
    expect(g.body).not.toContain(s);
  }
  return r.json().error.message as string;
}

/** A graphql-ws client sending `headers` on the upgrade request and `connectionParams`, recording close codes. */
export function wsClientWith(s: Served, headers: Record<string, string>, connectionParams: Record<string, string>, closes: number[] = []): Client {
  class HeaderWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  }
  return createWsClient({
    url: `ws://${s.base}/graphql`,
    webSocketImpl: HeaderWebSocket,
    connectionParams,
    retryAttempts: 0,
    on: { closed: (e) => closes.push((e as { code: number }).code) },
  });
}

/** Subscribe over graphql-sse sending `headers`. */
export function subscribeSseWith(s: Served, headers: Record<string, string>, query: string): Collected {
  const client = createSseClient({ url: `http://${s.base}/graphql/stream`, headers, retryAttempts: 0 });
  const c: Collected = { events: [], errors: [], completed: false, finished: Promise.resolve(), dispose: () => undefined };
  let resolve!: () => void;
  (c as { finished: Promise<void> }).finished = new Promise<void>((r) => (resolve = r));
  const off = client.subscribe(
    { query },
    {
      next: (v) => c.events.push(v),
      error: (e) => {
        c.errors.push(e);
        resolve();
      },
      complete: () => {
        c.completed = true;
        resolve();
      },
    },
  );
  c.dispose = () => {
    off();
    client.dispose();
  };
  return c;
}

/** Insert an experiment as owner (fires the change notification like any write). @returns its id */
export async function insertExperiment(t: TestDb, projectId: string, name: string): Promise<string> {
  const [row] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: projectId, name, kind: 'live' }]);
  return row.id;
}

/** Expect `read()` (a settings reader such as `readJwtConfig(env)`) to throw a LatticeError whose message matches. */
export function expectConfigError(read: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    read();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(LatticeError);
  expect((error as Error).message).toMatch(message);
}
