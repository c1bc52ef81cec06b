/**
 * `/graphql` per the GraphQL-over-HTTP specification (SPEC "GraphQL API"):
 * - `POST` with `application/json` body `{ query, variables, operationName }`;
 * - `GET` with query parameters (queries only: a mutation over GET is 405 with `Allow: POST`);
 * - `GET` from a browser asking for `text/html` without a query: GraphiQL (`graphiql.ts`, assets under
 *   `/graphql/assets/`);
 * - response media type by `Accept`: `application/graphql-response+json` (default; request errors are 4xx)
 *   or `application/json` (request errors are 200, as the spec prescribes for that legacy type); 406 if
 *   neither is acceptable; other methods 405.
 * Every data request needs a principal (set by the server's auth hook); without one: 401 UNAUTHENTICATED.
 * Errors of this scope (bad JSON, body too large) are answered in the GraphQL error shape.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../server/context.js';
import { formatErrors, statusOf } from './errors.js';
import { executeGraphQL, type GraphQLHttpResult, type GraphQLRequest } from './execute.js';
import { APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, negotiateMedia, requestFromBody, requestFromQueryString, wantsHtml, type ResponseMedia } from './http.js';
import { GRAPHIQL_HTML, graphiqlAssetRoutes } from './graphiql.js';
import { schemaFor } from './schema/build.js';

function send(reply: FastifyReply, media: ResponseMedia, result: GraphQLHttpResult): FastifyReply {
  // application/json: a well-formed request answers 200 whatever GraphQL errors it raised (spec §6.4.1).
  const status = media === APPLICATION_JSON && result.status >= 400 && result.status < 500 && ![401, 405, 406, 413, 415].includes(result.status) ? 200 : result.status;
  if (status === 405) reply.header('allow', result.allow ?? 'GET, POST');
  if (result.trace) {
    const t = result.trace;
    reply.header('server-timing', `parse;dur=${t.parse_validate_ms.toFixed(3)}, plan;dur=${t.plan_ms.toFixed(3)}, sql;dur=${t.sql_ms.toFixed(3)}`);
  }
  return reply.code(status).header('content-type', `${media}; charset=utf-8`).send(result.body);
}

function errorBody(ctx: AppContext, err: unknown): GraphQLHttpResult {
  const errors = formatErrors(err, { mode: ctx.config.mode, onInternal: (e) => ctx.log.error({ err: e }, 'GraphQL HTTP error') });
  return { status: statusOf(err), body: JSON.stringify({ errors }) };
}

function unauthenticatedResult(): GraphQLHttpResult {
  const message =
    'Authentication required: send "Authorization: Bearer <secret key>" (the key is printed by `lattice serve` and stored in .lattice/credentials).';
  return { status: 401, body: JSON.stringify({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] }) };
}

async function handle(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, read: () => GraphQLRequest, method: 'GET' | 'POST') {
  const media = negotiateMedia(request.headers.accept);
  if (!media) {
    const body = JSON.stringify({ errors: [{ message: `Not acceptable: ask for ${GRAPHQL_RESPONSE_JSON} or ${APPLICATION_JSON}.`, extensions: { code: 'BAD_USER_INPUT' } }] });
    return reply.code(406).header('content-type', `${APPLICATION_JSON}; charset=utf-8`).send(body);
  }
  if (!request.principal) {
    reply.header('www-authenticate', 'Bearer realm="lattice"');
    return send(reply, media, unauthenticatedResult());
  }
  let gqlRequest: GraphQLRequest;
  try {
    gqlRequest = read();
  } catch (err) {
    return send(reply, media, errorBody(ctx, err));
  }
  const model = ctx.model();
  const result = await executeGraphQL(
    { model, schema: schemaFor(model), db: ctx.db, principal: request.principal, config: ctx.config, log: request.log, compile: ctx.compile },
    gqlRequest,
    { method, trace: request.headers['x-lattice-trace'] === '1' },
  );
  return send(reply, media, result);
}

/**
 * Register `/graphql` on an (encapsulated) Fastify scope.
 * @param app the scope to register on (its error handler is set to answer in the GraphQL error shape)
 * @param ctx the running server's context (model, db, config, log)
 */
export async function graphqlRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const media = negotiateMedia(request.headers.accept) ?? GRAPHQL_RESPONSE_JSON;
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : undefined;
    if (status) {
      const code = status === 401 ? 'UNAUTHENTICATED' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT';
      const body = JSON.stringify({ errors: [{ message: err.message, extensions: { code } }] });
      return reply.code(status).header('content-type', `${media}; charset=utf-8`).send(body);
    }
    return send(reply, media, errorBody(ctx, err));
  });

  app.get('/graphql', async (request, reply) => {
    const params = (request.query ?? {}) as Record<string, unknown>;
    if (params.query === undefined && wantsHtml(request.headers.accept)) {
      return reply.header('content-type', 'text/html; charset=utf-8').send(GRAPHIQL_HTML);
    }
    return handle(ctx, request, reply, () => requestFromQueryString(params), 'GET');
  });

  graphiqlAssetRoutes(app);

  app.post('/graphql', async (request, reply) => handle(ctx, request, reply, () => requestFromBody(request.body), 'POST'));

  app.route({
    method: ['PUT', 'PATCH', 'DELETE'],
    url: '/graphql',
    handler: async (_request, reply) => {
      const body = JSON.stringify({ errors: [{ message: 'Use GET (queries) or POST on /graphql.', extensions: { code: 'BAD_USER_INPUT' } }] });
      return reply.code(405).header('allow', 'GET, POST').header('content-type', `${APPLICATION_JSON}; charset=utf-8`).send(body);
    },
  });
}
