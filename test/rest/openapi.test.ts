/**
 * SPEC R-3: the OpenAPI 3.1 document (`src/rest/openapi.ts`) is valid for the shipped presets (checked by
 * @readme/openapi-parser), documents exactly the REST routes the server registers, answers as it says (real
 * answers validated against the document's schemas with AJV 2020-12), drives real requests through a generic
 * client configured only from the document (openapi-client-axios), follows a model swap, is what
 * `lattice openapi` prints, and `/api/docs` is a page whose assets are all local and served.
 */
import { validate } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { OpenAPIClientAxios } from 'openapi-client-axios';
import type { OpenAPIV3_1 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import type { Db } from '../../src/db/types.js';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { apiDocsRoutes, DOCS_ASSETS_PATH } from '../../src/rest/api-docs.js';
import { DEFAULT_LIMIT } from '../../src/rest/entity-routes.js';
import { openapiDocument, openapiJson } from '../../src/rest/openapi.js';
import { listQuerySchema } from '../../src/rest/schemas.js';
import { buildServer } from '../../src/server/app.js';
import { DEFAULT_LIMITS, type AppContext } from '../../src/server/context.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

type Doc = OpenAPIV3_1.Document;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** `METHOD /path/{param}` of every operation in the document. */
function documentedOperations(doc: Doc): string[] {
  const out: string[] = [];
  for (const [p, item] of Object.entries(doc.paths ?? {})) for (const m of METHODS) if (item?.[m]) out.push(`${m.toUpperCase()} ${p}`);
  return out.sort();
}

/**
 * `METHOD /path/{param}` of every route Fastify registered, read from `printRoutes({ commonPrefix: false })`
 * (a tree: each level indents by 4 characters and adds a path segment). HEAD routes are Fastify's automatic
 * twins of GET routes and are left out.
 */
function servedOperations(app: FastifyInstance, plurals: readonly string[]): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const full = (depth > 0 ? stack[depth - 1] : '') + m[2];
    stack.push(full);
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) {
      const path = full.replace(/:([a-z_]+)/g, '{$1}');
      // The entity routes are registered once as /api/v1/:plural and resolved against the served model.
      if (path.startsWith('/api/v1/{plural}')) for (const p of plurals) out.push(`${method} ${path.replace('{plural}', p)}`);
      else out.push(`${method} ${path}`);
    }
  }
  return out.sort();
}

/** An AJV (JSON Schema 2020-12, the dialect of OpenAPI 3.1) holding the document as a schema resource. */
function documentValidator(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');
  return (schemaName: string, value: unknown): string[] => {
    const check = ajv.getSchema(`doc#/components/schemas/${schemaName}`);
    if (!check) throw new Error(`no schema ${schemaName}`);
    return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}

function capture(): CliIo & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return { out_, err_, out: (l) => out_.push(l), err: (l) => err_.push(l) };
}

describe('OpenAPI document (no database)', () => {
  let experiments: Model;
  let catalog: Model;
  beforeAll(async () => {
    experiments = await loadPreset('experiments');
    catalog = await loadPreset('catalog');
  });

  it('is a valid OpenAPI 3.1 document for the experiments and catalog presets', async () => {
    for (const model of [experiments, catalog]) {
      const doc = structuredClone(openapiDocument(model)) as Doc;
      expect(doc.openapi).toBe('3.1.0');
      const result = await validate(doc as never);
      expect(result, `${model.name}: ${JSON.stringify(result)}`).toMatchObject({ valid: true, specification: 'OpenAPI' });
    }
  });

  it('the validator is not a rubber stamp: a dangling $ref is refused', async () => {
    const doc = structuredClone(openapiDocument(experiments)) as Doc;
    delete doc.components!.schemas!.Experiment;
    const result = await validate(doc as never);
    expect(result.valid).toBe(false);
  });

  it('documents every entity with its five operations, a tag with the model description and the list parameters of the route schema', () => {
    const doc = openapiDocument(catalog) as unknown as Doc;
    const entities = [...catalog.entities.values()].filter((e) => !e.system);
    for (const e of entities) {
      const base = doc.paths![`/api/v1/${e.plural}`]!;
      const byId = doc.paths![`/api/v1/${e.plural}/{id}`]!;
      expect(Object.keys(base).sort()).toEqual(['get', 'post']);
      expect(Object.keys(byId).sort()).toEqual(['delete', 'get', 'patch']);
      for (const op of [base.get, base.post, byId.get, byId.patch, byId.delete]) expect(op!.tags).toEqual([e.plural]);
      expect(doc.tags!.find((t) => t.name === e.plural)!.description).toBe(e.description ?? `${e.typeName} rows.`);
      const routeQuery = listQuerySchema(e, DEFAULT_LIMITS.maxLimit, DEFAULT_LIMIT) as { properties: Record<string, { type?: unknown }> };
      const params = base.get!.parameters as OpenAPIV3_1.ParameterObject[];
      expect(params.map((p) => p.name)).toEqual(Object.keys(routeQuery.properties));
      for (const p of params) {
        expect(p.in).toBe('query');
        expect((p.schema as { type?: unknown }).type).toEqual(routeQuery.properties[p.name].type);
      }
      expect(params.map((p) => p.name)).toEqual(expect.arrayContaining(['limit', 'offset', 'order_by', 'filter', 'search', 'nearest']));
      expect(Object.keys(base.post!.responses!)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403', '409', '413']));
      expect(Object.keys(byId.delete!.responses!)).toEqual(expect.arrayContaining(['204', '404']));
    }
    // Field descriptions come from the model.
    const record = catalog.entities.get('record')!;
    const described = record.fields.find((f) => f.description && !f.builtin)!;
    const schema = doc.components!.schemas!.Record as { properties: Record<string, { description?: string }> };
    expect(schema.properties[described.column].description).toBe(described.description);
    // Ingestion: one event schema per entity and operation; the 207 answer.
    const ingest = doc.paths!['/api/v1/ingest']!.post!;
    expect(Object.keys(ingest.responses!)).toEqual(expect.arrayContaining(['207', '400', '401', '403', '413']));
    expect((doc.components!.schemas!.IngestEvent as { oneOf: unknown[] }).oneOf).toHaveLength(entities.length * 4);
    expect(doc.components!.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      basicAuth: expect.objectContaining({ type: 'http', scheme: 'basic' }),
    });
    expect(doc.paths!['/api/health']!.get!.security).toEqual([]);
  });

  it('is built once per Model object and per maxLimit, and follows a model swap on the served route', async () => {
    expect(openapiDocument(experiments)).toBe(openapiDocument(experiments));
    const again = await loadPreset('experiments');
    expect(openapiDocument(again)).not.toBe(openapiDocument(experiments));
    expect(openapiDocument(again)).toEqual(openapiDocument(experiments));
    const small = openapiDocument(experiments, { maxLimit: 50 }) as unknown as Doc;
    const limit = (small.paths!['/api/v1/experiments']!.get!.parameters as OpenAPIV3_1.ParameterObject[]).find((p) => p.name === 'limit')!;
    expect(limit.schema).toMatchObject({ maximum: 50, default: 50 });

    let current = experiments;
    const app = Fastify({ logger: false });
    const ctx: AppContext = {
      db: undefined as unknown as Db, // the documentation routes never touch the database
      config: { mode: 'production', limits: DEFAULT_LIMITS, bodyLimit: 1024 },
      log: app.log,
      model: () => current,
    };
    await app.register(async (scope) => apiDocsRoutes(scope, ctx));
    try {
      const first = await app.inject({ method: 'GET', url: '/api/openapi.json' });
      expect(first.statusCode).toBe(200);
      expect(first.json().paths['/api/v1/experiments']).toBeDefined();
      current = catalog;
      const second = await app.inject({ method: 'GET', url: '/api/openapi.json' });
      expect(second.json().paths['/api/v1/experiments']).toBeUndefined();
      expect(second.json().paths['/api/v1/records']).toBeDefined();
      expect(second.body).toBe(openapiJson(catalog));
    } finally {
      await app.close();
    }
  });

  it('`lattice openapi` prints the document of --preset / the default preset as JSON, without a database', async () => {
    for (const [args, model] of [[['openapi'], experiments], [['openapi', '--preset', 'catalog'], catalog]] as const) {
      const io = capture();
      expect(await runCli([...args], io)).toBe(0);
      expect(JSON.parse(io.out_.join('\n'))).toEqual(JSON.parse(openapiJson(model)));
    }
    const io = capture();
    expect(await runCli(['openapi', '--preset', 'nope'], io)).toBe(1);
    expect(io.err_.join('\n')).toMatch(/nope/);
  });
});

describe.each(TEST_KINDS)('OpenAPI served on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseUrl: string;
  let secret: string;
  let publicKey: string;
  let doc: Doc;

  beforeAll(async () => {
    t = await createTestDb(kind);
    const A = await createProject(t.db, 'A');
    const key = await createApiKey(t.db, { projectId: A, role: 'editor' });
    secret = key.secret_key;
    publicKey = key.public_key;
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    doc = (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as Doc;
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('serves the document at /api/openapi.json without credentials, equal to `lattice openapi` for the same model', async () => {
    const res = await fetch(`${baseUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(doc);
    const io = capture();
    expect(await runCli(['openapi'], io)).toBe(0); // the test database is migrated to the experiments preset
    expect(JSON.parse(io.out_.join('\n'))).toEqual(doc);
  });

  it('documents exactly the REST routes the server registered (GraphQL and the docs page aside)', () => {
    const plurals = [...t.model.entities.values()].filter((e) => !e.system).map((e) => e.plural);
    const served = servedOperations(app, plurals).filter((op) => !/ \/graphql(\/|$)/.test(op) && !op.includes(' /api/docs'));
    expect(served.length).toBeGreaterThan(20);
    expect(documentedOperations(doc)).toEqual(served);
    expect(served).toEqual(expect.arrayContaining(['POST /api/v1/ingest', 'DELETE /api/v1/projects/{id}/keys/{key_id}', 'PATCH /api/v1/trials/{id}', 'GET /api/health']));
  });

  it('drives create, a filtered list and a get through a client configured from the document; answers match its schemas', async () => {
    const serverUrl = new URL(doc.servers![0].url, `${baseUrl}/api/openapi.json`).href.replace(/\/$/, '');
    const api = new OpenAPIClientAxios({
      definition: structuredClone(doc) as never,
      withServer: { url: serverUrl },
      axiosConfigDefaults: { headers: { authorization: `Bearer ${secret}` }, validateStatus: () => true },
    });
    const client = (await api.init()) as unknown as Record<string, (params?: unknown, data?: unknown) => Promise<{ status: number; data: any }>>;
    const check = documentValidator(doc);

    const created = await client.create_experiments(null, [
      { name: 'openapi-a', kind: 'softmax', meta: { via: 'openapi' } },
      { name: 'openapi-b', kind: 'mlp' },
    ]);
    expect(created.status).toBe(201);
    expect(created.data).toHaveLength(2);
    for (const row of created.data) expect(check('Experiment', row)).toEqual([]);
    expect(check('Experiment', { ...created.data[0], kind: 'nope', created_at: undefined })).not.toEqual([]); // the check bites

    const trial = await client.create_trials(null, { experiment_id: created.data[0].id, name: 't1', duration: 2.5 });
    expect(trial.status).toBe(201);
    expect(check('Trial', trial.data)).toEqual([]);

    const page = await client.list_experiments({ filter: JSON.stringify({ kind: { eq: 'mlp' } }), order_by: '-created_at', limit: 10 });
    expect(page.status).toBe(200);
    expect(check('ExperimentPage', page.data)).toEqual([]);
    expect(page.data).toMatchObject({ total_count: 1, limit: 10, offset: 0, items: [{ id: created.data[1].id, name: 'openapi-b' }] });

    const got = await client.get_experiment({ id: created.data[0].id });
    expect(got.status).toBe(200);
    expect(got.data).toEqual(created.data[0]);

    const patched = await client.update_experiment({ id: created.data[0].id }, { description: 'patched' });
    expect(patched.status).toBe(200);
    expect(check('Experiment', patched.data)).toEqual([]);

    const ingested = await client.ingest(null, {
      batch: [
        { id: 'ev-1', type: 'experiment.create', body: { name: 'from-ingest' } },
        { id: 'ev-2', type: 'experiment.create', body: { name: 42 } },
      ],
    });
    expect(ingested.status).toBe(207);
    expect(check('IngestResponse', ingested.data)).toEqual([]);
    expect(ingested.data.successes).toEqual([{ id: 'ev-1', status: 201 }]);
    expect(ingested.data.errors).toMatchObject([{ id: 'ev-2', status: 400 }]);

    // Error answers have the documented error shape; Basic auth of the documented scheme works.
    const missing = await client.get_experiment({ id: '0190a0a0-0000-7000-8000-0000000000ff' });
    expect(missing.status).toBe(404);
    expect(check('Error', missing.data)).toEqual([]);
    const bad = await client.list_experiments({ limit: -1 });
    expect(bad.status).toBe(400);
    expect(check('Error', bad.data)).toEqual([]);
    const basic = await fetch(`${serverUrl}/api/v1/experiments?limit=1`, {
      headers: { authorization: `Basic ${Buffer.from(`${publicKey}:${secret}`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);
    const anonymous = await fetch(`${serverUrl}/api/v1/experiments`);
    expect(anonymous.status).toBe(401);
    expect(check('Error', await anonymous.json())).toEqual([]);
    const health = await client.health();
    expect(health.status).toBe(200);
    expect(check('Health', health.data)).toEqual([]);
  });

  it('/api/docs is an HTML page whose scripts, styles and icons are all local and served', async () => {
    const res = await fetch(`${baseUrl}/api/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    expect(html).toContain("'/api/openapi.json'");
    for (const ref of refs) {
      expect(ref.startsWith(`${DOCS_ASSETS_PATH}/`)).toBe(true);
      const asset = await fetch(`${baseUrl}${ref}`);
      expect(asset.status, ref).toBe(200);
      expect(asset.headers.get('content-type'), ref).toMatch(/^(application\/javascript|text\/css|image\/png)/);
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(500);
    }
    const unknown = await fetch(`${baseUrl}${DOCS_ASSETS_PATH}/package.json`);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('NOT_FOUND');
  });
});
