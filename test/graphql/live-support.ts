/**
 * Helpers for subscription tests: a listening server with API keys, the real `graphql-ws` client (with the
 * `ws` WebSocket) and the real `graphql-sse` client, event collectors and polling.
 */
import type { FastifyInstance } from 'fastify';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { Role } from '../../src/auth/principal.js';
import type { Db } from '../../src/db/types.js';
import type { LiveOptions } from '../../src/live/hub.js';
import { liveHubOf } from '../../src/live/transports.js';
import type { Model } from '../../src/model/types.js';
import { buildServer } from '../../src/server/app.js';

/** A listening server. */
export interface Served {
  readonly app: FastifyInstance;
  readonly base: string;
}

/** Build and listen on an ephemeral port. */
export async function serve(db: Db, model: Model, live: LiveOptions = { coalesceMs: 30, recheckMs: 200 }): Promise<Served> {
  const { app } = await buildServer({ db, model, live });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { app, base: `127.0.0.1:${addr.port}` };
}

/** A `Bearer` header of a new key. */
export async function bearer(db: Db, role: Role, projectId: string | null): Promise<{ auth: string; id: string }> {
  const key = await createApiKey(db, { projectId, role });
  return { auth: `Bearer ${key.secret_key}`, id: key.id };
}

/** What one subscription received. */
export interface Collected {
  readonly events: any[];
  readonly errors: unknown[];
  completed: boolean;
  /** Resolves when the subscription completes or errors. */
  readonly finished: Promise<void>;
  dispose(): void;
}

function collector(start: (sink: { next(v: any): void; error(e: unknown): void; complete(): void }) => () => void): Collected {
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  const c: Collected = {
    events: [],
    errors: [],
    completed: false,
    finished,
    dispose: () => undefined,
  };
  c.dispose = start({
    next: (v) => c.events.push(v),
    error: (e) => {
      c.errors.push(e);
      resolve();
    },
    complete: () => {
      c.completed = true;
      resolve();
    },
  });
  return c;
}

/** A graphql-ws client (no retries unless asked), recording close codes. */
export function wsClient(s: Served, authorization: string | undefined, closes: number[] = []): Client {
  return createWsClient({
    url: `ws://${s.base}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    on: { closed: (e) => closes.push((e as { code: number }).code) },
  });
}

/** Subscribe over graphql-ws. */
export function subscribeWs(client: Client, query: string, variables?: Record<string, unknown>): Collected {
  return collector((sink) => client.subscribe({ query, variables }, sink));
}

/** Subscribe over graphql-sse (distinct connections mode) with `authorization`. */
export function subscribeSse(s: Served, authorization: string | undefined, query: string, variables?: Record<string, unknown>): Collected {
  const client = createSseClient({
    url: `http://${s.base}/graphql/stream`,
    headers: authorization ? { authorization } : {},
    retryAttempts: 0,
  });
  return collector((sink) => {
    const off = client.subscribe({ query, variables }, sink);
    return () => {
      off();
      client.dispose();
    };
  });
}

/** Poll `check` every 10 ms until it holds. @throws after `ms` */
export async function waitFor(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Wait until the server holds `n` open subscriptions. */
export function waitForSubscribers(s: Served, n: number): Promise<void> {
  return waitFor(() => (liveHubOf(s.app)?.size ?? 0) >= n, 5000, `${n} subscribers`);
}

/** POST /graphql. */
export async function gql(s: Served, authorization: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const res = await fetch(`http://${s.base}/graphql`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** POST /api/v1/<plural>. @returns the created row */
export async function restCreate(s: Served, authorization: string, plural: string, row: Record<string, unknown>): Promise<any> {
  const res = await fetch(`http://${s.base}/api/v1/${plural}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify(row),
  });
  if (res.status >= 300) throw new Error(`POST ${plural}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Sleep `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
