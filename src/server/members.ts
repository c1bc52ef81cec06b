/**
 * Users and memberships (SPEC ), registered by `admin.ts`:
 *
 * | route                                                     | who                                            |
 * |-----------------------------------------------------------|------------------------------------------------|
 * | `POST   /api/v1/admin/users` `{subject, issuer?, email?, name?}` | admin → 201 user                         |
 * | `GET    /api/v1/admin/users`                              | admin                                          |
 * | `GET    /api/v1/admin/users/{id}`                         | admin, or that user → the user and its memberships |
 * | `POST   /api/v1/projects/{id}/members` `{user_id, role}`  | admin, or an owner of the project → 201 new member, 200 role changed |
 * | `GET    /api/v1/projects/{id}/members`                    | admin, or an owner of the project              |
 * | `PATCH  /api/v1/projects/{id}/members/{user_id}` `{role}` | admin, or an owner of the project → 200        |
 * | `DELETE /api/v1/projects/{id}/members/{user_id}`          | admin, or an owner of the project → the ended membership |
 *
 * Users are under `/api/v1/admin/`, not `/api/v1/users`: data entities are served at `/api/v1/{plural}`, and a
 * model may well have a `user` entity (the catalog preset does), whose routes a fixed `/api/v1/users` would shadow.
 * Users are also created on first sight of a token or proxy identity (`src/auth/memberships.ts`). Permission is
 * checked before any look-up, so an owner of one project learns nothing about another.
 */
import type { FastifyInstance } from 'fastify';
import { changeMemberRole, listMembers, membershipsOf, removeMembership, setMembership } from '../auth/memberships.js';
import { PROJECT_ROLES, requireAdmin, requireOwner, type ProjectRole } from '../auth/principal.js';
import { getProject } from '../auth/projects.js';
import { createUser, getUser, listUsers, MAX_SUBJECT_LENGTH, MAX_USER_TEXT } from '../auth/users.js';
import { forbidden, notFound } from '../errors.js';
import { UUID_JSON_SCHEMA } from '../uuid.js';
import { requirePrincipal } from './auth-hook.js';
import type { AppContext } from './context.js';
import { errorBodySchema } from './errors.js';

const uuid = UUID_JSON_SCHEMA;
const nullableString = { type: ['string', 'null'] } as const;

/** A user as the administration routes answer it. */
export const userSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    issuer: { type: 'string', description: "The token issuer (iss) of the user's identity; '' for proxy identities and tokens without iss." },
    subject: { ...nullableString, description: 'The subject its identity provider (or the trusted proxy) presents.' },
    email: nullableString,
    name: nullableString,
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;
/** A project and the user's role in it. */
const projectMembershipSchema = {
  type: 'object',
  properties: { project_id: { type: 'string' }, role: { type: 'string', enum: [...PROJECT_ROLES] } },
} as const;
/** `GET /api/v1/admin/users/{id}`: the user and its memberships. */
export const userWithMembershipsSchema = {
  type: 'object',
  properties: { ...userSchema.properties, memberships: { type: 'array', items: projectMembershipSchema } },
} as const;
/** A membership as the member routes answer it: the membership and who the user is. */
export const memberSchema = {
  type: 'object',
  properties: {
    project_id: { type: 'string' },
    user_id: { type: 'string' },
    role: { type: 'string', enum: [...PROJECT_ROLES] },
    subject: nullableString,
    issuer: { type: 'string' },
    email: nullableString,
    name: nullableString,
    created_at: { type: 'string', description: 'When the user became a member.' },
    updated_at: { type: 'string', description: 'When the role was last set.' },
  },
} as const;

/** Body of `POST /api/v1/admin/users`. */
export const userBodySchema = {
  type: 'object',
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: MAX_SUBJECT_LENGTH, description: "The identity's subject (the JWT sub claim, or X-Lattice-User-Id)." },
    issuer: { type: 'string', maxLength: MAX_SUBJECT_LENGTH, description: "The JWT issuer (iss) exactly as in the user's tokens; omit for proxy identities and tokens without iss." },
    email: { type: 'string', minLength: 1, maxLength: MAX_USER_TEXT },
    name: { type: 'string', minLength: 1, maxLength: MAX_USER_TEXT },
  },
  required: ['subject'],
  additionalProperties: false,
} as const;
/** Body of `POST /api/v1/projects/{id}/members`. */
export const memberBodySchema = {
  type: 'object',
  properties: { user_id: uuid, role: { type: 'string', enum: [...PROJECT_ROLES] } },
  required: ['user_id', 'role'],
  additionalProperties: false,
} as const;
/** Body of `PATCH /api/v1/projects/{id}/members/{user_id}`. */
export const memberRoleBodySchema = {
  type: 'object',
  properties: { role: { type: 'string', enum: [...PROJECT_ROLES] } },
  required: ['role'],
  additionalProperties: false,
} as const;
export const userParams = { type: 'object', properties: { id: uuid }, required: ['id'], additionalProperties: false } as const;
export const memberParams = {
  type: 'object',
  properties: { id: uuid, user_id: uuid },
  required: ['id', 'user_id'],
  additionalProperties: false,
} as const;

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema } as const;
const list = (items: object) => ({ type: 'object', properties: { items: { type: 'array', items }, total_count: { type: 'integer' } } }) as const;

/** Register the user and member routes on `app`. */
export async function memberRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const db = ctx.db;

  async function needProject(id: string): Promise<void> {
    if (!(await getProject(db, id))) throw notFound(`Project ${id} does not exist; list projects with GET /api/v1/projects.`);
  }
  async function needUser(id: string): Promise<void> {
    if (!(await getUser(db, id))) throw notFound(`User ${id} does not exist; an admin lists users with GET /api/v1/admin/users (a user appears on its first sign-in, or is created with POST /api/v1/admin/users).`);
  }

  app.post<{ Body: { subject: string; issuer?: string; email?: string; name?: string } }>(
    '/api/v1/admin/users',
    { schema: { body: userBodySchema, response: { 201: userSchema, ...errors } } },
    async (request, reply) => {
      requireAdmin(requirePrincipal(request), 'create users');
      const user = await createUser(db, request.body);
      request.log.info({ user_id: user.id }, 'user created');
      return reply.code(201).send(user);
    },
  );

  app.get('/api/v1/admin/users', { schema: { response: { 200: list(userSchema), ...errors } } }, async (request) => {
    requireAdmin(requirePrincipal(request), 'list users');
    const items = await listUsers(db);
    return { items, total_count: items.length };
  });

  app.get<{ Params: { id: string } }>(
    '/api/v1/admin/users/:id',
    { schema: { params: userParams, response: { 200: userWithMembershipsSchema, ...errors } } },
    async (request) => {
      const principal = requirePrincipal(request);
      const id = request.params.id.toLowerCase();
      if (principal.role !== 'admin' && principal.userId !== id) {
        throw forbidden('Only an admin, or the user itself, can read a user; owners see their members with GET /api/v1/projects/{id}/members.');
      }
      const user = await getUser(db, id);
      if (!user) throw notFound(`User ${id} does not exist.`);
      return { ...user, memberships: await membershipsOf(db, id) };
    },
  );

  app.post<{ Params: { id: string }; Body: { user_id: string; role: ProjectRole } }>(
    '/api/v1/projects/:id/members',
    { schema: { params: userParams, body: memberBodySchema, response: { 200: memberSchema, 201: memberSchema, ...errors } } },
    async (request, reply) => {
      const projectId = request.params.id.toLowerCase();
      requireOwner(requirePrincipal(request), projectId, 'members');
      const userId = request.body.user_id.toLowerCase();
      await needProject(projectId);
      await needUser(userId);
      const { member, created } = await setMembership(db, projectId, userId, request.body.role);
      request.log.info({ project_id: projectId, user_id: userId, role: member.role }, created ? 'member added' : 'member role set');
      return reply.code(created ? 201 : 200).send(member);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/projects/:id/members',
    { schema: { params: userParams, response: { 200: list(memberSchema), ...errors } } },
    async (request) => {
      const projectId = request.params.id.toLowerCase();
      requireOwner(requirePrincipal(request), projectId, 'members');
      await needProject(projectId);
      const items = await listMembers(db, projectId);
      return { items, total_count: items.length };
    },
  );

  app.patch<{ Params: { id: string; user_id: string }; Body: { role: ProjectRole } }>(
    '/api/v1/projects/:id/members/:user_id',
    { schema: { params: memberParams, body: memberRoleBodySchema, response: { 200: memberSchema, ...errors } } },
    async (request) => {
      const projectId = request.params.id.toLowerCase();
      const userId = request.params.user_id.toLowerCase();
      requireOwner(requirePrincipal(request), projectId, 'members');
      const member = await changeMemberRole(db, projectId, userId, request.body.role);
      if (!member) throw notFound(`User ${userId} is not a member of project ${projectId}; add it with POST /api/v1/projects/${projectId}/members.`);
      request.log.info({ project_id: projectId, user_id: userId, role: member.role }, 'member role set');
      return member;
    },
  );

  app.delete<{ Params: { id: string; user_id: string } }>(
    '/api/v1/projects/:id/members/:user_id',
    { schema: { params: memberParams, response: { 200: memberSchema, ...errors } } },
    async (request) => {
      const projectId = request.params.id.toLowerCase();
      const userId = request.params.user_id.toLowerCase();
      requireOwner(requirePrincipal(request), projectId, 'members');
      const removed = await removeMembership(db, projectId, userId);
      if (!removed) throw notFound(`User ${userId} is not a member of project ${projectId}.`);
      request.log.info({ project_id: projectId, user_id: userId }, 'member removed');
      return removed;
    },
  );
}
