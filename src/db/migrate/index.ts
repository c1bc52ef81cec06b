/**
 * Applying a model to a database (SPEC S-3): idempotent, one transaction, serialised by an advisory lock,
 * every applied version recorded in `lattice.model_versions` with its DDL.
 */
import { loadModelDocument } from '../../model/load.js';
import type { Entity, Model } from '../../model/types.js';
import { qualified } from '../../query/sql/ident.js';
import type { Db, Queryable } from '../types.js';
import { LatticeError } from '../../errors.js';
import type { CompileOptions, VectorStorage } from '../../query/sql/context.js';
import { destructiveChanges, enumValuesMissing } from './alter.js';
import { destructiveDdl, dropTablesDdl, droppedTableChanges } from './destructive.js';
import type { ErrorDetail } from '../../errors.js';
import { readCatalog, type CatalogSnapshot } from './catalog.js';
import { enumTypesDdl } from './tables.js';
import { generateDdl, type DdlOptions } from './ddl.js';

export { generateDdl, type DdlOptions } from './ddl.js';
export { alterTableDdl, destructiveChanges, enumValuesMissing } from './alter.js';
export { readCatalog, storedIdentifier, type CatalogSnapshot } from './catalog.js';
export { removedEntities } from './destructive.js';
export { SEARCH_COLUMN, columnType, sqlLiteral } from './tables.js';

/** Outcome of `migrate`. */
export interface MigrationResult {
  /** True when DDL was executed and a new version recorded. */
  applied: boolean;
  /** The current version after the call (for a dry run: the version it would have). 0 = nothing applied yet. */
  version: number;
  /** Statements executed (applied), that would be executed (dry run), or [] (already up to date). */
  statements: string[];
  /**
   * The destructive changes among them (columns or tables dropped, columns or enum types converted): always []
   * unless `allowDestructive` was given (without it they are refused). A dry run lists them too.
   */
  destructive: ErrorDetail[];
}

/** Where a model version came from, recorded with it (`lattice.model_versions.source`). */
export type ModelSource = 'migrate' | 'api' | 'watch';

/** Options of `migrate`. */
export interface MigrateOptions {
  /** Compute the statements without executing or recording anything. */
  dryRun?: boolean;
  /**
   * Carry out destructive changes instead of refusing them (SPEC M-7 `allow_destructive`; see destructive.ts):
   * drop columns without a field, convert columns of another type, rebuild enum types that lost values, and
   * drop the tables of `removed` entities.
   */
  allowDestructive?: boolean;
  /**
   * Entities of the model being replaced whose tables the new model no longer uses (`removedEntities`). Their
   * tables are dropped when `allowDestructive`; otherwise they are refused as destructive. Without this
   * option, tables of entities no longer in the model are left in place (start-up migrations).
   */
  removed?: { readonly model: Model; readonly entities: readonly Entity[] };
  /** Recorded with the version (default `migrate`); `serve` keeps a version applied through the API. */
  source?: ModelSource;
  /**
   * The version the change was computed against: when the latest recorded version differs (another instance
   * changed the model meanwhile), nothing is applied and a CONFLICT is thrown. Checked under the lock.
   */
  expectVersion?: number;
}

/** Channel on which `migrate` announces a new version (payload `{"version":n,"hash":"…"}`), at commit. */
export const MODEL_CHANNEL = 'lattice_model';

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
export async function migrate(db: Db, model: Model, options: MigrateOptions = {}): Promise<MigrationResult> {
  const allow = options.allowDestructive === true;
  if (!options.dryRun) {
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const catalog = await readCatalog(tx, model);
      const destructive = destructiveList(model, catalog, await detectCapabilities(tx), options);
      if (!allow) refuseDestructive(destructive, options);
      if (enumValuesMissing(model, catalog)) for (const sql of enumTypesDdl(model)) await run(tx, sql);
    });
  }
  return db.transaction(async (tx) => {
    if (!options.dryRun) await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const capabilities = await detectCapabilities(tx);
    const catalog = await readCatalog(tx, model);
    const destructive = destructiveList(model, catalog, capabilities, options);
    if (!allow) refuseDestructive(destructive, options);
    const latest = await latestVersion(tx, model);
    const generated = ddlText(generateDdl(model, capabilities));
    const statements = [
      ...(allow && options.removed ? dropTablesDdl(options.removed.model, options.removed.entities, catalog) : []),
      ...(allow ? destructiveDdl(model, catalog, capabilities) : []),
      ...generateDdl(model, capabilities, catalog, previousModel(latest?.document)),
    ];
    const text = ddlText(statements);
    const upToDate = latest !== null && latest.hash === model.hash && latest.generated_ddl === generated && text === generated;
    const current = latest?.version ?? 0;
    if (options.expectVersion !== undefined && current !== options.expectVersion) {
      throw new LatticeError(
        'CONFLICT',
        `The model changed while this change was prepared: version ${current} is now recorded, the change was computed against version ${options.expectVersion}. Nothing was applied; read the model again (GET /api/v1/model) and resend.`,
      );
    }
    if (options.dryRun) return { applied: false, version: upToDate ? current : current + 1, statements, destructive };
    if (upToDate) return { applied: false, version: current, statements: [], destructive: [] };
    for (const sql of statements) await run(tx, sql);
    const version = current + 1;
    await tx.query(
      `INSERT INTO ${qualified(model.systemSchema, 'model_versions')} (version, hash, document, ddl, generated_ddl, source)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [version, model.hash, JSON.stringify(model.document), text, generated, options.source ?? 'migrate'],
    );
    // Delivered at commit, only if the transaction commits: every instance then swaps (SPEC M-7).
    await tx.query('SELECT pg_notify($1, $2)', [MODEL_CHANNEL, JSON.stringify({ version, hash: model.hash })]);
    return { applied: true, version, statements, destructive };
  });
}

/** The destructive changes of `model` against the catalog, with the tables of removed entities. */
function destructiveList(model: Model, catalog: CatalogSnapshot, capabilities: DdlOptions, options: MigrateOptions): ErrorDetail[] {
  const removed = options.removed ? droppedTableChanges(options.removed.entities, catalog) : [];
  return [...removed, ...destructiveChanges(model, catalog, capabilities)];
}

/**
 * @throws LatticeError `CONFLICT` naming every destructive change (nothing is applied)
 */
function refuseDestructive(refused: readonly ErrorDetail[], options: MigrateOptions): void {
  if (!refused.length) return;
  const what = refused.map((d) => `${d.path}: ${d.message}`).join('; ');
  throw new LatticeError(
    'CONFLICT',
    options.removed
      ? `The new model drops or converts data: ${what}. Nothing was applied. Send it again with ` +
          `allow_destructive: true (CLI: --allow-destructive) to carry these out, or keep those entities and fields.`
      : `The model changes existing tables in ways Lattice does not apply by itself (it never drops or converts ` +
          `data): ${what}. Restore those fields as they were, or change the tables yourself (ALTER TABLE … in ` +
          `psql) and start again.`,
    [...refused],
  );
}

/**
 * Run one migration statement.
 * @throws the database error, its message prefixed with the statement's first line (and a hint when a new
 *         NOT NULL column meets existing rows), with the statement as `statement`
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
      (err as { statement?: string }).statement = sql;
    }
    throw err;
  }
}
