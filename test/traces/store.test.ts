/**
 * The traces store (`src/traces/store.ts`), the write layer shared by the Langfuse and OTLP routes: one merge
 * statement per entity, records of one row folded, placeholders for parents named before they arrive, a value
 * the database refuses failing only its record, and a concurrent insert of the same new row merged rather than
 * reported as a conflict. PGlite and PostgreSQL (the concurrency case needs two connections: PostgreSQL only).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPreset } from '../../src/model/load.js';
import { rowIdFor } from '../../src/traces/ids.js';
import { RULES } from '../../src/traces/records.js';
import { compileMerge } from '../../src/traces/store-sql.js';
import { writeTraceBatch, type TraceStoreRecord } from '../../src/traces/store.js';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

describe.each(TEST_KINDS)('traces store on %s', (kind) => {
  let t: TestDb;
  let project: string;
  const editor = () => testPrincipal('editor', [project]);

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    project = await createProject(t.db, 'A');
    await t.db.query(`INSERT INTO app.prompt (project_id, name, version, prompt) VALUES ($1, 'qa', 3, '"Answer {{q}}"')`, [project]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('writes a batch with one statement per entity (plus one prompt look-up), folding records of one row', async () => {
    const records: TraceStoreRecord[] = [
      { kind: 'trace', id: 'st-1', name: 'first', timestamp: '2026-03-01T10:00:00Z', sessionId: 'st-session', tags: ['b'] },
      { kind: 'observation', id: 'st-child', traceId: 'st-1', parentObservationId: 'st-root', name: 'child', startTime: '2026-03-01T10:00:01Z' },
      { kind: 'observation', id: 'st-root', traceId: 'st-1', name: 'root', startTime: '2026-03-01T10:00:00Z' },
      { kind: 'observation', id: 'st-gen', traceId: 'st-1', parentObservationId: 'st-root', type: 'GENERATION', promptName: 'qa', promptVersion: 3, inputTokens: 5 },
      { kind: 'observation', id: 'st-root', traceId: 'st-1', endTime: '2026-03-01T10:00:02Z' },
      { kind: 'trace', id: 'st-1', tags: ['a'], timestamp: '2026-03-01T10:00:05Z' },
      { kind: 'score', id: 'st-score', traceId: 'st-1', observationId: 'st-gen', name: 'quality', value: 0.9 },
    ];
    const before = t.db.stats.statements;
    const outcomes = await writeTraceBatch(t.db, t.model, editor(), records);
    expect(t.db.stats.statements - before).toBe(5); // prompt look-up, session, trace, observation, score
    expect(outcomes.map((o) => o.status)).toEqual([201, 201, 201, 201, 201, 201, 201]);
    expect(outcomes[2].rowId).toBe(rowIdFor('observation', 'st-root'));
    const { rows } = await t.db.query<Record<string, unknown>>(
      `SELECT o.external_id, o.name, p.external_id AS parent, o.latency_ms, pr.version AS prompt_version
       FROM app.observation o LEFT JOIN app.observation p ON p.id = o.parent_id LEFT JOIN app.prompt pr ON pr.id = o.prompt_id
       WHERE o.trace_id = $1 ORDER BY o.external_id`,
      [rowIdFor('trace', 'st-1')],
    );
    expect(rows).toEqual([
      { external_id: 'st-child', name: 'child', parent: 'st-root', latency_ms: null, prompt_version: null },
      { external_id: 'st-gen', name: null, parent: 'st-root', latency_ms: null, prompt_version: 3 },
      { external_id: 'st-root', name: 'root', parent: null, latency_ms: 2000, prompt_version: null },
    ]);
    const trace = await t.db.query<{ tags: string[]; timestamp: Date; session: string }>(
      `SELECT t.tags, t.timestamp, s.external_id AS session FROM app.trace t JOIN app.session s ON s.id = t.session_id WHERE t.id = $1`,
      [rowIdFor('trace', 'st-1')],
    );
    expect(trace.rows[0]).toMatchObject({ tags: ['a', 'b'], session: 'st-session' });
    expect(new Date(trace.rows[0].timestamp).toISOString()).toBe('2026-03-01T10:00:00.000Z');
  });

  it('checks the references of every row though each distinct parent is probed once: shared, in-batch, missing and foreign', async () => {
    const other = await createProject(t.db, 'B');
    const mine = rowIdFor('trace', 'ref-mine');
    const foreign = rowIdFor('trace', 'ref-foreign');
    await writeTraceBatch(t.db, t.model, editor(), [{ kind: 'trace', id: 'ref-mine', name: 'mine' }]);
    await writeTraceBatch(t.db, t.model, testPrincipal('editor', [other]), [{ kind: 'trace', id: 'ref-foreign', name: 'theirs' }], other);
    const obs = (n: number) => rowIdFor('observation', `ref-${n}`);
    const missing = rowIdFor('trace', 'ref-missing');
    const rows = [
      { id: obs(1), trace_id: mine },
      { id: obs(2), trace_id: mine, parent_id: obs(1) },
      { id: obs(3), trace_id: missing },
      { id: obs(4), trace_id: mine, parent_id: obs(1) },
      { id: obs(5), trace_id: foreign },
      { id: obs(6), trace_id: missing, parent_id: obs(1) },
      { id: obs(7), trace_id: mine, parent_id: rowIdFor('observation', 'ref-nowhere') },
      { id: obs(8), trace_id: mine, parent_id: null },
    ].map((values) => ({ values: { ...values, project_id: project, external_id: values.id }, stub: false }));
    const { text, params } = compileMerge(t.model, { entity: t.model.entities.get('observation')!, rules: RULES.observation, rows });
    const res = await t.db.withPrincipal(editor(), (tx) => tx.query<{ ord: number | string | null; outcome: string; col: string | null }>(text, params));
    const got = res.rows.map((r) => [r.ord === null ? null : Number(r.ord), r.outcome, r.col]).sort((a, b) => Number(a[0] ?? 99) - Number(b[0] ?? 99));
    expect(got).toEqual([
      [3, 'bad_ref', 'trace_id'],
      [5, 'bad_ref', 'trace_id'],
      [6, 'bad_ref', 'trace_id'],
      [7, 'bad_ref', 'parent_id'],
      [null, 'inserted', '4'],
    ]);
  });

  it('a value the database refuses fails only its record; the others of the batch are written', async () => {
    const outcomes = await writeTraceBatch(t.db, t.model, editor(), [
      { kind: 'observation', id: 'big-ok', traceId: 'st-2', name: 'fine', inputTokens: 10 },
      { kind: 'observation', id: 'big-bad', traceId: 'st-2', name: 'too many tokens', inputTokens: 2 ** 40 },
      { kind: 'score', id: 'big-score', traceId: 'st-2', name: 'kept', value: 1 },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([201, 400, 201]);
    expect(outcomes[1].message).toMatch(/observation "big-bad": the database refused a value/);
    const { rows } = await t.db.query(`SELECT external_id FROM app.observation WHERE trace_id = $1 ORDER BY 1`, [rowIdFor('trace', 'st-2')]);
    expect(rows).toEqual([{ external_id: 'big-ok' }]);
  });

  it.runIf(kind === 'postgres')('a row inserted concurrently by another transaction is merged into, not reported as a conflict', async () => {
    const other = new pg.Client({ connectionString: t.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO app.trace (id, project_id, external_id, timestamp, name) VALUES ($1, $2, 'race', now(), 'other')`, [rowIdFor('trace', 'race'), project]);
      // The store's insert finds the uncommitted row and waits for it; the row was not in its snapshot.
      const pending = writeTraceBatch(t.db, t.model, editor(), [{ kind: 'trace', id: 'race', userId: 'u-race' }]);
      for (;;) {
        const { rows } = await other.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        if (rows[0].n > 0) break;
        await new Promise((r) => setImmediate(r));
      }
      await other.query('COMMIT');
      const [outcome] = await pending;
      expect(outcome.status).toBe(200);
    } finally {
      await other.end();
    }
    const { rows } = await t.db.query(`SELECT name, user_id FROM app.trace WHERE id = $1`, [rowIdFor('trace', 'race')]);
    expect(rows).toEqual([{ name: 'other', user_id: 'u-race' }]);
  });
});
