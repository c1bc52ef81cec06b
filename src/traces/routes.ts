/**
 * The route plugin of the traces preset (SPEC R-6): Langfuse's public API — batch ingestion
 * (`langfuse-ingestion.ts`), reads and scores (`langfuse-read.ts`), prompts (`prompts.ts`) — under
 * `/api/public/...`, authenticated like every route (Basic public key : secret key, as the Langfuse SDKs send).
 *
 * Tied to the preset by shape (`model.ts`): the routes are registered when the model served at start has the
 * traces entities, and every request checks the model served when it arrives, answering 404 when a run-time
 * model change (SPEC M-7) removed them. (Routes cannot be added to a running Fastify instance: a server started
 * on another model gets these routes at its next start.) Registered routes are not in `/api/openapi.json`,
 * which documents the generic REST API of the model.
 *
 * Scoped to this plugin: the REST plugin's validators (bodies never coerced, unknown fields refused; query
 * strings converted strictly) and its error shape, validation failures answering BAD_USER_INPUT with details.
 */
import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyInstance } from 'fastify';
import { badInput } from '../errors.js';
import { ajvDetails, createValidators } from '../rest/validate.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { sendError } from '../server/errors.js';
import { registerLangfuseIngestion } from './langfuse-ingestion.js';
import { registerLangfuseReads } from './langfuse-read.js';
import { requireTracesModel, tracesModelOf } from './model.js';
import { registerPromptRoutes } from './prompts.js';

/**
 * Register the traces preset's routes when `ctx.model()` has the traces shape (else nothing). Call it inside an
 * encapsulated plugin scope: it sets the scope's validator compiler, error handler and request hook.
 */
export async function tracesRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  if (!tracesModelOf(ctx.model())) return;
  const validators = createValidators();
  app.setValidatorCompiler(validators.compiler);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (Array.isArray(err.validation)) {
      const details = ajvDetails(err.validationContext ?? 'body', err.validation as unknown as ErrorObject[]);
      return sendError(request, reply, badInput(`Invalid request: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}.`, details), ctx.config.mode);
    }
    return sendError(request, reply, err, ctx.config.mode);
  });
  app.addHook('onRequest', async (request) => {
    requireTracesModel(ctx.model(), `${request.method} ${request.url.split('?')[0]}`);
    requirePrincipal(request);
  });
  registerLangfuseIngestion(app, ctx);
  registerLangfuseReads(app, ctx);
  registerPromptRoutes(app, ctx);
}
