/**
 * A Fastify app serving only Lattice's GraphQL routes over a test database, with a test authentication hook
 * instead of API keys: the principal is fixed (`principal`), or comes from the `x-test-role` and
 * `x-test-projects` (comma-separated project ids) headers, with `defaultRole` when the role header is absent
 * and no principal at all for `x-test-role: none`.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Principal, Role } from '../../src/auth/principal.js';
import { graphqlRoutes } from '../../src/graphql/routes.js';
import type { Model } from '../../src/model/types.js';
import type { AppContext, QueryLimits } from '../../src/server/context.js';
import type { Db } from '../../src/db/types.js';
import { testPrincipal } from './db.js';

export interface GraphQLTestAppOptions {
  /** Every request runs as this principal (the headers are ignored). */
  readonly principal?: Principal;
  /** Role when no `x-test-role` header is sent (default `admin`). */
  readonly defaultRole?: Role;
  /** Default `{ maxLimit: 1000, maxDepth: 12 }`. */
  readonly limits?: QueryLimits;
  /** Request body limit in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
}

/** Build and ready the app (close it in `afterAll`). */
export async function graphqlTestApp(db: Db, model: Model, options: GraphQLTestAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify();
  app.addHook('onRequest', async (request) => {
    if (options.principal) {
      request.principal = options.principal;
      return;
    }
    const role = request.headers['x-test-role'];
    if (role === 'none') return;
    const projects = String(request.headers['x-test-projects'] ?? '').split(',').filter(Boolean);
    request.principal = testPrincipal((role as Role | undefined) ?? options.defaultRole ?? 'admin', projects);
  });
  const ctx: AppContext = {
    db,
    config: { mode: 'production', limits: options.limits ?? { maxLimit: 1000, maxDepth: 12 }, bodyLimit: options.bodyLimit ?? 1024 * 1024 },
    log: app.log,
    model: () => model,
  };
  await app.register(async (scope) => graphqlRoutes(scope, ctx));
  await app.ready();
  return app;
}
