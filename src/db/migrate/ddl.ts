/**
 * Model → DDL (SPEC S-3): the complete, idempotent statement list that brings a database to a model.
 * Pure: no database access; what the server offers (pgvector, pg_trgm) comes in as options.
 */
import type { Model } from '../../model/types.js';
import { alterTableDdl } from './alter.js';
import { EMPTY_CATALOG, type CatalogSnapshot } from './catalog.js';
import { entityRlsDdl, grantsDdl, ingestedEventsRlsDdl, projectsRlsDdl } from './rls.js';
import { functionsDdl, preambleDdl, roleDdl, systemTablesDdl } from './system.js';
import { dataEntities, enumTypesDdl, tableDdl } from './tables.js';
import { entityEventTriggersDdl, eventFunctionDdl } from './events.js';

/** What the target database offers. */
export interface DdlOptions {
  /** pgvector available: `vector(n)` columns with HNSW indexes; otherwise `real[]` (SPEC S-5). Default true. */
  vector?: boolean;
  /** pg_trgm available (created for trigram indexes). Default true. */
  trigram?: boolean;
}

/**
 * Generate the DDL for a model, in dependency order: schemas and extensions, request role, functions, system
 * tables, enum types, data tables (parents before children), row-level security, grants.
 * Every statement is idempotent (IF NOT EXISTS, OR REPLACE, guarded DO blocks, DROP/CREATE POLICY) except
 * the `ALTER TABLE` statements derived from `catalog`, which are right for that catalog state only.
 * @param catalog the database as it is (`readCatalog`); without it the DDL is for tables that are missing or
 *        already match (pure, catalog-independent)
 * @param previous the model applied last, for changed defaults of existing columns (see `alterTableDdl`)
 * @returns one SQL statement per element, without trailing semicolons
 * @throws Error when a ref targets an unknown entity or refs form a cycle (the model loader prevents the first;
 *         cycles are legal models but unsupported by this first generator).
 */
export function generateDdl(
  model: Model,
  options: DdlOptions = {},
  catalog: CatalogSnapshot = EMPTY_CATALOG,
  previous?: Model,
): string[] {
  const opts: Required<DdlOptions> = { vector: options.vector ?? true, trigram: options.trigram ?? true };
  const s = model.systemSchema;
  return [
    ...preambleDdl(model, opts),
    ...roleDdl(),
    ...functionsDdl(s),
    ...systemTablesDdl(s),
    ...enumTypesDdl(model),
    ...orderedEntities(model).flatMap((e) => tableDdl(model, e, opts, alterTableDdl(model, e, catalog, opts, previous))),
    ...projectsRlsDdl(model),
    ...ingestedEventsRlsDdl(model),
    ...dataEntities(model).flatMap((e) => entityRlsDdl(model, e)),
    // Change events for subscriptions (SPEC G-8): see events.ts.
    eventFunctionDdl(s),
    ...dataEntities(model).flatMap((e) => entityEventTriggersDdl(model, e)),
    ...grantsDdl(model),
  ];
}

/** Data entities ordered so every referenced table is created before its referrers (self-refs allowed). */
function orderedEntities(model: Model) {
  const entities = dataEntities(model);
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: typeof entities = [];
  const visit = (name: string) => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`References between entities form a cycle through "${name}"; this is not supported yet`);
    const e = model.entities.get(name);
    if (!e || e.system) return;
    visiting.add(name);
    for (const f of e.fields) if (f.type === 'ref' && f.ref && f.ref.to !== name) visit(f.ref.to);
    visiting.delete(name);
    done.add(name);
    out.push(e);
  };
  for (const e of entities) visit(e.name);
  return out;
}
