/**
 * Prompt management on the traces preset (SPEC R-6, seed 002), in Langfuse's shapes:
 *
 * - `GET /api/public/v2/prompts/{name}?version=N | ?label=L` (the SDK's `getPrompt`): the version asked for,
 *   or the one carrying the label (default `production`); 404 when there is none;
 * - `POST /api/public/v2/prompts` (the SDK's `createPrompt`): a new version of the named prompt, number
 *   max + 1 (serialized per project and name with a transaction-scoped advisory lock). Labels move: a label
 *   given to the new version is removed from every other version of the name, so `production` (or any label)
 *   is on at most one version; `latest` is managed here and always names the newest version. Tags, when given,
 *   apply to every version of the name (Langfuse's rule); when absent the new version keeps the current tags;
 * - `PATCH /api/public/v2/prompts/{name}/versions/{version}` `{ newLabels }` (the SDK's `updatePrompt`): the
 *   version's labels become `newLabels` (plus `latest` when it is the newest), and those labels move away from
 *   every other version of the name; 404 for an unknown version;
 * - `GET /api/public/prompts/{name}` (seed 002): the same as the v2 read;
 * - `POST /api/public/prompts/{name}/compile` (seed 002): `{ variables, placeholders?, version? | label? }` →
 *   the prompt with `{{variable}}` substituted (text, or the content of every chat message; `placeholders`
 *   replaces chat placeholder messages by lists of messages). A variable or placeholder the prompt uses but the
 *   request lacks is a 400 naming every missing one.
 */
import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';
import { canWrite, type Principal } from '../auth/principal.js';
import { badInput, forbidden, notFound } from '../errors.js';
import { qualified } from '../query/sql/ident.js';
import { columnSqlType, ParamContext } from '../query/sql/params.js';
import { scopeOf } from '../rest/read.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { requireTracesModel, type TracesModel } from './model.js';
import { traceWriteProject } from './project-header.js';

/** A prompt version as the API answers it (Langfuse's `Prompt`). */
export interface PromptView {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly type: 'text' | 'chat';
  readonly prompt: string | ChatItem[];
  readonly config: unknown;
  readonly labels: string[];
  readonly tags: string[];
  readonly commitMessage: string | null;
}

/** A chat message or a placeholder for messages given at compile time. */
export type ChatItem = { type?: 'chatmessage'; role: string; content: string } | { type: 'placeholder'; name: string };

const name = { type: 'string', minLength: 1, maxLength: 1000 } as const;
const label = { type: 'string', pattern: '^[a-z0-9_.-]{1,36}$' } as const;
const message = { type: 'object', additionalProperties: false, required: ['role', 'content'], properties: { type: { const: 'chatmessage' }, role: { type: 'string', minLength: 1 }, content: { type: 'string' } } } as const;
const placeholder = { type: 'object', additionalProperties: false, required: ['type', 'name'], properties: { type: { const: 'placeholder' }, name: { type: 'string', minLength: 1 } } } as const;

const CREATE_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'prompt'],
  properties: {
    name, type: { enum: ['text', 'chat'] }, prompt: { anyOf: [{ type: 'string' }, { type: 'array', items: { anyOf: [message, placeholder] } }] },
    config: {}, labels: { type: ['array', 'null'], items: label, maxItems: 50 }, tags: { type: ['array', 'null'], items: { type: 'string', maxLength: 1000 }, maxItems: 50 },
    commitMessage: { type: ['string', 'null'], maxLength: 10_000 },
  },
} as const;
/** Body of the label update; the SDK also sends `name` and `version`, which must match the path. */
const RELABEL_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['newLabels'],
  properties: { newLabels: { type: 'array', items: label, maxItems: 50 }, name, version: { type: 'integer', minimum: 1 } },
} as const;
const VERSION_PARAMS = { type: 'object', required: ['name', 'version'], properties: { name, version: { type: 'integer', minimum: 1 } } } as const;
const SELECT_QUERY = { type: 'object', additionalProperties: false, properties: { version: { type: 'integer', minimum: 1 }, label } } as const;
const NAME_PARAMS = { type: 'object', required: ['name'], properties: { name } } as const;
const COMPILE_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    variables: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    placeholders: { type: 'object', additionalProperties: { type: 'array', items: message } },
    version: { type: 'integer', minimum: 1 },
    label,
  },
} as const;

/** `{{ name }}` (Mustache variable syntax as Langfuse prompts use it). */
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function promptJson(p: string): string {
  return `json_build_object('id', ${p}."id"::text, 'name', ${p}."name", 'version', ${p}."version", 'type', ${p}."type", 'prompt', ${p}."prompt", ` +
    `'config', coalesce(${p}."config", '{}'::jsonb), 'labels', coalesce(to_json(${p}."labels"), '[]'::json), 'tags', coalesce(to_json(${p}."tags"), '[]'::json), ` +
    `'commitMessage', ${p}."commit_message", 'resolutionGraph', NULL::json, 'projectId', ${p}."project_id"::text)`;
}

/** Read one prompt version (by version, else by label, default `production`) as the principal, or 404. */
async function readPrompt(ctx: AppContext, tm: TracesModel, principal: Principal, promptName: string, q: { version?: number; label?: string }): Promise<PromptView> {
  if (q.version !== undefined && q.label !== undefined) throw badInput('Give either "version" or "label", not both.');
  const p = new ParamContext();
  const scope = scopeOf(principal);
  const which = q.version !== undefined ? `x."version" = ${p.add(q.version, 'int4')}` : `${p.add(q.label ?? 'production', 'text')} = ANY(x."labels")`;
  const text = `SELECT (SELECT ${promptJson('x')} FROM ${qualified(tm.prompt.table.schema, tm.prompt.table.name)} x WHERE ` +
    `${scope.kind === 'all' ? 'true' : `x."project_id" = ANY(${p.scope(scope.projectIds)})`} AND x."name" = ${p.add(promptName, 'text')} AND ${which} ` +
    `ORDER BY x."version" DESC LIMIT 1)::text AS data`;
  const { rows } = await ctx.db.queryAs<{ data: string | null }>(principal, text, p.values);
  if (rows[0].data === null) {
    const what = q.version !== undefined ? `version ${q.version}` : `label "${q.label ?? 'production'}"`;
    throw notFound(`No prompt "${promptName}" with ${what} in this key's project; create it with POST /api/public/v2/prompts, or ask for another ?version= or ?label=.`);
  }
  return JSON.parse(rows[0].data) as PromptView;
}

/** Create the next version of a prompt (see the module comment), in one transaction as the principal. */
async function createPrompt(ctx: AppContext, tm: TracesModel, principal: Principal, projectId: string, body: Record<string, unknown>): Promise<string> {
  const type = (body.type as 'text' | 'chat' | undefined) ?? (typeof body.prompt === 'string' ? 'text' : 'chat');
  if ((type === 'text') !== (typeof body.prompt === 'string')) {
    throw badInput(type === 'text' ? 'A text prompt\'s "prompt" must be a string.' : 'A chat prompt\'s "prompt" must be a list of messages ({ role, content }) or placeholders.');
  }
  const given = (body.labels as string[] | null | undefined) ?? [];
  if (given.includes('latest')) throw badInput('The label "latest" is managed by the server (it names the newest version); remove it from "labels".');
  const labels = [...new Set([...given, 'latest'])];
  const table = qualified(tm.prompt.table.schema, tm.prompt.table.name);
  const p = new ParamContext();
  const pid = p.add(projectId, 'uuid');
  const n = p.add(body.name, 'text');
  const l = p.add(labels, 'text[]');
  const tagsGiven = Array.isArray(body.tags);
  const tags = p.add(tagsGiven ? [...new Set(body.tags as string[])] : null, 'text[]');
  const sameName = `x."project_id" = ${pid} AND x."name" = ${n}`;
  const text =
    `WITH v AS (SELECT coalesce(max(x."version"), 0) + 1 AS version, ` +
    `(SELECT y."tags" FROM ${table} y WHERE y."project_id" = ${pid} AND y."name" = ${n} ORDER BY y."version" DESC LIMIT 1) AS tags FROM ${table} x WHERE ${sameName}), ` +
    `moved AS (UPDATE ${table} x SET "labels" = ARRAY(SELECT e FROM unnest(x."labels") AS e WHERE e <> ALL(${l})), ` +
    `"tags" = ${tagsGiven ? tags : 'x."tags"'} WHERE ${sameName} AND (x."labels" && ${l}${tagsGiven ? ' OR true' : ''}) RETURNING x."id"), ` +
    `ins AS (INSERT INTO ${table} ("id", "project_id", "name", "version", "type", "prompt", "config", "labels", "tags", "commit_message") ` +
    `SELECT ${p.add(uuidv7(), 'uuid')}, ${pid}, ${n}, v.version, ${p.add(type, columnSqlType(tm.model, tm.prompt.columns.get('type')!))}, ` +
    `${p.add(body.prompt, 'jsonb')}, ${p.add(body.config ?? {}, 'jsonb')}, ${l}, coalesce(${tags}, v.tags, '{}'::text[]), ${p.add(body.commitMessage ?? null, 'text')} FROM v RETURNING *) ` +
    `SELECT ${promptJson('ins')}::text AS data FROM ins`;
  return ctx.db.withPrincipal(principal, async (tx) => {
    // One writer per project and prompt name at a time, so two creates never take the same version number.
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`lattice.prompt:${projectId}:${body.name as string}`]);
    const { rows } = await tx.query<{ data: string }>(text, p.values);
    return rows[0].data;
  });
}

/**
 * Set the labels of one prompt version (see the module comment), in one statement as the principal, under the
 * same per-name lock as `createPrompt`.
 * @throws LatticeError BAD_USER_INPUT for the reserved label `latest`; NOT_FOUND for an unknown name or version
 */
async function relabelPrompt(
  ctx: AppContext,
  tm: TracesModel,
  principal: Principal,
  projectId: string,
  promptName: string,
  version: number,
  newLabels: readonly string[],
): Promise<string> {
  if (newLabels.includes('latest')) throw badInput('The label "latest" is managed by the server (it names the newest version); remove it from "newLabels".');
  const table = qualified(tm.prompt.table.schema, tm.prompt.table.name);
  const p = new ParamContext();
  const pid = p.add(projectId, 'uuid');
  const n = p.add(promptName, 'text');
  const v = p.add(version, 'int4');
  const l = p.add([...new Set(newLabels)], 'text[]');
  const sameName = `x."project_id" = ${pid} AND x."name" = ${n}`;
  const text =
    `WITH moved AS (UPDATE ${table} x SET "labels" = ARRAY(SELECT e FROM unnest(x."labels") AS e WHERE e <> ALL(${l})) ` +
    `WHERE ${sameName} AND x."version" <> ${v} AND x."labels" && ${l} AND EXISTS (SELECT 1 FROM ${table} y WHERE y."project_id" = ${pid} AND y."name" = ${n} AND y."version" = ${v}) RETURNING x."id"), ` +
    `upd AS (UPDATE ${table} x SET "labels" = ${l} || CASE WHEN 'latest' = ANY(x."labels") THEN ARRAY['latest'] ELSE '{}'::text[] END ` +
    `WHERE ${sameName} AND x."version" = ${v} RETURNING *) ` +
    `SELECT ${promptJson('upd')}::text AS data FROM upd`;
  const data = await ctx.db.withPrincipal(principal, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`lattice.prompt:${projectId}:${promptName}`]);
    const { rows } = await tx.query<{ data: string }>(text, p.values);
    return rows[0]?.data;
  });
  if (data === undefined) throw notFound(`No prompt "${promptName}" version ${version} in this key's project; check the name and version.`);
  return data;
}

/**
 * Substitute `variables` into a prompt (text, or each chat message's content) and `placeholders` into chat
 * placeholder messages.
 * @throws LatticeError BAD_USER_INPUT naming every variable and placeholder the prompt uses but the request lacks
 */
export function compilePrompt(prompt: PromptView, variables: Readonly<Record<string, string | number | boolean>>, placeholders: Readonly<Record<string, ChatItem[]>> = {}): string | ChatItem[] {
  const missing = new Set<string>();
  const fill = (s: string) =>
    s.replace(VARIABLE, (whole, v: string) => {
      if (!Object.hasOwn(variables, v)) {
        missing.add(v);
        return whole;
      }
      return String(variables[v]);
    });
  const missingPlaceholders: string[] = [];
  const out =
    typeof prompt.prompt === 'string'
      ? fill(prompt.prompt)
      : prompt.prompt.flatMap((m): ChatItem[] => {
          if (m.type === 'placeholder') {
            if (!Object.hasOwn(placeholders, m.name)) missingPlaceholders.push(m.name);
            return (placeholders[m.name] ?? []).map((x) => ({ ...x, content: fill((x as { content: string }).content) }));
          }
          return [{ ...m, content: fill(m.content) }];
        });
  if (missing.size > 0 || missingPlaceholders.length > 0) {
    const parts = [
      ...(missing.size ? [`variable${missing.size > 1 ? 's' : ''} ${[...missing].join(', ')} (pass them in "variables")`] : []),
      ...(missingPlaceholders.length ? [`placeholder${missingPlaceholders.length > 1 ? 's' : ''} ${missingPlaceholders.join(', ')} (pass message lists in "placeholders")`] : []),
    ];
    throw badInput(`Prompt "${prompt.name}" version ${prompt.version} needs ${parts.join(' and ')}.`);
  }
  return out;
}

/** Register the prompt routes (inside the traces plugin scope). */
export function registerPromptRoutes(app: FastifyInstance, ctx: AppContext): void {
  const get = async (route: string, request: { params: unknown; query: unknown; principal?: Principal }) => {
    const principal = requirePrincipal(request as never);
    const tm = requireTracesModel(ctx.model(), route);
    return readPrompt(ctx, tm, principal, (request.params as { name: string }).name, request.query as { version?: number; label?: string });
  };
  app.get('/api/public/v2/prompts/:name', { schema: { params: NAME_PARAMS, querystring: SELECT_QUERY } }, (request) => get('GET /api/public/v2/prompts/{name}', request));
  app.get('/api/public/prompts/:name', { schema: { params: NAME_PARAMS, querystring: SELECT_QUERY } }, (request) => get('GET /api/public/prompts/{name}', request));

  app.post('/api/public/v2/prompts', { schema: { body: CREATE_BODY } }, async (request, reply) => {
    const principal = requirePrincipal(request);
    if (!canWrite(principal)) throw forbidden(`Role '${principal.role}' cannot create prompts; use a key with role editor or owner.`);
    const tm = requireTracesModel(ctx.model(), 'POST /api/public/v2/prompts');
    const created = await createPrompt(ctx, tm, principal, traceWriteProject(principal, request), request.body as Record<string, unknown>);
    return reply.code(201).type('application/json; charset=utf-8').send(created);
  });

  app.patch('/api/public/v2/prompts/:name/versions/:version', { schema: { params: VERSION_PARAMS, body: RELABEL_BODY } }, async (request, reply) => {
    const principal = requirePrincipal(request);
    if (!canWrite(principal)) throw forbidden(`Role '${principal.role}' cannot change prompts; use a key with role editor or owner.`);
    const tm = requireTracesModel(ctx.model(), 'PATCH /api/public/v2/prompts/{name}/versions/{version}');
    const params = request.params as { name: string; version: number };
    const body = request.body as { newLabels: string[]; name?: string; version?: number };
    if ((body.name !== undefined && body.name !== params.name) || (body.version !== undefined && body.version !== params.version)) {
      throw badInput('"name" and "version" in the body must match the path (or be left out).');
    }
    const updated = await relabelPrompt(ctx, tm, principal, traceWriteProject(principal, request), params.name, params.version, body.newLabels);
    return reply.type('application/json; charset=utf-8').send(updated);
  });

  app.post('/api/public/prompts/:name/compile', { schema: { params: NAME_PARAMS, body: COMPILE_BODY } }, async (request) => {
    const principal = requirePrincipal(request);
    const tm = requireTracesModel(ctx.model(), 'POST /api/public/prompts/{name}/compile');
    const body = (request.body ?? {}) as { variables?: Record<string, string | number | boolean>; placeholders?: Record<string, ChatItem[]>; version?: number; label?: string };
    const prompt = await readPrompt(ctx, tm, principal, (request.params as { name: string }).name, { version: body.version, label: body.label });
    const compiled = compilePrompt(prompt, body.variables ?? {}, body.placeholders);
    return { name: prompt.name, version: prompt.version, type: prompt.type, labels: prompt.labels, config: prompt.config, prompt: compiled };
  });
}
