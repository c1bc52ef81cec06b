/**
 * Row-level security and privileges (SPEC S-6, A-4).
 *
 * Every data table and `lattice.projects` has RLS enabled AND forced. Policies for the request role:
 * - SELECT: admin, or the row's project is one of the principal's (`project_id = ANY(current_project_ids())`);
 * - INSERT / UPDATE / DELETE: a writing role (`can_write()`) and, unless admin, the row's project is one the
 *   principal may write into (`current_write_project_ids()`: its owner/editor projects, a subset of its readable
 *   ones — a user may be an editor of one project and a viewer of another); UPDATE checks old and new row.
 * `lattice.projects` gets only a SELECT policy (its tenant column is `id`); the request role cannot write it.
 * Because RLS is forced, the table owner is subject to policies too: a `lattice_owner` policy `TO CURRENT_USER`
 * (the migrating role) lets owner transactions (migrations, administration) work for a non-superuser owner.
 * Helper calls are wrapped in scalar sub-selects so they are evaluated once per statement.
 * Policies are dropped and re-created on every migration, so they always match the current generator.
 */
import { qualified, quoteIdent } from '../../query/sql/ident.js';
import type { Entity, Model } from '../../model/types.js';
import { REQUEST_ROLE } from '../types.js';
import { dataEntities } from './tables.js';

/** The USING/CHECK expressions for a tenant column. */
export function policyExpressions(systemSchema: string, tenantColumn: string): { read: string; write: string } {
  const call = (fn: string) => `(SELECT ${qualified(systemSchema, fn)}())`;
  const read = `(${call('is_admin')} OR ${quoteIdent(tenantColumn)} = ANY (${call('current_project_ids')}::uuid[]))`;
  const writable = `(${call('is_admin')} OR ${quoteIdent(tenantColumn)} = ANY (${call('current_write_project_ids')}::uuid[]))`;
  return { read, write: `(${call('can_write')} AND ${writable})` };
}

function policies(table: string, read: string, write: string | null): string[] {
  const role = quoteIdent(REQUEST_ROLE);
  const create = (name: string, body: string) => [
    `DROP POLICY IF EXISTS ${quoteIdent(name)} ON ${table}`,
    `CREATE POLICY ${quoteIdent(name)} ON ${table} ${body}`,
  ];
  return [
    `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
    ...create('lattice_owner', 'TO CURRENT_USER USING (true) WITH CHECK (true)'),
    ...create('lattice_select', `FOR SELECT TO ${role} USING ${read}`),
    ...(write
      ? [
          ...create('lattice_insert', `FOR INSERT TO ${role} WITH CHECK ${write}`),
          ...create('lattice_update', `FOR UPDATE TO ${role} USING ${write} WITH CHECK ${write}`),
          ...create('lattice_delete', `FOR DELETE TO ${role} USING ${write}`),
        ]
      : []),
  ];
}

/** RLS and policies of one data table. */
export function entityRlsDdl(model: Model, entity: Entity): string[] {
  const { read, write } = policyExpressions(model.systemSchema, entity.tenantColumn);
  return policies(qualified(entity.table.schema, entity.table.name), read, write);
}

/** RLS of `lattice.projects` (read-only for the request role). */
export function projectsRlsDdl(model: Model): string[] {
  const { read } = policyExpressions(model.systemSchema, 'id');
  return policies(qualified(model.systemSchema, 'projects'), read, null);
}

/** RLS of `lattice.ingested_events` (ingestion deduplication, `src/traces/dedupe.ts`): rows of the principal's projects. */
export function ingestedEventsRlsDdl(model: Model): string[] {
  const { read, write } = policyExpressions(model.systemSchema, 'project_id');
  return policies(qualified(model.systemSchema, 'ingested_events'), read, write);
}

/**
 * Privileges of the request role: USAGE on both schemas, EXECUTE on Lattice's functions, SELECT on projects,
 * CRUD on data tables, SELECT/INSERT/DELETE on ingested_events. Nothing on api_keys, users, memberships, model_versions.
 */
export function grantsDdl(model: Model): string[] {
  const role = quoteIdent(REQUEST_ROLE);
  const s = quoteIdent(model.systemSchema);
  const tables = dataEntities(model).map((e) => qualified(e.table.schema, e.table.name));
  return [
    `GRANT USAGE ON SCHEMA ${s}, ${quoteIdent(model.dataSchema)} TO ${role}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${role}`,
    `GRANT SELECT ON ${qualified(model.systemSchema, 'projects')} TO ${role}`,
    `GRANT SELECT, INSERT, DELETE ON ${qualified(model.systemSchema, 'ingested_events')} TO ${role}`,
    ...(tables.length ? [`GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables.join(', ')} TO ${role}`] : []),
  ];
}
