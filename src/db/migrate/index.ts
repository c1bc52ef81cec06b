/**
 * Applying a model to a database (SPEC S-3): idempotent, one transaction, serialised by an advisory lock,
 * every applied version recorded in `lattice.model_versions` with its DDL.
 */
import { loadModelDocument } from '../../model/load.js';
import type { Model } from '../../model/types.js';
import { qualified } from '../../query/sql/ident.js';
import type { Db, Queryable } from '../types.js';
import { LatticeError } from '../../errors.js';
import type { CompileOptions, VectorStorage } from '../../query/sql/context.js';
import { destructiveChanges, enumValuesMissing } from './alter.js';
import { readCatalog, type CatalogSnapshot } from './catalog.js';
import { enumTypesDdl } from './tables.js';
import { generateDdl, type DdlOptions } from './ddl.js';

export { generateDdl, type DdlOptions } from './ddl.js';
export { alterTableDdl, destructiveChanges, enumValuesMissing } from './alter.js';
export { readCatalog, storedIdentifier, type CatalogSnapshot } from './catalog.js';
export { SEARCH_COLUMN, columnType, sqlLiteral } from './tables.js';

/** Outcome of `migrate`. */
export interface MigrationResult {
  /** True when DDL was executed and a new version recorded. */
  applied: boolean;
  /** The current version after the call (for a dry run: the version it would have). 0 = nothing applied yet. */
  version: number;
  /** Statements executed (applied), that would be executed (dry run), or [] (already up to date). */
  statements: string[];
}

/** Key of the transaction-level advisory lock that serialises migrations of one database ("latt" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x6c617474;

/**
 * What the server offers: pgvector and pg_trgm, installed or installable.
 * @returns DDL options for `generateDdl`
 */
export async function detectCapabilities(q: Queryable): Promise<Required<DdlOptions>> {
  const { rows } = await q.query<{ name: string }>(
    `SELECT name FROM pg_available_extensions WHERE name IN ('vector', 'pg_trgm')`,
  );
  const names = new Set(rows.map((r) => r.name));
  return { vector: names.has('vector'), trigram: names.has('pg_trgm') };
}

/**
 * What the read compiler needs to know about this database (`compileRead`'s options), SPEC S-5: vectors are
 * stored as `vector(n)` (`pgvector`) when the `vector` extension is installed — `migrate` installs it whenever
 * the server offers it, and then creates (or converts to) `vector(n)` columns — else as `real[]` (`array`,
 * distances computed by Lattice's SQL functions); and whether pgvector can continue an HNSW index scan past
 * rows a filter removed (`hnsw.iterative_scan`, pgvector ≥ 0.8). Call once per database after `migrate` (one
 * catalog query).
 */
export async function readCompileOptions(q: Queryable): Promise<CompileOptions> {
  const { rows } = await q.query<{ version: string }>(`SELECT extversion AS version FROM pg_extension WHERE extname = 'vector'`);
  const version = rows[0]?.version;
  if (version === undefined) return { vectors: 'array', hnswIterativeScan: false };
  const [major, minor] = version.split('.').map((p) => Number.parseInt(p, 10));
  return { vectors: 'pgvector', hnswIterativeScan: major > 0 || minor >= 8 };
}

/** How this database stores `vector` fields: `readCompileOptions(q).vectors`. */
export async function vectorStorageOf(q: Queryable): Promise<VectorStorage> {
  return (await readCompileOptions(q)).vectors;
}

/** Latest recorded version, or null on a database never migrated. */
async function latestVersion(
  q: Queryable,
  model: Model,
): Promise<{ version: number; hash: string; generated_ddl: string; document: unknown } | null> {
  const table = qualified(model.systemSchema, 'model_versions');
  const { rows: exists } = await q.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
  if (!exists[0]?.ok) return null;
  const { rows } = await q.query<{ version: number; hash: string; generated_ddl: string; document: unknown }>(
    `SELECT version, hash, generated_ddl, document FROM ${table} ORDER BY version DESC LIMIT 1`,
  );
  return rows[0] ?? null;
}

/**
 * The model recorded with the latest version, for comparing defaults; undefined when there is none or it no
 * longer loads (a document recorded by an older Lattice whose rules have changed).
 */
function previousModel(document: unknown): Model | undefined {
  if (document === undefined) return undefined;
  try {
    return loadModelDocument(document);
  } catch {
    return undefined;
  }
}

/** The DDL text stored with a version (statements joined as a runnable script). */
export function ddlText(statements: readonly string[]): string {
  return statements.map((s) => `${s};`).join('\n\n');
}

/**
 * Bring the database to `model`.
 *
 * Compares the model with the database as it is (`readCatalog`, see src/db/migrate/alter.ts for what is
 * applied and what is refused): additive differences become DDL; destructive ones (a column's type changed,
 * a column without a field, enum values removed) are refused — nothing is dropped or converted.
 *
 * A no-op (`applied: false`, `statements: []`) when the latest recorded version has the same model hash and
 * the same generated (catalog-independent) DDL, and the tables already match the model — so upgrading
 * Lattice's generator, or a column dropped by hand, re-applies. Otherwise every statement runs in ONE owner
 * transaction that first takes `pg_advisory_xact_lock(MIGRATION_LOCK_KEY)` (two processes migrating at once:
 * the second waits, then sees the first's version and does nothing), and the new version (latest + 1) is
 * recorded with document, hash, the executed DDL and the generated DDL. The one exception: when an existing
 * enum type lacks declared values, the enum statements are committed first in a transaction of their own
 * (PostgreSQL refuses to use an enum value in the transaction that added it, e.g. as a new default); an
 * unused enum value is all that remains if the main transaction then fails.
 *
 * With `dryRun`, nothing is executed or recorded: `statements` is the full DDL, `version` the one it would get
 * (the current one when already up to date).
 * @throws LatticeError `CONFLICT` listing the destructive changes (nothing is applied)
 * @throws the database error of the failing statement (the transaction is rolled back; nothing is recorded),
 *         its message prefixed with the statement's first line (and a hint for a new required column)
 */
export async function migrate(db: Db, model: Model, options: { dryRun?: boolean } = {}): Promise<MigrationResult> {
  if (!options.dryRun) {
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const catalog = await readCatalog(tx, model);
      refuseDestructive(model, catalog, await detectCapabilities(tx));
      if (enumValuesMissing(model, catalog)) for (const sql of enumTypesDdl(model)) await run(tx, sql);
    });
  }
  return db.transaction(async (tx) => {
    if (!options.dryRun) await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const capabilities = await detectCapabilities(tx);
    const catalog = await readCatalog(tx, model);
    refuseDestructive(model, catalog, capabilities);
    const latest = await latestVersion(tx, model);
    const generated = ddlText(generateDdl(model, capabilities));
    const statements = generateDdl(model, capabilities, catalog, previousModel(latest?.document));
    const text = ddlText(statements);
    const upToDate = latest !== null && latest.hash === model.hash && latest.generated_ddl === generated && text === generated;
    const current = latest?.version ?? 0;
    if (options.dryRun) return { applied: false, version: upToDate ? current : current + 1, statements };
    if (upToDate) return { applied: false, version: current, statements: [] };
    for (const sql of statements) await run(tx, sql);
    const version = current + 1;
    await tx.query(
      `INSERT INTO ${qualified(model.systemSchema, 'model_versions')} (version, hash, document, ddl, generated_ddl)
       VALUES ($1, $2, $3, $4, $5)`,
      [version, model.hash, JSON.stringify(model.document), text, generated],
    );
    return { applied: true, version, statements };
  });
}

/**
 * @throws LatticeError `CONFLICT` naming every destructive change of `model` against `catalog`
 */
function refuseDestructive(model: Model, catalog: CatalogSnapshot, capabilities: DdlOptions): void {
  const refused = destructiveChanges(model, catalog, capabilities);
  if (!refused.length) return;
  throw new LatticeError(
    'CONFLICT',
    `The model changes existing tables in ways Lattice does not apply by itself (it never drops or converts ` +
      `data): ${refused.map((d) => `${d.path}: ${d.message}`).join('; ')}. Restore those fields as they were, ` +
      `or change the tables yourself (ALTER TABLE … in psql) and start again.`,
    refused,
  );
}

/**
 * Run one migration statement.
 * @throws the database error, its message prefixed with the statement's first line (and a hint when a new
 *         NOT NULL column meets existing rows)
 */
async function run(tx: Queryable, sql: string): Promise<void> {
  try {
    await tx.query(sql);
  } catch (err) {
    if (err instanceof Error) {
      const hint =
        (err as { code?: string }).code === '23502' && /^ALTER TABLE .* ADD COLUMN/.test(sql)
          ? ' (the table already has rows: give the new required field a default, or make it optional)'
          : '';
      err.message = `Migration failed at "${sql.split('\n')[0]}": ${err.message}${hint}`;
    }
    throw err;
  }
}
