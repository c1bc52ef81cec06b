/**
 * Per-principal rate limiting (SPEC G-12) with `@fastify/rate-limit`: a fixed one-minute window per key, in
 * memory (per instance; several instances behind a balancer each count their own requests).
 *
 * The key is the authenticated principal (`api_key:<id>`, `user:<id>`), set by the global authentication hook
 * (`onRequest`); the limit is checked in the next root `onRequest` hook, so before the body is read and before
 * route plugins' hooks (unauthenticated requests are limited too, per IP). Requests without credentials are keyed
 * by client IP (`request.ip`, which honours Fastify's `trustProxy`). `/api/health` (and `/api/public/health`)
 * are never limited, so load balancers' probes cannot exhaust a window. Beyond the limit the answer is 429
 * `RATE_LIMITED` in Lattice's error shape with `Retry-After` (seconds until the window resets) and the
 * `x-ratelimit-*` headers.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LatticeError } from '../errors.js';

/** Paths never rate-limited (health probes). */
const UNLIMITED = /^\/api\/(public\/)?health(\/|\?|$)/;

/** The rate-limit key of a request: its principal, else its IP. */
export function rateLimitKey(request: FastifyRequest): string {
  const p = request.principal;
  return p ? `${p.kind}:${p.id}` : `ip:${request.ip}`;
}

/**
 * Register rate limiting on `app`: call it right after the authentication hook, before the route plugins.
 * @param perMinute requests per minute per key; 0 registers nothing (off)
 */
export async function registerRateLimit(app: FastifyInstance, perMinute: number): Promise<void> {
  if (perMinute <= 0) return;
  await app.register(rateLimit, {
    // Not per route: one root onRequest hook (below), so it runs before the route plugins' own hooks (REST's
    // 401 for missing credentials), right after the authentication hook, before the body is read.
    global: false,
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: rateLimitKey,
    allowList: (request) => UNLIMITED.test(request.url),
    errorResponseBuilder: (_request, context) =>
      new LatticeError(
        'RATE_LIMITED',
        `Too many requests: at most ${context.max} per minute for this API key or user (LATTICE_RATE_LIMIT); retry in ${context.after} (see Retry-After).`,
      ),
  });
  app.addHook('onRequest', app.rateLimit());
}
