/**
 * The parts of the OpenAPI document (SPEC R-3) that do not depend on an entity's routes: the ingestion
 * schemas (one event schema per entity and write operation, the request and the 207 answer), and the
 * administration (projects, keys, users, members), health and document paths, from the admin and health route
 * schemas.
 */
import type { Entity } from '../model/types.js';
import { keyBodySchema, keyParams, projectBodySchema, projectParams } from '../server/admin.js';
import { memberBodySchema, memberParams, memberRoleBodySchema, memberSchema, userBodySchema, userSchema, userWithMembershipsSchema } from '../server/members.js';
import { modelChangeBodySchema, modelChangeResultSchema, servedModelSchema } from '../server/model-routes.js';
import { copy, errors, json, ref, WRITE_MODES } from './openapi-common.js';
import { MAX_BATCH } from './rows.js';
import type { JsonSchema } from './schemas.js';

/** Path of the served document. */
export const OPENAPI_PATH = '/api/openapi.json';

/** Schemas of the ingestion route: one event schema per entity and operation, the request and the 207 answer. */
export function ingestSchemas(entities: readonly Entity[], schemas: Record<string, JsonSchema>): void {
  const events: JsonSchema[] = [];
  for (const e of entities) {
    for (const mode of WRITE_MODES) {
      const body = mode === 'create' ? 'Create' : mode === 'delete' ? 'Delete' : 'Update';
      const name = `${e.typeName}${mode[0].toUpperCase()}${mode.slice(1)}Event`;
      schemas[name] = {
        type: 'object',
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 256, description: 'Event id; a resent event with the same id is processed once.' },
          type: { const: `${e.name}.${mode}` },
          timestamp: { type: 'string' },
          body: ref(`${e.typeName}${body}`),
        },
        required: ['id', 'type', 'body'],
        additionalProperties: false,
      };
      events.push(ref(name));
    }
  }
  schemas.IngestEvent = { oneOf: events, description: 'One event; each is validated on its own, so a bad event fails alone (in `errors`).' };
  schemas.IngestRequest = {
    type: 'object',
    properties: {
      batch: { type: 'array', items: ref('IngestEvent'), maxItems: MAX_BATCH },
      metadata: { type: 'object' },
    },
    required: ['batch'],
    additionalProperties: false,
  };
  schemas.IngestResponse = {
    type: 'object',
    properties: {
      successes: {
        type: 'array',
        items: { type: 'object', properties: { id: { type: ['string', 'null'] }, status: { type: 'integer', description: '201 created, 200 already there.' } }, required: ['id', 'status'] },
      },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: { type: ['string', 'null'] },
            status: { type: 'integer', description: '400 invalid, 403 not allowed, 404 unknown id, 409 conflict, 422 parent missing.' },
            message: { type: 'string' },
          },
          required: ['id', 'status', 'message'],
        },
      },
    },
    required: ['successes', 'errors'],
  };
}

/**
 * Component names of the user and member answers. With a dot, which no entity's type name has: a model may have
 * a `user` or `member` entity of its own (the catalog preset has `User`). Their operation ids start with `admin_`
 * for the same reason (entity operations start with `list_`, `create_`, `get_`, `update_`, `delete_`).
 */
const USER = 'Lattice.User';
const USER_WITH_MEMBERSHIPS = 'Lattice.UserWithMemberships';
const MEMBER = 'Lattice.Member';

/** Schemas of the user and member answers (see {@link USER}). */
export function memberSchemas(schemas: Record<string, JsonSchema>): void {
  schemas[USER] = copy(userSchema);
  schemas[USER_WITH_MEMBERSHIPS] = copy(userWithMembershipsSchema);
  schemas[MEMBER] = copy(memberSchema);
}

/** The administration and operations paths (projects, keys, users, members, health, this document and its reference page). */
export function fixedPaths(paths: Record<string, JsonSchema>): void {
  const admin = ['administration'];
  const open: JsonSchema[] = [];
  // Path parameters from the admin routes' own `params` schemas.
  const pathSchemas = { ...projectParams.properties, ...keyParams.properties, ...memberParams.properties } as Record<string, unknown>;
  const listOf = (name: string) => json({ type: 'object', properties: { items: { type: 'array', items: ref(name) }, total_count: { type: 'integer' } } });
  const param = (name: string, what: string) => ({ name, in: 'path', required: true, description: what, schema: copy(pathSchemas[name]) });
  paths['/api/v1/projects'] = {
    get: {
      tags: admin,
      operationId: 'list_projects',
      summary: 'List projects (admin: all; other keys: their own)',
      responses: {
        200: { description: 'Projects.', content: json({ type: 'object', properties: { items: { type: 'array', items: ref('Project') }, total_count: { type: 'integer' } } }) },
        ...errors('Unauthenticated'),
      },
    },
    post: {
      tags: admin,
      operationId: 'create_project',
      summary: 'Create a project (admin)',
      requestBody: { required: true, content: json(copy(projectBodySchema)) },
      responses: { 201: { description: 'The project.', content: json(ref('Project')) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden') },
    },
  };
  paths['/api/v1/projects/{id}'] = {
    get: {
      tags: admin,
      operationId: 'get_project',
      summary: 'Get a project (admin, or a key of that project)',
      parameters: [param('id', 'Project id.')],
      responses: { 200: { description: 'The project.', content: json(ref('Project')) }, ...errors('BadRequest', 'Unauthenticated', 'NotFound') },
    },
  };
  paths['/api/v1/projects/{id}/keys'] = {
    get: {
      tags: admin,
      operationId: 'list_keys',
      summary: "List a project's API keys, without secrets (admin, or an owner key of the project)",
      parameters: [param('id', 'Project id.')],
      responses: {
        200: { description: 'Keys.', content: json({ type: 'object', properties: { items: { type: 'array', items: ref('ApiKey') }, total_count: { type: 'integer' } } }) },
        ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound'),
      },
    },
    post: {
      tags: admin,
      operationId: 'create_key',
      summary: 'Create an API key (admin, or an owner key of the project); the secret is answered only now',
      parameters: [param('id', 'Project id.')],
      requestBody: { required: true, content: json(copy(keyBodySchema)) },
      responses: { 201: { description: 'The key with its secret.', content: json(ref('CreatedApiKey')) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound') },
    },
  };
  paths['/api/v1/projects/{id}/keys/{key_id}'] = {
    delete: {
      tags: admin,
      operationId: 'revoke_key',
      summary: 'Revoke an API key (admin, or an owner key of the project)',
      parameters: [param('id', 'Project id.'), param('key_id', 'Key id.')],
      responses: { 200: { description: 'The revoked key.', content: json(ref('ApiKey')) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound') },
    },
  };
  paths['/api/v1/admin/users'] = {
    get: {
      tags: admin,
      operationId: 'admin_list_users',
      summary: 'List users (admin)',
      responses: { 200: { description: 'Users, oldest first.', content: listOf(USER) }, ...errors('Unauthenticated', 'Forbidden') },
    },
    post: {
      tags: admin,
      operationId: 'admin_create_user',
      summary: 'Create a user (admin), e.g. to add it to projects before its first sign-in',
      description: 'Users of tokens and trusted proxy identities are also created on first sight, found by issuer and subject.',
      requestBody: { required: true, content: json(copy(userBodySchema)) },
      responses: { 201: { description: 'The user.', content: json(ref(USER)) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'Conflict') },
    },
  };
  paths['/api/v1/admin/users/{id}'] = {
    get: {
      tags: admin,
      operationId: 'admin_get_user',
      summary: 'Get a user and its memberships (admin, or that user)',
      parameters: [param('id', 'User id.')],
      responses: { 200: { description: 'The user.', content: json(ref(USER_WITH_MEMBERSHIPS)) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound') },
    },
  };
  paths['/api/v1/projects/{id}/members'] = {
    get: {
      tags: admin,
      operationId: 'admin_list_members',
      summary: "List a project's members and their roles (admin, or an owner of the project)",
      parameters: [param('id', 'Project id.')],
      responses: { 200: { description: 'Members, owners first.', content: listOf(MEMBER) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound') },
    },
    post: {
      tags: admin,
      operationId: 'admin_add_member',
      summary: 'Add a user to the project with a role, or set the role of a member (admin, or an owner of the project)',
      parameters: [param('id', 'Project id.')],
      requestBody: { required: true, content: json(copy(memberBodySchema)) },
      responses: {
        201: { description: 'The new membership.', content: json(ref(MEMBER)) },
        200: { description: 'The user was a member already; its role is now the given one.', content: json(ref(MEMBER)) },
        ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound'),
      },
    },
  };
  paths['/api/v1/projects/{id}/members/{user_id}'] = {
    patch: {
      tags: admin,
      operationId: 'admin_set_member_role',
      summary: "Change a member's role (admin, or an owner of the project)",
      parameters: [param('id', 'Project id.'), param('user_id', 'User id.')],
      requestBody: { required: true, content: json(copy(memberRoleBodySchema)) },
      responses: { 200: { description: 'The membership.', content: json(ref(MEMBER)) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound') },
    },
    delete: {
      tags: admin,
      operationId: 'admin_remove_member',
      summary: 'Remove a user from the project (admin, or an owner of the project)',
      parameters: [param('id', 'Project id.'), param('user_id', 'User id.')],
      responses: { 200: { description: 'The membership as it was.', content: json(ref(MEMBER)) }, ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound') },
    },
  };
  paths['/api/v1/model'] = {
    get: {
      tags: admin,
      operationId: 'get_model',
      summary: 'The served model document and its version (admin)',
      responses: { 200: { description: 'The served model.', content: json(copy(servedModelSchema)) }, ...errors('Unauthenticated', 'Forbidden') },
    },
    put: {
      tags: admin,
      operationId: 'apply_model',
      summary: 'Apply a new model version at run time (admin); every instance serves it without a restart',
      description:
        'Additive changes are applied in one DDL transaction; changes that drop or convert data are refused (409, listed in `details`) unless `allow_destructive` is true.',
      requestBody: { required: true, content: json(copy(modelChangeBodySchema)) },
      responses: {
        200: { description: 'What was applied.', content: json(copy(modelChangeResultSchema)) },
        ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'Conflict'),
      },
    },
  };
  paths['/api/v1/model/diff'] = {
    post: {
      tags: admin,
      operationId: 'diff_model',
      summary: 'What applying a model would change, with the DDL (admin); nothing is applied',
      requestBody: { required: true, content: json(copy(modelChangeBodySchema)) },
      responses: {
        200: { description: 'The changes, the destructive ones and the statements.', content: json(copy(modelChangeResultSchema)) },
        ...errors('BadRequest', 'Unauthenticated', 'Forbidden', 'Conflict'),
      },
    },
  };
  const health = (operationId: string, summary: string) => ({
    get: {
      tags: ['operations'],
      operationId,
      summary,
      security: open,
      responses: {
        200: { description: 'The database answers and the model is loaded.', content: json(ref('Health')) },
        503: { description: 'The database does not answer.', content: json(ref('Health')) },
      },
    },
  });
  paths['/api/health'] = health('health', 'Liveness and readiness (no credentials)');
  paths['/api/public/health'] = health('health_public', 'Alias of /api/health (no credentials)');
  paths['/metrics'] = {
    get: {
      tags: ['operations'],
      operationId: 'metrics',
      summary: 'Prometheus metrics (admin key, or open with LATTICE_METRICS_PUBLIC=true)',
      responses: {
        200: { description: 'Metrics in the Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
        ...errors('Unauthenticated', 'Forbidden'),
      },
    },
  };
  paths[OPENAPI_PATH] = {
    get: {
      tags: ['operations'],
      operationId: 'openapi',
      summary: 'This OpenAPI document (no credentials); follows the running model',
      security: open,
      responses: { 200: { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
    },
  };
}

