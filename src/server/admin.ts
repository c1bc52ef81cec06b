/**
 * Administration of projects and API keys (SPEC ), under `/api/v1/projects`:
 *
 * | route                                         | who                                   |
 * |-----------------------------------------------|---------------------------------------|
 * | `POST   /api/v1/projects` `{name}`            | admin → 201 project                   |
 * | `GET    /api/v1/projects`                     | admin: all; others: their projects    |
 * | `GET    /api/v1/projects/{id}`                | admin, or a key of that project       |
 * | `POST   /api/v1/projects/{id}/keys` `{role, name?, expires_at?}` | admin, or an owner of the project → 201 with the secret (once) |
 * | `GET    /api/v1/projects/{id}/keys`           | admin, or an owner of the project (no secrets) |
 * | `DELETE /api/v1/projects/{id}/keys/{key_id}`  | admin, or an owner of the project → the revoked key |
 *
 * "An owner of the project": an owner key of it, or a user whose role in it is owner (a membership, or a token
 * naming the project with role owner). Users and members: `members.ts`, registered from here.
 * Permission is checked before any lookup, so a non-admin learns nothing about other projects.
 */
import type { FastifyInstance } from 'fastify';
import { createApiKey, listApiKeys, parseExpiry, PROJECT_ROLES, revokeApiKey, type ProjectRole } from '../auth/api-keys.js';
import { isAdmin, requireAdmin, requireOwner } from '../auth/principal.js';
import { createProject, getProject, listProjects } from '../auth/projects.js';
import { notFound } from '../errors.js';
import { requirePrincipal } from './auth-hook.js';
import type { AppContext } from './context.js';
import { errorBodySchema } from './errors.js';
import { memberRoutes } from './members.js';
import { UUID_JSON_SCHEMA } from '../uuid.js';

const uuid = UUID_JSON_SCHEMA;
/** A project as the administration routes answer it. */
export const projectSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, created_at: { type: 'string' }, updated_at: { type: 'string' } },
} as const;
/** Properties shared by every key answer (never the secret's hash). */
const keyProperties = {
  id: { type: 'string' },
  project_id: { type: ['string', 'null'] },
  role: { type: 'string' },
  name: { type: ['string', 'null'] },
  public_key: { type: 'string' },
} as const;
/** An API key as listed or revoked (never the secret or its hash). */
export const keyInfoSchema = {
  type: 'object',
  properties: {
    ...keyProperties,
    created_at: { type: 'string' },
    revoked_at: { type: ['string', 'null'] },
    last_used_at: { type: ['string', 'null'], description: 'Refreshed at most once a minute.' },
    expires_at: { type: ['string', 'null'], description: 'The key is refused from this instant on; null: never expires.' },
  },
} as const;
/** The answer of key creation: the only time the secret is shown. */
export const createdKeySchema = {
  type: 'object',
  properties: { ...keyProperties, secret_key: { type: 'string' }, expires_at: { type: ['string', 'null'] } },
} as const;
const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema } as const;
export const projectParams = { type: 'object', properties: { id: uuid }, required: ['id'], additionalProperties: false } as const;
export const keyParams = {
  type: 'object',
  properties: { id: uuid, key_id: uuid },
  required: ['id', 'key_id'],
  additionalProperties: false,
} as const;

/** Body of `POST /api/v1/projects`. */
export const projectBodySchema = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['name'],
  additionalProperties: false,
} as const;
/** Body of `POST /api/v1/projects/{id}/keys`. */
export const keyBodySchema = {
  type: 'object',
  properties: {
    role: { type: 'string', enum: [...PROJECT_ROLES] },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    expires_at: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: 'When the key stops working: an ISO-8601 date-time with a time zone (2026-12-31T00:00:00Z) or a date (midnight UTC), in the future. Omitted: never.',
    },
  },
  required: ['role'],
  additionalProperties: false,
} as const;

/** Register the administration routes on `app`. */
export async function adminRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const db = ctx.db;

  async function existingProject(id: string) {
    const project = await getProject(db, id);
    if (!project) throw notFound(`Project ${id} does not exist.`);
    return project;
  }

  app.post<{ Body: { name: string } }>(
    '/api/v1/projects',
    {
      schema: {
        body: projectBodySchema,
        response: { 201: projectSchema, ...errors },
      },
    },
    async (request, reply) => {
      requireAdmin(requirePrincipal(request), 'create projects');
      const project = await createProject(db, request.body.name);
      request.log.info({ project_id: project.id }, 'project created');
      return reply.code(201).send(project);
    },
  );

  app.get(
    '/api/v1/projects',
    {
      schema: {
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: projectSchema }, total_count: { type: 'integer' } } },
          ...errors,
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const items = await listProjects(db, isAdmin(principal) ? undefined : principal.projectIds);
      return { items, total_count: items.length };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/projects/:id',
    { schema: { params: projectParams, response: { 200: projectSchema, ...errors } } },
    async (request) => {
      const principal = requirePrincipal(request);
      const { id } = request.params;
      if (!isAdmin(principal) && !principal.projectIds.includes(id)) throw notFound(`Project ${id} does not exist.`);
      return existingProject(id);
    },
  );

  app.post<{ Params: { id: string }; Body: { role: ProjectRole; name?: string; expires_at?: string } }>(
    '/api/v1/projects/:id/keys',
    {
      schema: {
        params: projectParams,
        body: keyBodySchema,
        response: { 201: createdKeySchema, ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      requireOwner(requirePrincipal(request), id);
      const expiresAt = request.body.expires_at === undefined ? null : parseExpiry(request.body.expires_at);
      await existingProject(id);
      const key = await createApiKey(db, { projectId: id, role: request.body.role, name: request.body.name ?? null, expiresAt });
      request.log.info({ project_id: id, key_id: key.id, role: key.role }, 'api key created');
      return reply.code(201).send(key);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/projects/:id/keys',
    {
      schema: {
        params: projectParams,
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: keyInfoSchema }, total_count: { type: 'integer' } } },
          ...errors,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      requireOwner(requirePrincipal(request), id);
      await existingProject(id);
      const items = await listApiKeys(db, { projectId: id });
      return { items, total_count: items.length };
    },
  );

  app.delete<{ Params: { id: string; key_id: string } }>(
    '/api/v1/projects/:id/keys/:key_id',
    { schema: { params: keyParams, response: { 200: keyInfoSchema, ...errors } } },
    async (request) => {
      const { id, key_id } = request.params;
      requireOwner(requirePrincipal(request), id);
      const revoked = await revokeApiKey(db, key_id, { projectId: id });
      if (!revoked) {
        await existingProject(id); // a project that does not exist is named as such
        throw notFound(`Project ${id} has no API key ${key_id}.`);
      }
      request.log.info({ project_id: id, key_id }, 'api key revoked');
      return revoked;
    },
  );

  await memberRoutes(app, ctx);
}
