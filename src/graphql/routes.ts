/**
 * `/graphql` per the GraphQL-over-HTTP specification (SPEC "GraphQL API"):
 * - `POST` with `application/json` body `{ query, variables, operationName, extensions, documentId }`;
 * - `GET` with query parameters (queries only: a mutation over GET is 405 with `Allow: POST`);
 * - persisted documents (`persisted.ts`, SPEC G-13): APQ (`extensions.persistedQuery`, also over GET so CDNs can
 *   cache hash-only URLs) and, with `LATTICE_TRUSTED_DOCUMENTS`, only allow-listed documents; the document text
 *   is resolved here and handed to `executeGraphQL` like any other;
 * - `GET` from a browser asking for `text/html` without a query: GraphiQL (`graphiql.ts`, assets under
 *   `/graphql/assets/`);
 * - response media type by `Accept`: `application/graphql-response+json` when asked for by name (request errors
 *   are 4xx) or `application/json` (also without `Accept` or with only the wildcard; errors of a well-formed
 *   request are 200, as the spec prescribes for that legacy type; malformed requests stay 4xx); 406 if neither
 *   is acceptable; other methods 405. A database that cannot be reached answers 503 with `Retry-After`.
 * Every data request needs a principal (set by the server's auth hook); without one: 401 UNAUTHENTICATED.
 * Errors of this scope (bad JSON, body too large) are answered in the GraphQL error shape.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS } from '../errors.js';
import type { AppContext } from '../server/context.js';
import { unsupportedMediaMessage } from '../server/errors.js';
import { graphqlOperationName, metrics } from '../server/metrics.js';
import { setRequestSpanAttribute } from '../server/telemetry.js';
import { formatErrors, statusOf } from './errors.js';
import { executeGraphQL, type GraphQLHttpResult, type GraphQLRequest } from './execute.js';
import {
  APPLICATION_JSON,
  GRAPHQL_RESPONSE_JSON,
  negotiateMedia,
  requestFromBody,
  requestFromQueryString,
  wantsHtml,
  type GraphQLHttpParams,
  type ResponseMedia,
} from './http.js';
import { PersistedDocuments, persistedQueryNotFoundBody, type Resolution } from './persisted.js';
import { GRAPHIQL_HTML, graphiqlAssetRoutes } from './graphiql.js';
import { schemaFor } from './schema/build.js';

/**
 * Write a GraphQL answer.
 * @param malformed the request was not well-formed (parameters of the wrong type, no document, an unknown or
 *        refused persisted document): its 4xx status stands for `application/json` too (GraphQL over HTTP:
 *        only a well-formed request's errors answer 200 there)
 */
function send(reply: FastifyReply, media: ResponseMedia, result: GraphQLHttpResult, malformed = false): FastifyReply {
  // application/json: a well-formed request answers 200 whatever GraphQL errors it raised (spec §6.4.1).
  const downgrade = !malformed && media === APPLICATION_JSON && result.status >= 400 && result.status < 500 && ![401, 405, 406, 413, 415].includes(result.status);
  const status = downgrade ? 200 : result.status;
  if (status === 405) reply.header('allow', result.allow ?? 'GET, POST');
  if (status === 503) {
    reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
    reply.log.warn({ status }, 'GraphQL request answered 503: the database is unavailable');
  }
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

async function handle(
  ctx: AppContext,
  persisted: PersistedDocuments,
  request: FastifyRequest,
  reply: FastifyReply,
  read: () => GraphQLHttpParams,
  method: 'GET' | 'POST',
) {
  const media = negotiateMedia(request.headers.accept);
  if (!media) {
    const body = JSON.stringify({ errors: [{ message: `Not acceptable: ask for ${GRAPHQL_RESPONSE_JSON} or ${APPLICATION_JSON}.`, extensions: { code: 'BAD_USER_INPUT' } }] });
    return reply.code(406).header('content-type', `${APPLICATION_JSON}; charset=utf-8`).send(body);
  }
  if (!request.principal) {
    reply.header('www-authenticate', 'Bearer realm="lattice"');
    return send(reply, media, unauthenticatedResult());
  }
  let params: GraphQLHttpParams;
  let resolution: Resolution;
  try {
    params = read();
    resolution = persisted.resolve(params);
  } catch (err) {
    return send(reply, media, errorBody(ctx, err), true);
  }
  if (resolution.kind === 'not-found') {
    // Apollo's APQ protocol: 200 with PERSISTED_QUERY_NOT_FOUND, never cached (a GET miss must not stick in a CDN).
    reply.header('cache-control', 'private, no-cache, must-revalidate');
    return send(reply, media, { status: 200, body: persistedQueryNotFoundBody(resolution.hash) });
  }
  const gqlRequest: GraphQLRequest = { query: resolution.query, variables: params.variables, operationName: params.operationName };
  const model = ctx.model();
  const operationName = graphqlOperationName(params.operationName, resolution.query);
  setRequestSpanAttribute('graphql.operation.name', operationName);
  const started = process.hrtime.bigint();
  const result = await executeGraphQL(
    { model, schema: schemaFor(model), db: ctx.db, principal: request.principal, config: ctx.config, log: request.log, compile: ctx.compile },
    gqlRequest,
    { method, trace: request.headers['x-lattice-trace'] === '1' },
  );
  // Outcome: executeGraphQL writes `errors` first when there are any; an answer starting with `data` is ok.
  const ok = result.status < 400 && result.body.startsWith('{"data"');
  metrics.observeGraphql(operationName, ok, Number(process.hrtime.bigint() - started) / 1e9);
  if (resolution.register !== undefined && result.status < 400) persisted.register(resolution.register, resolution.query);
  return send(reply, media, result);
}

/** The message of a Fastify client error answered by the GraphQL scope. */
function clientErrorMessage(err: FastifyError, request: FastifyRequest): string {
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaMessage(request.headers['content-type']);
  return err.message;
}

/**
 * Register `/graphql` on an (encapsulated) Fastify scope.
 * @param app the scope to register on (its error handler is set to answer in the GraphQL error shape)
 * @param ctx the running server's context (model, db, config, log)
 */
export async function graphqlRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const persisted = ctx.persisted ?? new PersistedDocuments();
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const media = negotiateMedia(request.headers.accept) ?? GRAPHQL_RESPONSE_JSON;
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : undefined;
    if (status) {
      const code = status === 401 ? 'UNAUTHENTICATED' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT';
      const body = JSON.stringify({ errors: [{ message: clientErrorMessage(err, request), extensions: { code } }] });
      return reply.code(status).header('content-type', `${media}; charset=utf-8`).send(body);
    }
    return send(reply, media, errorBody(ctx, err), true);
  });

  app.get('/graphql', async (request, reply) => {
    const params = (request.query ?? {}) as Record<string, unknown>;
    if (params.query === undefined && wantsHtml(request.headers.accept)) {
      return reply.header('content-type', 'text/html; charset=utf-8').send(GRAPHIQL_HTML);
    }
    return handle(ctx, persisted, request, reply, () => requestFromQueryString(params), 'GET');
  });

  graphiqlAssetRoutes(app);

  app.post('/graphql', async (request, reply) => handle(ctx, persisted, request, reply, () => requestFromBody(request.body), 'POST'));

  app.route({
    method: ['PUT', 'PATCH', 'DELETE'],
    url: '/graphql',
    handler: async (_request, reply) => {
      const body = JSON.stringify({ errors: [{ message: 'Use GET (queries) or POST on /graphql.', extensions: { code: 'BAD_USER_INPUT' } }] });
      return reply.code(405).header('allow', 'GET, POST').header('content-type', `${APPLICATION_JSON}; charset=utf-8`).send(body);
    },
  });
}
