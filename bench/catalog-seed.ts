/**
 * Catalog benchmark data: the catalog preset's real demo data (the packages installed in `node_modules`, their
 * READMEs, feature-hashing embeddings and classified topics; docs/catalog.md) loaded through Lattice's own REST
 * ingestion, then replicated set-based so the query reads a catalog of realistic size: every record (with its
 * topic classification) is copied `copies − 1` more times under new ids, keeping its text, metadata and
 * embedding; `spec` gets a `#<copy>` suffix to stay unique. Then `ANALYZE` (and `VACUUM` for the GIN index).
 */
import { createProject } from '../src/auth/projects.js';
import { runCatalogDemo } from '../src/demo/catalog/run.js';
import type { Db } from '../src/db/types.js';
import type { Entity, Model } from '../src/model/types.js';
import { qualified, quoteIdent } from '../src/query/sql/ident.js';
import type { CaseContext } from './cases.js';

/** Copies of every record in the benchmark catalog (the original included). */
export const DEFAULT_CATALOG_COPIES = 20;

/** Record whose embedding is the query vector of the catalog case ("similar to this package"). */
export const QUERY_RECORD_NAME = 'graphql';

function entity(model: Model, name: string): Entity {
  const e = model.entities.get(name);
  if (!e) throw new Error(`The model has no entity '${name}'; the catalog benchmark needs the catalog preset.`);
  return e;
}

/** Columns of an entity other than the ones the copy statement sets itself. */
function copiedColumns(e: Entity, except: readonly string[]): string[] {
  const cols = e.fields.map((f) => f.column).filter((c) => !except.includes(c));
  return cols;
}

/**
 * Load and replicate the catalog into a migrated catalog-preset database.
 * @param db the benchmark database (owner connection: replication bypasses row-level security)
 * @param latticeUrl origin of a Lattice server over `db` (the demo data goes through its REST ingestion)
 * @param auth Authorization header of an admin key
 * @param copies copies of each record, the original included (≥ 1)
 * @returns the case context (project id, query vector) and a line describing the data
 * @throws Error when node_modules cannot be scanned, ingestion fails, or the query record is missing
 */
export async function seedCatalog(
  db: Db,
  model: Model,
  latticeUrl: string,
  auth: string,
  copies = DEFAULT_CATALOG_COPIES,
): Promise<{ context: CaseContext; description: string }> {
  const project = await createProject(db, 'bench-catalog');
  const demo = await runCatalogDemo({ baseUrl: latticeUrl, auth, projectId: project.id });
  const record = entity(model, 'record');
  const topic = entity(model, 'topic_classification');
  const rt = qualified(record.table.schema, record.table.name);
  const tt = qualified(topic.table.schema, topic.table.name);
  const uuid = `${qualified(model.systemSchema, 'uuid_generate_v7')}()`;
  const recordCols = copiedColumns(record, ['id', 'spec', 'created_at', 'updated_at']).map(quoteIdent);
  const topicCols = copiedColumns(topic, ['id', 'record_id', 'created_at', 'updated_at']).map(quoteIdent);
  // One statement per table: copies of every original record, remembered in a temporary mapping table so the
  // topic classifications follow their record.
  await db.transaction(async (tx) => {
    await tx.query(`CREATE TEMPORARY TABLE bench_copy ON COMMIT DROP AS
      SELECT r.id AS original, c AS copy, ${uuid} AS id FROM ${rt} r CROSS JOIN generate_series(2, $1::int) AS c
      WHERE r.project_id = $2`, [copies, project.id]);
    await tx.query(`INSERT INTO ${rt} (id, spec, ${recordCols.join(', ')})
      SELECT m.id, r.spec || '#' || m.copy, ${recordCols.map((c) => `r.${c}`).join(', ')}
      FROM bench_copy m JOIN ${rt} r ON r.id = m.original`);
    await tx.query(`INSERT INTO ${tt} (id, record_id, ${topicCols.join(', ')})
      SELECT ${uuid}, m.id, ${topicCols.map((c) => `t.${c}`).join(', ')}
      FROM bench_copy m JOIN ${tt} t ON t.record_id = m.original`);
  });
  await db.query('VACUUM ANALYZE');
  const { rows } = await db.query<{ records: string | number; embedding: string }>(
    `SELECT (SELECT count(*) FROM ${rt} WHERE project_id = $1) AS records,
            (SELECT embedding::text FROM ${rt} WHERE project_id = $1 AND name = $2 ORDER BY created_at, id LIMIT 1) AS embedding`,
    [project.id, QUERY_RECORD_NAME],
  );
  if (!rows[0]?.embedding) throw new Error(`The catalog has no record named ${QUERY_RECORD_NAME}; is graphql installed?`);
  // vector text is [a,b,...]; real[] text is {a,b,...}.
  const queryVector = (JSON.parse(rows[0].embedding.replace(/^\{/, '[').replace(/\}$/, ']')) as number[]).map(Number);
  const original = demo.rows.record;
  return {
    context: { projectId: project.id, queryVector },
    description:
      `${original.toLocaleString('en-US')} real packages from node_modules with their READMEs, embeddings and topics, ` +
      `replicated ${copies}× to ${Number(rows[0].records).toLocaleString('en-US')} records`,
  };
}
