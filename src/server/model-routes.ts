/**
 * Run-time model changes over HTTP (SPEC M-7), admin only:
 *
 * | route                          | body                                                   | answer |
 * |--------------------------------|--------------------------------------------------------|--------|
 * | `GET  /api/v1/model`           |                                                        | the served model: `{ version, name, hash, document }` |
 * | `POST /api/v1/model/diff`      | `{ model }`                                            | what applying it would do (`ModelChangeResult`, nothing applied) |
 * | `PUT  /api/v1/model`           | `{ model, allow_destructive?, base_version? }`         | `ModelChangeResult`; the instance serves the new model from the next request |
 *
 * `model` is the model document as JSON (the YAML file's content parsed; `lattice model apply` sends it).
 * A PUT whose changes drop or convert data is refused with 409 listing them in `details`, unless
 * `allow_destructive: true`. `base_version` (optional) guards against applying over a change someone else
 * made meanwhile: when it is not the served version, 409. Other instances swap when they receive the
 * NOTIFY `migrate` sends at commit (`ModelRegistry.follow`).
 */
import type { FastifyInstance } from 'fastify';
import { isAdmin } from '../auth/principal.js';
import { LatticeError, forbidden } from '../errors.js';
import { changeModel } from '../model-change/apply.js';
import { requirePrincipal } from './auth-hook.js';
import type { AppContext } from './context.js';

/** Body of `PUT /api/v1/model` (also `POST /api/v1/model/diff`, which ignores `base_version`). */
export const modelChangeBodySchema = {
  type: 'object',
  properties: {
    model: { type: 'object', description: 'The complete model document (as in a model YAML file), as JSON.' },
    allow_destructive: { type: 'boolean', default: false, description: 'Carry out changes that drop or convert data (listed in `destructive`).' },
    base_version: { type: 'integer', minimum: 0, description: 'The version this change was prepared against; 409 when another is served.' },
  },
  required: ['model'],
  additionalProperties: false,
} as const;

/** A model change's answer (`ModelChangeResult`). */
export const modelChangeResultSchema = {
  type: 'object',
  properties: {
    applied: { type: 'boolean' },
    version: { type: 'integer' },
    name: { type: 'string' },
    hash: { type: 'string' },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        properties: { op: { enum: ['add', 'remove', 'change'] }, path: { type: 'string' }, message: { type: 'string' }, destructive: { type: 'boolean' } },
      },
    },
    destructive: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
    statements: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The served model's answer. */
export const servedModelSchema = {
  type: 'object',
  properties: { version: { type: 'integer' }, name: { type: 'string' }, hash: { type: 'string' }, document: { type: 'object' } },
} as const;

interface ChangeBody {
  model: unknown;
  allow_destructive?: boolean;
  base_version?: number;
}

/** Register the model routes (see the module comment). */
export async function modelRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const registry = ctx.models;
  if (!registry) return;
  const requireAdmin = (request: Parameters<typeof requirePrincipal>[0]) => {
    const principal = requirePrincipal(request);
    if (!isAdmin(principal)) throw forbidden('Changing or reading the model needs an admin key.');
  };

  app.get('/api/v1/model', async (request) => {
    requireAdmin(request);
    const model = ctx.model();
    return { version: registry.version, name: model.name, hash: model.hash, document: model.document };
  });

  app.post('/api/v1/model/diff', { schema: { body: modelChangeBodySchema } }, async (request) => {
    requireAdmin(request);
    const body = request.body as ChangeBody;
    const running = registry.current();
    const { result } = await changeModel(ctx.db, running, body.model, { dryRun: true, source: 'api' });
    return result;
  });

  app.put('/api/v1/model', { schema: { body: modelChangeBodySchema } }, async (request) => {
    requireAdmin(request);
    const body = request.body as ChangeBody;
    const running = registry.current();
    const version = registry.version;
    if (body.base_version !== undefined && body.base_version !== version) {
      throw new LatticeError('CONFLICT', `base_version is ${body.base_version} but version ${version} is served; read the model again (GET /api/v1/model) and resend.`);
    }
    const { result, model } = await changeModel(ctx.db, running, body.model, {
      allowDestructive: body.allow_destructive === true,
      source: 'api',
      runningVersion: version > 0 ? version : undefined,
    });
    if (result.applied && registry.swap(model, result.version)) {
      ctx.log.info({ version: result.version, hash: result.hash, changes: result.changes.length }, 'Model changed through the API; now serving the new version');
    }
    return result;
  });
}
