/**
 * The catalog preset on a real database (PGlite, and PostgreSQL when TEST_DATABASE_URL is set): it migrates
 * (typed columns, one-to-one feature tables, vector column per backend, full-text column, idempotent), and the
 * catalog demo loads the fixture project (test/demo/catalog-fixture.ts) end to end through
 * `POST /api/v1/ingest` into the right project, readable back through GraphQL.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { computeFeatures } from '../../src/demo/catalog/features.js';
import { runCatalogDemo } from '../../src/demo/catalog/run.js';
import { scanNodeModules } from '../../src/demo/catalog/scan.js';
import { migrate } from '../../src/db/migrate/index.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { writeCatalogFixture, type CatalogFixture } from './catalog-fixture.js';

const TABLES = ['dataset', 'user', 'record', 'topic_classification', 'package_profile', 'ownership', 'dependency'] as const;

describe.each(TEST_KINDS)('catalog preset and demo loader (%s)', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseUrl: string;
  let projectA: string;
  let projectB: string;
  let fixture: CatalogFixture;

  beforeAll(async () => {
    fixture = await writeCatalogFixture();
    t = await createTestDb(kind, await loadPreset('catalog'));
    projectA = await createProject(t.db, 'catalog-a');
    projectB = await createProject(t.db, 'catalog-b');
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
    await fixture?.remove();
  });

  const count = async (table: string, projectId: string): Promise<number> => {
    const { rows } = await t.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM app.${table} WHERE project_id = $1`, [projectId]);
    return Number(rows[0].n);
  };

  const graphql = async (key: string, query: string, variables?: Record<string, unknown>) => {
    const res = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: { message: string }[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  };

  it('migrates: typed columns, one-to-one feature tables, a vector column per backend, full text; again is a no-op', async () => {
    const { rows: cols } = await t.db.query<{ table_name: string; column_name: string; udt_name: string }>(
      `SELECT table_name, column_name, udt_name FROM information_schema.columns WHERE table_schema = 'app' ORDER BY table_name, ordinal_position`,
    );
    const col = (table: string, column: string) => cols.find((c) => c.table_name === table && c.column_name === column)?.udt_name;
    expect(col('record', 'embedding')).toBe(kind === 'pglite' ? 'vector' : '_float4');
    expect(col('record', 'keywords')).toBe('_text');
    expect(col('record', 'search_vector')).toBe('tsvector');
    expect(col('record', 'module_type')).toBe('record_module_type');
    expect(col('topic_classification', 'confidence')).toBe('float8');
    expect(col('topic_classification', 'label')).toBe('topic_classification_label');
    expect(col('package_profile', 'size_bytes')).toBe('int8');
    expect(col('ownership', 'kind')).toBe('ownership_kind');
    expect(col('dependency', 'source_id')).toBe('uuid');

    // One-to-one: UNIQUE (project_id, record_id) on each feature table.
    const { rows: uniques } = await t.db.query<{ table: string; def: string }>(
      `SELECT conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def FROM pg_constraint
       WHERE contype = 'u' AND connamespace = 'app'::regnamespace ORDER BY 1, 2`,
    );
    expect(uniques.filter((u) => u.def === 'UNIQUE (project_id, record_id)').map((u) => u.table).sort()).toEqual([
      'app.package_profile',
      'app.topic_classification',
    ]);
    // HNSW indexes for the declared metrics (cosine, l2) with pgvector; none on real[].
    const { rows: idx } = await t.db.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'app' AND tablename = 'record'`);
    const hnsw = idx.filter((i) => /USING hnsw/i.test(i.indexdef)).map((i) => i.indexdef);
    if (kind === 'pglite') {
      expect(hnsw).toHaveLength(2);
      expect(hnsw.some((d) => d.includes('vector_cosine_ops'))).toBe(true);
      expect(hnsw.some((d) => d.includes('vector_l2_ops'))).toBe(true);
    } else {
      expect(hnsw).toEqual([]);
    }
    expect(idx.some((i) => /USING gin \(search_vector\)/i.test(i.indexdef))).toBe(true);
    expect((await migrate(t.db, t.model)).applied).toBe(false);
  });

  it('loads the fixture through REST with an editor key; rows, features and relations read back through GraphQL', async () => {
    const key = await createApiKey(t.db, { projectId: projectA, role: 'editor' });
    const lines: string[] = [];
    const summary = await runCatalogDemo({ baseUrl, auth: `Bearer ${key.secret_key}`, rootDir: fixture.root, log: (l) => lines.push(l) });
    expect(summary.rows).toEqual({
      dataset: 2,
      user: 3,
      record: 7,
      topic_classification: 7,
      package_profile: 7,
      ownership: 4,
      dependency: 6,
    });
    expect(summary.batches).toBe(1);
    expect(lines.join('\n')).toMatch(/scanned 7 packages[\s\S]*topic classifier: 6 keyword-labelled packages[\s\S]*7 record/);
    for (const table of TABLES) {
      expect(await count(table, projectA)).toBe(summary.rows[table]);
      expect(await count(table, projectB)).toBe(0);
    }

    const data = await graphql(
      key.secret_key,
      `{ records(order_by: [{ spec: ASC }]) {
           spec name version license keywords direct module_type installed_path embedding
           dataset { name scope }
           topic_classification { label confidence weak_label model }
           package_profile { file_count size_bytes readme_words has_types has_bin dependency_count }
           ownerships(order_by: [{ kind: ASC }]) { kind owner { name email } }
           dependencies(order_by: [{ kind: ASC }]) { kind range target { spec } }
           dependents { source { spec } }
         } }`,
    );
    const records = data.records as any[];
    expect(records.map((r) => r.spec)).toEqual([
      '@acme/db-client@2.0.0',
      '@acme/ui-kit@0.1.0',
      'alpha-test@1.0.0',
      'beta-cli@3.1.0',
      'fixture-app@1.0.0',
      'shared-util@1.0.0',
      'shared-util@2.0.0',
    ]);
    const bySpec = (spec: string) => records.find((r) => r.spec === spec);

    // The stored features are exactly what computeFeatures gives for the scanned packages.
    const { packages } = scanNodeModules(fixture.root);
    const { features, report } = computeFeatures(packages);
    packages.forEach((p, i) => {
      const r = bySpec(p.spec);
      expect(r.topic_classification).toEqual({ label: features[i].topic!.label, confidence: features[i].topic!.confidence, weak_label: features[i].weakLabel ?? null, model: report.model });
      expect(r.embedding).toHaveLength(256);
      r.embedding.forEach((x: number, j: number) => expect(x).toBeCloseTo(features[i].embedding![j], 6));
    });

    expect(bySpec('alpha-test@1.0.0')).toMatchObject({
      license: 'MIT',
      keywords: ['test', 'assertion'],
      direct: true,
      module_type: 'commonjs',
      dataset: { name: '(unscoped)', scope: null },
      package_profile: { file_count: 4, has_types: false, has_bin: false, dependency_count: 1 },
      ownerships: [{ kind: 'author', owner: { name: 'Ann Example', email: 'ann@example.com' } }],
      dependencies: [{ kind: 'prod', range: '^1.0.0', target: { spec: 'shared-util@1.0.0' } }],
    });
    expect(bySpec('alpha-test@1.0.0').dependents.map((d: any) => d.source.spec).sort()).toEqual(['@acme/db-client@2.0.0', 'fixture-app@1.0.0']);
    expect(bySpec('@acme/db-client@2.0.0')).toMatchObject({
      dataset: { name: '@acme', scope: 'acme' },
      package_profile: { has_types: true },
      ownerships: [{ kind: 'maintainer', owner: { name: 'Carol Keeper' } }],
      dependencies: [{ kind: 'peer', range: '*', target: { spec: 'alpha-test@1.0.0' } }],
    });
    expect(bySpec('beta-cli@3.1.0').ownerships).toEqual([
      { kind: 'author', owner: { name: 'Bob Builder', email: 'bob@example.com' } },
      { kind: 'contributor', owner: { name: 'Ann Example', email: 'ann@example.com' } },
    ]);
    // order_by kind: enum order (prod, dev, peer, optional).
    const rootDeps = bySpec('fixture-app@1.0.0').dependencies.map((d: any) => `${d.kind} ${d.target.spec}`);
    expect(rootDeps.slice(0, 2).sort()).toEqual(['prod @acme/db-client@2.0.0', 'prod alpha-test@1.0.0']);
    expect(rootDeps[2]).toBe('dev beta-cli@3.1.0');

    // Full text over name, description and README (english stemming: "assertions" matches "assertion").
    const { rows: hits } = await t.db.query<{ spec: string }>(
      `SELECT spec FROM app.record WHERE project_id = $1 AND search_vector @@ websearch_to_tsquery('english', 'assertion') ORDER BY spec`,
      [projectA],
    );
    expect(hits.map((h) => h.spec)).toEqual(['alpha-test@1.0.0']);
  });

  it('writes into the named project with an admin key; a viewer key is refused and writes nothing', async () => {
    const admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    const summary = await runCatalogDemo({ baseUrl, auth: `Bearer ${admin.secret_key}`, projectId: projectB, rootDir: fixture.root });
    for (const table of TABLES) expect(await count(table, projectB)).toBe(summary.rows[table]);

    const viewer = await createApiKey(t.db, { projectId: projectA, role: 'viewer' });
    const before = await count('record', projectA);
    await expect(runCatalogDemo({ baseUrl, auth: `Bearer ${viewer.secret_key}`, rootDir: fixture.root })).rejects.toThrow(/HTTP 403/);
    expect(await count('record', projectA)).toBe(before);
  });
});
