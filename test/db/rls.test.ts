import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

/** SQLSTATE of a rejected promise. */
async function sqlState(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { code?: string }).code);
  }
  throw new Error('expected the statement to fail');
}

describe.each(TEST_KINDS)('row-level security on %s', (kind) => {
  let t: TestDb;
  let a: string;
  let b: string;
  let expA: string;
  let expB: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    a = await createProject(t.db, 'A');
    b = await createProject(t.db, 'B');
    const rows = await insertRows<{ id: string; project_id: string }>(t.db, 'experiment', [
      { project_id: a, name: 'a1' },
      { project_id: a, name: 'a2' },
      { project_id: b, name: 'b1' },
    ]);
    expA = rows[0].id;
    expB = rows[2].id;
    await insertRows(t.db, 'trial', [
      { project_id: a, experiment_id: expA, name: 'ta' },
      { project_id: b, experiment_id: expB, name: 'tb' },
    ]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a principal of project A never reads rows of project B, even with an unfiltered SELECT', async () => {
    const res = await t.db.withPrincipal(testPrincipal('viewer', [a]), async (tx) => ({
      experiments: (await tx.query<{ project_id: string; name: string }>('SELECT * FROM app.experiment ORDER BY name')).rows,
      trials: (await tx.query<{ n: number }>('SELECT count(*) AS n FROM app.trial')).rows[0].n,
      joined: (await tx.query<{ n: number }>('SELECT count(*) AS n FROM app.trial t JOIN app.experiment e ON e.id = t.experiment_id')).rows[0].n,
      projects: (await tx.query<{ id: string }>('SELECT id FROM lattice.projects')).rows.map((r) => r.id),
      byId: (await tx.query('SELECT * FROM app.experiment WHERE id = $1', [expB])).rowCount,
    }));
    expect(res.experiments.map((r) => r.name)).toEqual(['a1', 'a2']);
    expect(res.experiments.every((r) => r.project_id === a)).toBe(true);
    expect(res.trials).toBe(1);
    expect(res.joined).toBe(1);
    expect(res.projects).toEqual([a]);
    expect(res.byId).toBe(0);
  });

  it('a principal without projects sees nothing; an admin sees every project', async () => {
    const none = await t.db.withPrincipal(testPrincipal('editor', []), (tx) => tx.query('SELECT id FROM app.experiment'));
    expect(none.rowCount).toBe(0);
    const all = await t.db.withPrincipal(testPrincipal('admin', []), async (tx) => ({
      experiments: (await tx.query('SELECT id FROM app.experiment')).rowCount,
      projects: (await tx.query('SELECT id FROM lattice.projects')).rowCount,
    }));
    expect(all).toEqual({ experiments: 3, projects: 2 });
  });

  it('an editor of A cannot update or delete rows of B, nor move its rows into B', async () => {
    const updated = await t.db.withPrincipal(testPrincipal('editor', [a]), (tx) =>
      tx.query(`UPDATE app.experiment SET description = 'touched'`),
    );
    expect(updated.rowCount).toBe(2);
    const deleted = await t.db.withPrincipal(testPrincipal('editor', [a]), (tx) =>
      tx.query('DELETE FROM app.experiment WHERE id = $1', [expB]),
    );
    expect(deleted.rowCount).toBe(0);
    const { rows } = await t.db.query<{ description: string | null }>('SELECT description FROM app.experiment WHERE id = $1', [expB]);
    expect(rows).toEqual([{ description: null }]);
    expect(
      await sqlState(
        t.db.withPrincipal(testPrincipal('editor', [a]), (tx) =>
          tx.query('UPDATE app.experiment SET project_id = $1 WHERE id = $2', [b, expA]),
        ),
      ),
    ).toBe('42501');
  });

  it('an editor of A cannot insert into B', async () => {
    expect(
      await sqlState(
        t.db.withPrincipal(testPrincipal('editor', [a]), (tx) =>
          tx.query('INSERT INTO app.experiment (project_id, name) VALUES ($1, $2)', [b, 'sneaky']),
        ),
      ),
    ).toBe('42501');
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM app.experiment WHERE name = 'sneaky'`);
    expect(rows[0].n).toBe(0);
  });

  it('a viewer cannot insert, and its updates and deletes touch nothing', async () => {
    const viewer = testPrincipal('viewer', [a]);
    expect(
      await sqlState(t.db.withPrincipal(viewer, (tx) => tx.query('INSERT INTO app.experiment (project_id, name) VALUES ($1, $2)', [a, 'v']))),
    ).toBe('42501');
    const upd = await t.db.withPrincipal(viewer, (tx) => tx.query(`UPDATE app.experiment SET name = 'v'`));
    const del = await t.db.withPrincipal(viewer, (tx) => tx.query('DELETE FROM app.trial'));
    expect([upd.rowCount, del.rowCount]).toEqual([0, 0]);
  });

  it('the request role has no access to api_keys, users, memberships or model_versions', async () => {
    for (const table of ['api_keys', 'users', 'memberships', 'model_versions']) {
      expect(await sqlState(t.db.withPrincipal(testPrincipal('admin'), (tx) => tx.query(`SELECT * FROM lattice.${table}`)))).toBe('42501');
    }
    expect(
      await sqlState(t.db.withPrincipal(testPrincipal('admin'), (tx) => tx.query(`INSERT INTO lattice.projects (name) VALUES ('x')`))),
    ).toBe('42501');
  });

  it('a composite foreign key refuses a child pointing to a parent in another project', async () => {
    expect(await sqlState(insertRows(t.db, 'trial', [{ project_id: b, experiment_id: expA, name: 'cross' }]))).toBe('23503');
    // Also through the request role, as an admin who may write both projects.
    expect(
      await sqlState(
        t.db.withPrincipal(testPrincipal('admin'), (tx) =>
          tx.query('INSERT INTO app.trial (project_id, experiment_id, name) VALUES ($1, $2, $3)', [a, expB, 'cross']),
        ),
      ),
    ).toBe('23503');
  });

  it('a client-supplied id already used in another project is refused, by insert and by upsert', async () => {
    const editorB = testPrincipal('editor', [b]);
    expect(
      await sqlState(
        t.db.withPrincipal(editorB, (tx) => tx.query('INSERT INTO app.experiment (id, project_id, name) VALUES ($1, $2, $3)', [expA, b, 'dup'])),
      ),
    ).toBe('23505');
    expect(
      await sqlState(
        t.db.withPrincipal(editorB, (tx) =>
          tx.query(
            `INSERT INTO app.experiment (id, project_id, name) VALUES ($1, $2, $3)
             ON CONFLICT (project_id, id) DO UPDATE SET name = excluded.name`,
            [expA, b, 'dup'],
          ),
        ),
      ),
    ).toBe('23505');
    const { rows } = await t.db.query<{ name: string; project_id: string }>('SELECT name, project_id FROM app.experiment WHERE id = $1', [expA]);
    expect(rows).toEqual([{ name: 'a1', project_id: a }]);
  });

  it('principal settings and the request role end with the transaction', async () => {
    await t.db.withPrincipal(testPrincipal('editor', [a], 'user-1'), async (tx) => {
      const { rows } = await tx.query<Record<string, unknown>>(
        `SELECT current_user AS usr, lattice.current_role_name() AS role, lattice.current_project_ids() AS ids,
                lattice.current_user_id() AS uid, lattice.can_write() AS w, lattice.is_admin() AS adm`,
      );
      expect(rows[0]).toEqual({ usr: 'lattice_request', role: 'editor', ids: [a], uid: 'user-1', w: true, adm: false });
    });
    await expect(t.db.withPrincipal(testPrincipal('viewer', [a]), async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    for (let i = 0; i < 3; i++) {
      const { rows } = await t.db.query<{ usr: string; role: string | null }>(
        `SELECT current_user AS usr, current_setting('lattice.role', true) AS role`,
      );
      expect(rows[0].usr).not.toBe('lattice_request');
      expect(rows[0].role ?? '').toBe('');
    }
  });

  it('parallel transactions of different principals each see only their own project', async () => {
    const count = (p: string) =>
      t.db.withPrincipal(testPrincipal('viewer', [p]), async (tx) => {
        await new Promise((r) => setTimeout(r, 5));
        return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM app.experiment')).rows[0].n;
      });
    expect(await Promise.all([count(a), count(b), count(a), count(b)])).toEqual([2, 1, 2, 1]);
  });
});
