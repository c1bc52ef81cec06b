/**
 * Subscription transports (SPEC G-8) on the Fastify server, with the protocol libraries themselves:
 * - WebSocket, `graphql-transport-ws` protocol (`graphql-ws` 6 over `ws` 8) at `/graphql`: the `ws` server
 *   takes the HTTP server's `upgrade` requests for that path (others are refused with 404).
 *   Authentication at `connection_init`: `connectionParams.authorization` (or `Authorization`) holds the same
 *   value as the HTTP header (`Bearer <secret key or JWT>` or `Basic …`); trusted proxy headers come from the
 *   upgrade request. Both go through the server's authenticator (`src/server/auth-hook.ts`), like HTTP
 *   requests; missing or invalid credentials close the socket with 4403 Forbidden before any operation runs.
 *   Queries and mutations sent over the socket run through `executeGraphQL` like HTTP requests.
 * - Server-Sent Events, GraphQL-over-SSE protocol (`graphql-sse` 2, its Fastify handler) at `/graphql/stream`
 *   (a separate path so `/graphql`'s GraphQL-over-HTTP handling stays as it is). Authentication: the
 *   request's headers, through the server's auth hook (invalid credentials: 401 before the handler; none: 401).
 * Both re-check the credentials while the subscription lives (`hub.ts`): a revoked key's or an expired token's
 * subscriptions end with an UNAUTHENTICATED error. In trusted-documents mode (`src/graphql/persisted.ts`) only
 * allow-listed document texts are accepted (`PERSISTED_QUERY_REQUIRED` otherwise).
 *
 * Shutdown (issue 6 item 5): on `app.close()` (SIGTERM/SIGINT in `lattice serve`), a `preClose` hook closes every
 * WebSocket with 1001 "going away" (graphql-ws clients reconnect, to another instance behind a balancer), then
 * ends every subscription (SSE streams receive `complete` and end); Fastify then stops accepting and drains
 * ordinary requests.
 */
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { createHandler as createSseHandler } from 'graphql-sse/lib/use/fastify';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Model } from '../model/types.js';
import type { Principal } from '../auth/principal.js';
import type { HeaderBag } from '../auth/proxy.js';
import { authenticatorOf, type Authenticator } from '../server/auth-hook.js';
import { checkDocumentNesting, checkJsonNesting } from '../nesting.js';
import type { AppContext } from '../server/context.js';
import { cachedDocument, parseDocument, validateDocument } from '../graphql/document.js';
import { formatErrors } from '../graphql/errors.js';
import { executeGraphQL, type GraphQLRequest } from '../graphql/execute.js';
import { selectOperation } from '../graphql/plan/operation.js';
import { schemaFor } from '../graphql/schema/build.js';
import { LiveHub, type LiveOptions } from './hub.js';
import { planSubscription } from './plan.js';

/** WebSocket path (graphql-ws). */
export const WS_PATH = '/graphql';
/** SSE path (graphql-sse). */
export const SSE_PATH = '/graphql/stream';
/** Close code sent to WebSocket clients on shutdown (RFC 6455 "going away"). */
export const GOING_AWAY = 1001;

/** What `onSubscribe` hands to `execute` / `subscribe`. */
type LiveContextValue = {
  readonly principal: Principal;
  /** Re-checks the credentials `principal` came from (the hub calls it while the subscription lives). */
  readonly reauthenticate: () => Promise<Principal | null>;
  readonly request: GraphQLRequest;
};

const hubs = new WeakMap<FastifyInstance, LiveHub>();

/** The hub of a server built by `buildServer` (tests, metrics). */
export function liveHubOf(app: FastifyInstance): LiveHub | undefined {
  return hubs.get(app);
}

/**
 * The `GraphQLError` class graphql-ws checks `onSubscribe`'s answer against (`instanceof`): the one Node resolves
 * for a bare `graphql` import from a dependency (its CommonJS build). Under Vite/Vitest our own `import 'graphql'`
 * may be the ESM build (the dual package hazard), whose errors graphql-ws would reject as "invalid".
 */
const NodeGraphQLError = (createRequire(import.meta.url)('graphql') as typeof import('graphql')).GraphQLError;

function asGraphQLErrors(ctx: AppContext, err: unknown): GraphQLError[] {
  return formatErrors(err, { mode: ctx.config.mode, onInternal: (e) => ctx.log.error({ err: e }, 'GraphQL subscription error') }).map(
    (e) => new NodeGraphQLError(e.message, { extensions: e.extensions }),
  );
}

/**
 * Validate and (for subscriptions) plan a request: the execution arguments both transports hand to the library.
 * @returns ExecutionArgs whose `contextValue` is a {@link LiveContextValue}, or GraphQL errors (with codes)
 */
function prepare(ctx: AppContext, principal: Principal, reauthenticate: () => Promise<Principal | null>, request: GraphQLRequest): ExecutionArgs | GraphQLError[] {
  try {
    const model = ctx.model();
    const schema = schemaFor(model);
    const validation = { introspection: ctx.config.introspection };
    // Trusted-documents mode (SPEC G-13): only allow-listed texts, as over HTTP.
    ctx.persisted?.assertTrusted(request.query);
    let document = cachedDocument(schema, request.query, validation);
    if (!document) {
      checkDocumentNesting(request.query);
      document = validateDocument(schema, request.query, parseDocument(request.query), validation);
    }
    if (request.variables) checkJsonNesting(request.variables, 'variables');
    const op = selectOperation(document, request.operationName);
    const contextValue: LiveContextValue & { plan?: ReturnType<typeof planSubscription> } = { principal, reauthenticate, request };
    if (op.operation === 'subscription') {
      contextValue.plan = planSubscription({ model, schema, principal, limits: ctx.config.limits }, document, op, request.variables);
    }
    return { schema, document, operationName: request.operationName, variableValues: request.variables, contextValue };
  } catch (err) {
    return asGraphQLErrors(ctx, err);
  }
}

/** Run a subscription prepared by `prepare`. */
async function subscribe(ctx: AppContext, hub: LiveHub, args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const c = args.contextValue as LiveContextValue & { plan?: ReturnType<typeof planSubscription> };
  if (!c.plan) return { errors: [new GraphQLError('Not a subscription.', { extensions: { code: 'BAD_USER_INPUT' } })] };
  try {
    const replan = (model: Model) => {
      // The same document, validated and planned against the new model's schema (SPEC M-7).
      const schema = schemaFor(model);
      const validation = { introspection: ctx.config.introspection };
      const document = cachedDocument(schema, c.request.query, validation) ?? validateDocument(schema, c.request.query, parseDocument(c.request.query), validation);
      const op = selectOperation(document, c.request.operationName);
      return planSubscription({ model, schema, principal: c.principal, limits: ctx.config.limits }, document, op, c.request.variables);
    };
    return await hub.subscribe({ principal: c.principal, reauthenticate: c.reauthenticate, plan: c.plan, replan });
  } catch (err) {
    return { errors: asGraphQLErrors(ctx, err) };
  }
}

/** Run a query or mutation sent over a subscription transport, as over HTTP. */
async function execute(ctx: AppContext, args: ExecutionArgs): Promise<ExecutionResult> {
  const c = args.contextValue as LiveContextValue;
  const model = ctx.model();
  const result = await executeGraphQL(
    { model, schema: schemaFor(model), db: ctx.db, principal: c.principal, config: ctx.config, log: ctx.log, compile: ctx.compile },
    c.request,
  );
  return JSON.parse(result.body) as ExecutionResult;
}

function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const v = params?.authorization ?? params?.Authorization;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The hub's re-check of credentials given as headers. */
function recheckOf(auth: Authenticator, headers: HeaderBag): () => Promise<Principal | null> {
  return () => auth.recheck(headers);
}

/**
 * Create the live hub and register both transports and the shutdown hook on the root Fastify instance.
 * @returns the hub (also available through {@link liveHubOf})
 */
export function registerLive(app: FastifyInstance, ctx: AppContext, options: LiveOptions = {}): LiveHub {
  const hub = new LiveHub({ db: ctx.db, model: ctx.model, models: ctx.models, compile: ctx.compile, log: ctx.log }, options);
  hubs.set(app, hub);
  const auth = authenticatorOf(app);

  // --- WebSocket (graphql-ws) ---
  const wss = new WebSocketServer({ noServer: true, maxPayload: ctx.config.bodyLimit });
  app.server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  type Extra = { principal?: Principal; credentials?: HeaderBag };
  useServer<Record<string, unknown>, Extra>(
    {
      onConnect: async (c) => {
        // The key or token from the connection parameters; proxy headers from the upgrade request.
        const credentials: HeaderBag = { ...c.extra.request.headers, authorization: authorizationOf(c.connectionParams) };
        const principal = await auth.authenticate(credentials).catch(() => null);
        if (!principal) return false; // graphql-ws closes with 4403 Forbidden
        c.extra.principal = principal;
        c.extra.credentials = credentials;
        return true;
      },
      onSubscribe: (c, _id, payload) => {
        const request: GraphQLRequest = { query: payload.query, variables: payload.variables ?? undefined, operationName: payload.operationName ?? undefined };
        return prepare(ctx, c.extra.principal!, recheckOf(auth, c.extra.credentials!), request);
      },
      subscribe: (args) => subscribe(ctx, hub, args),
      execute: (args) => execute(ctx, args),
    },
    wss,
  );

  // --- Server-Sent Events (graphql-sse) ---
  const sse = createSseHandler<LiveContextValue>({
    // `onSubscribe` (prepare) has validated the document already, with the document cache and our rules.
    validate: () => [],
    authenticate: (req) => {
      const request = req.raw as FastifyRequest;
      // The stream token (graphql-sse's single-connection mode reserves a stream per token): per credentials.
      if (request.principal) return request.headers.authorization ?? `user:${request.principal.id}`;
      const body = JSON.stringify({ errors: [{ message: 'Authentication required: send "Authorization: Bearer <secret key>".', extensions: { code: 'UNAUTHENTICATED' } }] });
      return [body, { status: 401, statusText: 'Unauthorized', headers: { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Bearer realm="lattice"' } }];
    },
    onSubscribe: (req, params) => {
      const request = req.raw as FastifyRequest;
      const prepared = prepare(ctx, request.principal!, recheckOf(auth, request.headers), {
        query: params.query as string,
        variables: params.variables ?? undefined,
        operationName: params.operationName ?? undefined,
      });
      if (Array.isArray(prepared)) return { errors: prepared };
      return prepared as ExecutionArgs & { contextValue: LiveContextValue };
    },
    subscribe: (args) => subscribe(ctx, hub, args),
    execute: (args) => execute(ctx, args),
  });
  /** SSE responses being written (awaited at shutdown, so their connections are idle when Fastify closes them). */
  const streams = new Set<Promise<void>>();
  let closing = false;
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE'],
    url: SSE_PATH,
    handler: async (request, reply) => {
      reply.hijack();
      // During shutdown, ask the client not to reuse the connection.
      if (closing) reply.header('connection', 'close');
      const done = sse(request, reply).catch((err: unknown) => {
        request.log.error({ err }, 'GraphQL SSE handler failed');
        if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end();
      });
      streams.add(done);
      try {
        await done;
      } finally {
        streams.delete(done);
      }
    },
  });

  // --- Shutdown ---
  app.addHook('preClose', async () => {
    closing = true;
    for (const client of wss.clients) client.close(GOING_AWAY, 'The server is shutting down; reconnect.');
    await hub.close();
    // Ended subscriptions finish their SSE responses asynchronously (a `complete` event, then the end); wait
    // (at most 5 s) so Fastify finds those keep-alive connections idle and closes them at once.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...streams]), new Promise((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
  });
  app.addHook('onClose', async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return hub;
}
