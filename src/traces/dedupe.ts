/**
 * Deduplication of ingestion events by envelope id (SPEC R-6). The Langfuse SDK resends a whole batch when the
 * 207 answer lists any error, and may send later batches in between; re-applying an event already applied
 * could undo a later update of the same row. So the envelope ids of applied events are kept per project in
 * `lattice.ingested_events` (created by `migrate`, rows of the principal's projects only through row-level
 * security) for {@link RETENTION}, in the same transaction as the writes:
 *
 * 1. `claimEvents`: one INSERT … ON CONFLICT DO NOTHING RETURNING of the batch's ids: the ids returned are new,
 *    the others were applied before (a concurrent request with the same id waits for that one to commit or
 *    roll back, so an id is applied once);
 * 2. the new events are written;
 * 3. `releaseEvents`: the ids of events that failed are deleted again, so a resend retries them.
 *
 * The key is (project, envelope id): another project's ids never dedupe against this one's.
 */
import type { Queryable } from '../db/types.js';
import type { Model } from '../model/types.js';
import { qualified } from '../query/sql/ident.js';

/** How long applied envelope ids are remembered (the SDK resends within seconds to minutes). */
export const RETENTION = '24 hours';

/** How often one process prunes a project's expired ids, in milliseconds. */
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const lastPruned = new Map<string, number>();

function table(model: Model): string {
  return qualified(model.systemSchema, 'ingested_events');
}

/**
 * Record `eventIds` as applied in `projectId` unless they already are.
 * @param eventIds distinct envelope ids
 * @returns the ids that were new (to be applied now)
 */
export async function claimEvents(tx: Queryable, model: Model, projectId: string, eventIds: readonly string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const { rows } = await tx.query<{ event_id: string }>(
    `INSERT INTO ${table(model)} (project_id, event_id) SELECT $1, e FROM unnest($2::text[]) AS e ON CONFLICT DO NOTHING RETURNING event_id`,
    [projectId, eventIds],
  );
  return new Set(rows.map((r) => r.event_id));
}

/** Forget `eventIds` (events that failed), so that a resend applies them. */
export async function releaseEvents(tx: Queryable, model: Model, projectId: string, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await tx.query(`DELETE FROM ${table(model)} WHERE project_id = $1 AND event_id = ANY($2::text[])`, [projectId, eventIds]);
}

/**
 * Delete the project's ids older than {@link RETENTION}, at most once an hour per project and process (one
 * statement, the BRIN index on `received_at` finds them).
 */
export async function pruneEvents(tx: Queryable, model: Model, projectId: string, now = Date.now()): Promise<void> {
  const last = lastPruned.get(projectId);
  if (last !== undefined && now - last < PRUNE_EVERY_MS) return;
  lastPruned.set(projectId, now);
  await tx.query(`DELETE FROM ${table(model)} WHERE project_id = $1 AND received_at < now() - $2::interval`, [projectId, RETENTION]);
}
