/**
 * Test helper for REST tests: a Fastify app with only the REST plugin, whose principal comes from the
 * `x-test-principal` header (JSON of a Principal) instead of API keys, and small request helpers.
 */
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import type { Principal } from '../../src/auth/principal.js';
import { vectorStorageOf } from '../../src/db/migrate/index.js';
import { restRoutes } from '../../src/rest/routes.js';
import { DEFAULT_LIMITS, type AppContext } from '../../src/server/context.js';
import type { TestDb } from '../support/db.js';

/** Build the app (ready to `inject`). */
export async function buildRestApp(t: TestDb, maxLimit = 500): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.addHook('onRequest', async (request) => {
    const h = request.headers['x-test-principal'];
    if (typeof h === 'string') request.principal = JSON.parse(h) as Principal;
  });
  const ctx: AppContext = {
    db: t.db,
    config: { mode: 'production', limits: { ...DEFAULT_LIMITS, maxLimit }, bodyLimit: 10 * 1024 * 1024 },
    log: app.log,
    model: () => t.model,
    compile: { vectors: await vectorStorageOf(t.db) },
  };
  await app.register(async (scope) => restRoutes(scope, ctx));
  await app.ready();
  return app;
}

/** A request as `principal` (none = unauthenticated). */
export async function call(
  app: FastifyInstance,
  principal: Principal | undefined,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<LightMyRequestResponse & { data: any }> {
  const res = await app.inject({
    method,
    url,
    headers: principal ? { 'x-test-principal': JSON.stringify(principal) } : {},
    ...(body !== undefined ? { payload: body as object } : {}),
  });
  return Object.assign(res, { data: res.body ? JSON.parse(res.body) : undefined });
}
