/**
 * Health (SPEC R-4): `GET /api/health` and its alias `GET /api/public/health`, open without credentials.
 * 200 `{ status: 'ok', database: 'ok', model: { name, hash } }` when the database answers a ping (readiness);
 * 503 `{ status: 'unavailable', database: 'unreachable', code: 'DATABASE_UNAVAILABLE', model, request_id }` with
 * `Retry-After` when it does not (the same code and header every other route answers while the database is
 * unreachable, `src/server/errors.ts`).
 */
import type { FastifyInstance } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS } from '../errors.js';
import type { AppContext } from './context.js';

/** How long the database ping may take before the instance reports itself unavailable (ms). */
const PING_TIMEOUT_MS = 2_000;

/** The answer of the health routes (200 and 503). */
export const healthSchema = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    database: { type: 'string' },
    code: { type: 'string' },
    model: { type: 'object', properties: { name: { type: 'string' }, hash: { type: 'string' } } },
    request_id: { type: 'string' },
  },
} as const;

/** Register the health routes. */
export async function healthRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const handler = async (request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
    const model = ctx.model();
    const info = { name: model.name, hash: model.hash };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ctx.db.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`database ping timed out after ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
        }),
      ]);
      return reply.code(200).send({ status: 'ok', database: 'ok', model: info });
    } catch (err) {
      request.log.warn({ err }, 'health check: database unreachable');
      reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return reply.code(503).send({ status: 'unavailable', database: 'unreachable', code: 'DATABASE_UNAVAILABLE', model: info, request_id: String(request.id) });
    } finally {
      clearTimeout(timer);
    }
  };
  const opts = { schema: { response: { 200: healthSchema, 503: healthSchema } }, logLevel: 'warn' as const };
  app.get('/api/health', opts, handler);
  app.get('/api/public/health', opts, handler);
}
