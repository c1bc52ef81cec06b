/**
 * Seed 001's query against the catalog preset with its real demo data (the packages in Lattice's own
 * node_modules, loaded through REST): "records where <typed metadata> = X AND <feature table>.confidence > 0.9
 * AND similar to this embedding" — and the same with full-text search — as ONE GraphQL operation that runs as
 * ONE SQL statement, checked against answers computed in JavaScript from the same data. Both projects hold
 * the same catalog, so a row of the other project leaking in would show up as a duplicate.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { runCatalogDemo } from '../../src/demo/catalog/run.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

/** The README's seed-001 query. */
const SEED_001 = `query Seed001($v: [Float!]!, $license: String!, $min: Float!, $search: String) {
  records(
    filter: { license: { eq: $license }, topic_classification: { confidence: { gt: $min } } }
    search: $search
    nearest: { embedding: { vector: $v, metric: COSINE } }
    limit: 5
  ) {
    id name license topic_classification { label confidence } _distance
  }
}`;

interface Row {
  id: string;
  name: string;
  license: string | null;
  embedding: number[] | null;
  topic_classification: { label: string; confidence: number } | null;
}

const cosineDistance = (a: readonly number[], b: readonly number[]): number => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return 1 - dot / Math.sqrt(na * nb);
};

describe.each(TEST_KINDS)('seed 001 on the catalog demo (%s)', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseUrl: string;
  let key: string;
  let projectA: string;
  let rows: Row[];

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('catalog'));
    projectA = await createProject(t.db, 'catalog-a');
    const projectB = await createProject(t.db, 'catalog-b');
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    const admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    await runCatalogDemo({ baseUrl, auth: `Bearer ${admin.secret_key}`, projectId: projectA });
    await runCatalogDemo({ baseUrl, auth: `Bearer ${admin.secret_key}`, projectId: projectB });
    key = (await createApiKey(t.db, { projectId: projectA, role: 'viewer' })).secret_key;
    rows = (await graphql('{ records { id name license embedding topic_classification { label confidence } } }')).data.records;
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  async function graphql(query: string, variables?: Record<string, unknown>) {
    const res = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-lattice-trace': '1' },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: { message: string }[]; extensions?: { tracing?: { statements: number } } };
    expect(body.errors).toBeUndefined();
    expect(body.extensions?.tracing?.statements).toBe(1);
    return body as { data: any };
  }

  /** The expected answer, computed in JS: filter, then order by cosine distance (id breaks ties), then limit. */
  function expected(v: number[], license: string, min: number, allowed?: ReadonlySet<string>) {
    return rows
      .filter((r) => r.embedding && r.license === license && (r.topic_classification?.confidence ?? 0) > min && (!allowed || allowed.has(r.id)))
      .map((r) => ({ id: r.id, name: r.name, distance: cosineDistance(r.embedding!, v) }))
      .sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : 1))
      .slice(0, 5);
  }

  function check(got: any[], want: ReturnType<typeof expected>, license: string, min: number) {
    expect(got.map((r) => r._distance)).toHaveLength(want.length);
    got.forEach((r, i) => {
      expect(r.license).toBe(license);
      expect(r.topic_classification.confidence).toBeGreaterThan(min);
      expect(r._distance).toBeCloseTo(want[i].distance, 5);
      // Equal distances (identical READMEs, e.g. a package and its platform binary) may come in either order.
      const tied = want.filter((w) => Math.abs(w.distance - r._distance) < 1e-6).map((w) => w.id);
      expect(tied).toContain(r.id);
    });
    expect(new Set(got.map((r) => r.id)).size).toBe(got.length);
  }

  it('loaded the real catalog once per project', async () => {
    expect(rows.length).toBeGreaterThan(100);
    expect(new Set(rows.map((r) => r.name)).size).toBeGreaterThan(100);
    expect(rows.filter((r) => r.license === 'MIT' && (r.topic_classification?.confidence ?? 0) > 0.9).length).toBeGreaterThan(5);
  });

  it('filter on typed metadata AND feature-table confidence AND nearest embedding: one statement, JS-checked', async () => {
    const probe = rows.find((r) => r.name === 'ajv' && r.embedding) ?? rows.find((r) => r.embedding)!;
    const v = probe.embedding!;
    const { data } = await graphql(SEED_001, { v, license: 'MIT', min: 0.9 });
    const want = expected(v, 'MIT', 0.9);
    expect(want.length).toBe(5);
    check(data.records, want, 'MIT', 0.9);
    for (let i = 1; i < data.records.length; i++) expect(data.records[i]._distance).toBeGreaterThanOrEqual(data.records[i - 1]._distance);
    if (probe.license === 'MIT' && probe.topic_classification!.confidence > 0.9) {
      expect(data.records[0]._distance).toBeCloseTo(0, 5);
    }
  });

  it("the README's seed-001 command and its other catalog queries run as written", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const line = readme.split('\n').find((l) => l.includes('"query":"query($v: [Float!]!) { records('))!;
    expect(line).toBeDefined();
    const payload = JSON.parse(`${line.slice(line.indexOf("'{") + 1, line.indexOf(`'"$V"'`))}null}}`) as { query: string };
    const ajv = rows.find((r) => r.name === 'ajv')!;
    const { data } = await graphql(payload.query, { v: ajv.embedding });
    expect(data.records.length).toBeGreaterThan(0);
    expect(data.records.length).toBeLessThanOrEqual(5);
    for (const r of data.records) {
      expect(r.license).toBe('MIT');
      expect(r.topic_classification.confidence).toBeGreaterThan(0.9);
      expect(r._rank).toBeGreaterThan(0);
    }
    expect(data.records[0].name).toBe('ajv');
    expect(data.records[0]._distance).toBeCloseTo(0, 5);

    const others = await graphql(`{
      datasets { name records_aggregate { count } }
      records(search: "postgres client", limit: 3) { name _rank }
      record(id: "${ajv.id}") { dependencies { kind range target { name } } dependents { source { name } } ownerships { kind owner { name email } } }
    }`);
    const counts = others.data.datasets.map((d: any) => d.records_aggregate[0]?.count ?? 0);
    expect(counts.reduce((a: number, b: number) => a + b, 0)).toBe(rows.length);
    expect(others.data.records.length).toBeGreaterThan(0);
    expect(others.data.record.dependencies.length).toBeGreaterThan(0);
  });

  it('the same with full-text search: rows must also match the search (ground truth from the tsvector column)', async () => {
    const probe = rows.find((r) => r.name === 'pg' && r.embedding) ?? rows.find((r) => r.embedding)!;
    const search = 'postgres OR json OR parser';
    const { data } = await graphql(SEED_001, { v: probe.embedding, license: 'MIT', min: 0.5, search });
    const { rows: matching } = await t.db.query<{ id: string }>(
      `SELECT id FROM app.record WHERE project_id = $1 AND search_vector @@ websearch_to_tsquery('english', $2)`,
      [projectA, search],
    );
    const want = expected(probe.embedding!, 'MIT', 0.5, new Set(matching.map((m) => m.id)));
    expect(want.length).toBeGreaterThan(0);
    check(data.records, want, 'MIT', 0.5);
  });
});
