/**
 * Applying a model to a database (SPEC S-3): idempotent, one transaction, serialised by an advisory lock,
 * every applied version recorded in `lattice.model_versions` with its DDL.
 */
import type { Model } from '../../model/types.js';
import { qualified } from '../../query/sql/ident.js';
import type { Db, Queryable } from '../types.js';
import { generateDdl, type DdlOptions } from './ddl.js';

export { generateDdl, type DdlOptions } from './ddl.js';
export { SEARCH_COLUMN, SEARCH_CONFIG, columnType, sqlLiteral } from './tables.js';

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

/** Latest recorded version, or null on a database never migrated. */
async function latestVersion(q: Queryable, model: Model): Promise<{ version: number; hash: string; ddl: string } | null> {
  const table = qualified(model.systemSchema, 'model_versions');
  const { rows: exists } = await q.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
  if (!exists[0]?.ok) return null;
  const { rows } = await q.query<{ version: number; hash: string; ddl: string }>(
    `SELECT version, hash, ddl FROM ${table} ORDER BY version DESC LIMIT 1`,
  );
  return rows[0] ?? null;
}

/** The DDL text stored with a version (statements joined as a runnable script). */
export function ddlText(statements: readonly string[]): string {
  return statements.map((s) => `${s};`).join('\n\n');
}

/**
 * Bring the database to `model`.
 *
 * A no-op (`applied: false`, `statements: []`) when the latest recorded version has the same model hash and
 * the same generated DDL (so upgrading Lattice's generator re-applies). Otherwise every statement of
 * `generateDdl` runs in ONE owner transaction that first takes `pg_advisory_xact_lock(MIGRATION_LOCK_KEY)`
 * (two processes migrating at once: the second waits, then sees the first's version and does nothing), and
 * the new version (latest + 1) is recorded with document, hash and DDL text.
 *
 * With `dryRun`, nothing is executed or recorded: `statements` is the full DDL, `version` the one it would get
 * (the current one when already up to date).
 * @throws the database error of the failing statement (the transaction is rolled back; nothing is recorded),
 *         its message prefixed with the statement's first line.
 */
export async function migrate(db: Db, model: Model, options: { dryRun?: boolean } = {}): Promise<MigrationResult> {
  return db.transaction(async (tx) => {
    if (!options.dryRun) await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const statements = generateDdl(model, await detectCapabilities(tx));
    const text = ddlText(statements);
    const latest = await latestVersion(tx, model);
    const upToDate = latest !== null && latest.hash === model.hash && latest.ddl === text;
    const current = latest?.version ?? 0;
    if (options.dryRun) return { applied: false, version: upToDate ? current : current + 1, statements };
    if (upToDate) return { applied: false, version: current, statements: [] };
    for (const sql of statements) {
      try {
        await tx.query(sql);
      } catch (err) {
        if (err instanceof Error) err.message = `Migration failed at "${sql.split('\n')[0]}": ${err.message}`;
        throw err;
      }
    }
    const version = current + 1;
    await tx.query(
      `INSERT INTO ${qualified(model.systemSchema, 'model_versions')} (version, hash, document, ddl) VALUES ($1, $2, $3, $4)`,
      [version, model.hash, JSON.stringify(model.document), text],
    );
    return { applied: true, version, statements };
  });
}
