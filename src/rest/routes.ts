/**
 * The REST plugin (SPEC R-1 create/get/list/patch/delete with `filter`, `search` and `nearest`, R-2 ingestion):
 * `/api/v1/<plural>` for every data entity of the model served when the request arrives (routes registered once,
 * resolved per request, so a run-time model change needs no restart: SPEC M-7) and `POST /api/v1/ingest`, with
 * JSON schemas generated from that model.
 *
 * Scoped to this plugin: its own AJV validator compiler (bodies are never coerced and unknown fields are
 * refused, not stripped; query strings are coerced and defaulted), an `onRequest` hook requiring a principal
 * (401), and an error handler that turns validation failures into BAD_USER_INPUT with `details`
 * (`body[2].trial_id`, `querystring.limit`) and everything else into the standard error shape
 * (`src/server/errors.ts`: LatticeErrors with their status, anything else INTERNAL without database text).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorObject } from 'ajv';
import { badInput } from '../errors.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { sendError } from '../server/errors.js';
import { isUnknownEntityPath, registerEntityRoutes, unknownRoute } from './entity-routes.js';
import { registerIngestRoute } from './ingest.js';
import { ajvDetails, createValidators } from './validate.js';

/**
 * Register the REST routes of the current model on `app` (call it inside an encapsulated plugin scope: it sets
 * the scope's validator compiler and error handler).
 */
export async function restRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const validators = createValidators();
  app.setValidatorCompiler(validators.compiler);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (Array.isArray(err.validation)) {
      const details = ajvDetails(err.validationContext ?? 'body', err.validation as unknown as ErrorObject[]);
      const summary = details.map((d) => `${d.path} ${d.message}`).join('; ');
      return sendError(request, reply, badInput(`Invalid request: ${summary}.`, details), ctx.config.mode);
    }
    return sendError(request, reply, err, ctx.config.mode);
  });
  app.addHook('onRequest', async (request) => {
    if (isUnknownEntityPath(request, ctx)) throw unknownRoute(request);
    requirePrincipal(request);
  });

  registerEntityRoutes(app, ctx, validators);
  registerIngestRoute(app, ctx, validators);
}
