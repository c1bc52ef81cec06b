/**
 * Migrations of the full-text column and the vector indexes (SPEC S-3, S-4, S-5; src/db/migrate/alter.ts):
 * the generated `search_vector` records what it is generated from in its comment, and a changed set or order
 * of searchable fields or another `search_config` regenerates it (derived data: rows are kept); no searchable
 * field left drops it; with pgvector every declared metric gets its HNSW index, new metrics are added later and
 * undeclared ones dropped — on PGlite (pgvector) and PostgreSQL 15 (no pgvector: `real[]`, no HNSW).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate/index.js';
import type { Model } from '../../src/model/types.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';
import { libraryModel } from '../query/library-model.js';

async function comment(t: TestDb, table: string): Promise<string | null> {
  const { rows } = await t.db.query<{ c: string | null }>(
    `SELECT col_description(a.attrelid, a.attnum) AS c FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = 'search_vector' AND NOT a.attisdropped`,
    [table],
  );
  return rows.length ? rows[0].c : 'no column';
}

async function indexes(t: TestDb, table: string): Promise<string[]> {
  const { rows } = await t.db.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'app' AND tablename = $1 ORDER BY 1`, [table]);
  return rows.map((r) => r.name);
}

/** Ids of books whose full-text column matches `query` under `config`. */
async function matches(t: TestDb, config: string, query: string): Promise<string[]> {
  const { rows } = await t.db.query<{ title: string }>(
    `SELECT title FROM app.book WHERE search_vector @@ websearch_to_tsquery($1::regconfig, $2) ORDER BY title`,
    [config, query],
  );
  return rows.map((r) => r.title);
}

/** The library model with the book's searchable fields and search configuration replaced. */
function withSearch(fields: string[], config = 'english', order?: string[]): Model {
  return libraryModel((doc) => {
    doc.search_config = config;
    const book = doc.entities.book.fields as Record<string, Record<string, unknown>>;
    for (const [name, f] of Object.entries(book)) if (f.type === 'string' || f.type === 'text') f.searchable = fields.includes(name);
    if (order) doc.entities.book.fields = Object.fromEntries(order.map((name) => [name, book[name]]));
  });
}

describe.each(TEST_KINDS)('full-text and vector index migrations on %s', (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function seeded(model: Model): Promise<TestDb> {
    const db = await createTestDb(kind, model);
    const p = await createProject(db.db, 'p');
    await insertRows(db.db, 'book', [
      { project_id: p, title: 'Foundation', summary: 'Robots and an empire' },
      { project_id: p, title: 'Solaris', summary: 'An ocean that thinks' },
    ]);
    return db;
  }

  it('regenerates the column when searchable fields or search_config change, keeps the rows, drops it when none is left', async () => {
    t = await seeded(libraryModel());
    expect(await comment(t, 'app.book')).toBe('lattice search_vector: config=english; fields=title,summary');
    expect(await matches(t, 'english', 'robot')).toEqual(['Foundation']);
    expect((await migrate(t.db, libraryModel())).applied).toBe(false);

    // Summary no longer searchable: "Foundation" is only found by its title.
    const titleOnly = withSearch(['title']);
    const r1 = await migrate(t.db, titleOnly);
    expect(r1.applied).toBe(true);
    expect(r1.statements).toContain('ALTER TABLE "app"."book" DROP COLUMN IF EXISTS "search_vector"');
    expect(r1.statements.some((s) => s.startsWith('ALTER TABLE "app"."book" ADD COLUMN "search_vector" tsvector GENERATED ALWAYS AS'))).toBe(true);
    expect(r1.statements.some((s) => /^ALTER TABLE "app"\."(author|review)" (ADD|DROP)/.test(s))).toBe(false);
    expect(await comment(t, 'app.book')).toBe('lattice search_vector: config=english; fields=title');
    expect(await matches(t, 'english', 'robot')).toEqual([]);
    expect(await matches(t, 'english', 'foundation')).toEqual(['Foundation']);
    expect(await indexes(t, 'book')).toContain('book_search_vector_idx');
    expect((await migrate(t.db, titleOnly)).applied).toBe(false);

    // Reordered (summary weighted A now), then another configuration: no stemming under `simple`.
    const reordered = withSearch(['title', 'summary'], 'english', ['summary', 'title', 'author', 'genre', 'year', 'embedding']);
    expect((await migrate(t.db, reordered)).applied).toBe(true);
    expect(await comment(t, 'app.book')).toBe('lattice search_vector: config=english; fields=summary,title');
    const { rows: weights } = await t.db.query<{ v: string }>(`SELECT search_vector::text AS v FROM app.book WHERE title = 'Solaris'`);
    expect(weights[0].v).toBe("'ocean':2A 'solari':5B 'think':4A");
    const simple = withSearch(['title', 'summary'], 'simple');
    expect((await migrate(t.db, simple)).applied).toBe(true);
    expect(await comment(t, 'app.book')).toBe('lattice search_vector: config=simple; fields=title,summary');
    expect(await matches(t, 'simple', 'robot')).toEqual([]);
    expect(await matches(t, 'simple', 'robots')).toEqual(['Foundation']);

    // Nothing searchable: the column and its index go; the rows stay.
    const none = withSearch([]);
    const r2 = await migrate(t.db, none);
    expect(r2.statements).toContain('ALTER TABLE "app"."book" DROP COLUMN IF EXISTS "search_vector"');
    expect(await comment(t, 'app.book')).toBe('no column');
    expect(await indexes(t, 'book')).not.toContain('book_search_vector_idx');
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM app.book');
    expect(rows[0].n).toBe(2);
    expect((await migrate(t.db, none)).applied).toBe(false);
    // And back.
    expect((await migrate(t.db, libraryModel())).applied).toBe(true);
    expect(await matches(t, 'english', 'robot')).toEqual(['Foundation']);
  });

  it('regenerates once a column created before signatures were recorded (no comment)', async () => {
    t = await seeded(libraryModel());
    await t.db.query('COMMENT ON COLUMN app.book.search_vector IS NULL');
    const r = await migrate(t.db, libraryModel());
    expect(r.applied).toBe(true);
    expect(r.statements).toContain('ALTER TABLE "app"."book" DROP COLUMN IF EXISTS "search_vector"');
    expect(r.statements.filter((s) => s.includes('DROP COLUMN'))).toHaveLength(1);
    expect(await comment(t, 'app.book')).toBe('lattice search_vector: config=english; fields=title,summary');
    expect((await migrate(t.db, libraryModel())).applied).toBe(false);
  });

  it('indexes each declared metric with HNSW (pgvector only), adds new metrics later and drops undeclared ones', async () => {
    const metrics = (m: string[]) => libraryModel((doc) => (doc.entities.book.fields.embedding.metrics = m));
    t = await seeded(metrics(['cosine']));
    const hnsw = async () => (await indexes(t!, 'book')).filter((n) => n.includes('hnsw'));
    const { rows } = await t.db.query<{ type: string }>(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'app.book'::regclass AND attname = 'embedding'`,
    );
    if (kind === 'postgres') {
      // PostgreSQL here has no pgvector: real[] and no index, whatever the metrics.
      expect(rows[0].type).toBe('real[]');
      expect((await migrate(t.db, metrics(['l2', 'inner_product']))).applied).toBe(true);
      expect(await hnsw()).toEqual([]);
      return;
    }
    expect(rows[0].type).toBe('vector(4)');
    expect(await hnsw()).toEqual(['book_embedding_hnsw_idx']);
    const all = await migrate(t.db, metrics(['cosine', 'l2', 'inner_product']));
    expect(all.statements).toContain('CREATE INDEX IF NOT EXISTS "book_embedding_l2_hnsw_idx" ON "app"."book" USING hnsw ("embedding" vector_l2_ops)');
    expect(await hnsw()).toEqual(['book_embedding_hnsw_idx', 'book_embedding_ip_hnsw_idx', 'book_embedding_l2_hnsw_idx']);
    expect((await migrate(t.db, metrics(['cosine', 'l2', 'inner_product']))).applied).toBe(false);
    const l2 = await migrate(t.db, metrics(['l2']));
    expect(l2.statements).toEqual(expect.arrayContaining(['DROP INDEX IF EXISTS "app"."book_embedding_hnsw_idx"', 'DROP INDEX IF EXISTS "app"."book_embedding_ip_hnsw_idx"']));
    expect(await hnsw()).toEqual(['book_embedding_l2_hnsw_idx']);
    expect((await migrate(t.db, metrics(['l2']))).applied).toBe(false);
  });

  it('keeps the metrics\' index names apart when table + field pass PostgreSQL\'s 63 bytes, and migrates again cleanly', async () => {
    // 46 + 1 + 18 bytes: every <table>_<field>_…hnsw_idx name would be truncated to the same 63 bytes.
    const long = (m: string[]) =>
      libraryModel((doc) => {
        doc.entities.a_very_long_entity_name_for_testing_index_item = {
          plural: 'a_very_long_entity_name_for_testing_index_items',
          fields: { embedding_vector_x: { type: 'vector', dimensions: 3, metrics: m } },
        };
      });
    t = await createTestDb(kind, long(['cosine']));
    expect((await migrate(t.db, long(['cosine']))).applied).toBe(false);
    if (kind === 'postgres') return; // no pgvector, no HNSW index
    const hnsw = async () =>
      (
        await t!.db.query<{ name: string }>(
          `SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'app' AND tablename = $1 AND indexdef LIKE '%USING hnsw%' ORDER BY 1`,
          ['a_very_long_entity_name_for_testing_index_item'],
        )
      ).rows.map((r) => r.name);
    expect(await hnsw()).toEqual(['a_very_long_entity_name_for_testing_index_item_embedding_vector']);
    await migrate(t.db, long(['cosine', 'l2', 'inner_product']));
    const three = await hnsw();
    expect(three).toHaveLength(3);
    expect(three.every((n) => Buffer.byteLength(n) <= 63)).toBe(true);
    expect((await migrate(t.db, long(['cosine', 'l2', 'inner_product']))).applied).toBe(false);
    await migrate(t.db, long(['l2']));
    expect(await hnsw()).toEqual([three.find((n) => n.endsWith('_l2_hnsw_idx'))]);
    expect((await migrate(t.db, long(['l2']))).applied).toBe(false);
  });
});
