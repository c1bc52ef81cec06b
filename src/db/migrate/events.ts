/**
 * Change events for subscriptions (SPEC G-8, §8 Scale-out): triggers on every data table publish the ids of
 * changed rows with `pg_notify` on one channel, {@link EVENTS_CHANNEL}; every server instance LISTENs on it
 * (`src/live/hub.ts`) and each subscriber re-reads the rows under its own principal.
 *
 * Decisions:
 * - Statement-level AFTER triggers with transition tables (`REFERENCING NEW/OLD TABLE`), one per operation
 *   (PostgreSQL allows transition tables only on single-event triggers): a batch insert of 10,000 rows costs
 *   one trigger call and a handful of notifications, not 10,000.
 * - Payload: JSON text `{"entity":"trial","op":"INSERT","project_id":"<uuid>","ids":["<uuid>", ...]}`, one
 *   notification per project and chunk of at most {@link IDS_PER_NOTIFICATION} ids: 150 ids × 40 bytes of
 *   JSON plus the envelope stay well under PostgreSQL's 8000-byte NOTIFY payload limit. Ids only, never
 *   column values: what a subscriber sees is decided by its own re-read under row-level security.
 * - For UPDATE the new rows' ids are published (a row's id and project never change).
 * - NOTIFY is transactional: nothing is published for a rolled-back write, and identical payloads within one
 *   transaction are folded by PostgreSQL.
 * - The tenant column of every data table is `project_id` (src/model/build.ts), which the function reads.
 */
import type { Entity, Model } from '../../model/types.js';
import { qualified, quoteIdent } from '../../query/sql/ident.js';
import { sqlLiteral } from './tables.js';

/** The NOTIFY channel of row change events. */
export const EVENTS_CHANNEL = 'lattice_events';

/** Most ids in one notification (keeps the payload under PostgreSQL's 8000-byte limit). */
export const IDS_PER_NOTIFICATION = 150;

/** One published change: the shape of a notification's payload. */
export interface ChangeNotification {
  readonly entity: string;
  readonly op: 'INSERT' | 'UPDATE' | 'DELETE';
  readonly project_id: string;
  readonly ids: readonly string[];
}

function publishLoop(rows: string): string {
  return `FOR r IN
      SELECT t.project_id AS p, json_agg(t.id ORDER BY t.id) AS ids
      FROM (SELECT project_id, id, (row_number() OVER (PARTITION BY project_id ORDER BY id) - 1) / ${IDS_PER_NOTIFICATION} AS chunk
            FROM ${rows}) t
      GROUP BY t.project_id, t.chunk
    LOOP
      PERFORM pg_notify(TG_ARGV[0], json_build_object('entity', TG_ARGV[1], 'op', TG_OP, 'project_id', r.p, 'ids', r.ids)::text);
    END LOOP;`;
}

/** The shared trigger function `<system>.publish_row_events(channel, entity)`. */
export function eventFunctionDdl(systemSchema: string): string {
  return `CREATE OR REPLACE FUNCTION ${qualified(systemSchema, 'publish_row_events')}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  IF TG_OP = 'DELETE' THEN
    ${publishLoop('old_rows')}
  ELSE
    ${publishLoop('new_rows')}
  END IF;
  RETURN NULL;
END
$$`;
}

/** The three statement-level triggers of one data table (idempotent: CREATE OR REPLACE TRIGGER, PG ≥ 14). */
export function entityEventTriggersDdl(model: Model, entity: Entity): string[] {
  const table = qualified(entity.table.schema, entity.table.name);
  const fn = qualified(model.systemSchema, 'publish_row_events');
  const args = `${sqlLiteral(EVENTS_CHANNEL)}, ${sqlLiteral(entity.name)}`;
  const trigger = (op: 'INSERT' | 'UPDATE' | 'DELETE', ref: string) =>
    `CREATE OR REPLACE TRIGGER ${quoteIdent(`lattice_events_${op.toLowerCase()}`)} AFTER ${op} ON ${table} ` +
    `REFERENCING ${ref} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}(${args})`;
  return [trigger('INSERT', 'NEW TABLE AS new_rows'), trigger('UPDATE', 'NEW TABLE AS new_rows'), trigger('DELETE', 'OLD TABLE AS old_rows')];
}

/**
 * Parse a notification payload.
 * @returns the notification, or null when the payload is not one (another writer on the channel)
 */
export function parseChangeNotification(payload: string): ChangeNotification | null {
  try {
    const v = JSON.parse(payload) as Partial<ChangeNotification>;
    if (typeof v.entity !== 'string' || typeof v.project_id !== 'string' || !Array.isArray(v.ids)) return null;
    if (v.op !== 'INSERT' && v.op !== 'UPDATE' && v.op !== 'DELETE') return null;
    return v as ChangeNotification;
  } catch {
    return null;
  }
}
