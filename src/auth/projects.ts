/**
 * Projects, the tenants of SPEC M-4 / A-4, stored in `lattice.projects(id, name, created_at, updated_at)`.
 * Administration only: these run as the database owner; data reads of projects go through the query
 * layer under row-level security like any entity.
 */
import { uuidv7 } from 'uuidv7';
import type { Queryable } from '../db/types.js';
import { badInput } from '../errors.js';
import { UUID_RE } from '../uuid.js';

/** A project as the admin API returns it (timestamps ISO-8601). */
export interface ProjectInfo {
  readonly id: string;
  readonly name: string;
  readonly created_at: string;
  readonly updated_at: string;
}

const COLUMNS = `id::text AS id, name, to_json(created_at) #>> '{}' AS created_at, to_json(updated_at) #>> '{}' AS updated_at`;

/**
 * Create a project with a UUID v7 id.
 * @throws LatticeError BAD_USER_INPUT for an empty or over-long (> 200 characters) name.
 */
export async function createProject(db: Queryable, name: string): Promise<ProjectInfo> {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 200) throw badInput('A project name must have 1 to 200 characters.');
  const { rows } = await db.query<ProjectInfo>(
    `INSERT INTO lattice.projects (id, name, created_at, updated_at) VALUES ($1, $2, now(), now()) RETURNING ${COLUMNS}`,
    [uuidv7(), trimmed],
  );
  return rows[0];
}

/**
 * List projects, oldest first.
 * @param ids when given, only these projects (a non-admin principal's projects); omitted: all projects.
 */
export async function listProjects(db: Queryable, ids?: readonly string[]): Promise<ProjectInfo[]> {
  if (ids !== undefined) {
    if (ids.length === 0) return [];
    return (
      await db.query<ProjectInfo>(`SELECT ${COLUMNS} FROM lattice.projects WHERE id = ANY($1::uuid[]) ORDER BY created_at, id`, [
        [...ids],
      ])
    ).rows;
  }
  return (await db.query<ProjectInfo>(`SELECT ${COLUMNS} FROM lattice.projects ORDER BY created_at, id`)).rows;
}


/** One project by id, or null (also for a string that is not a UUID). */
export async function getProject(db: Queryable, id: string): Promise<ProjectInfo | null> {
  if (!UUID_RE.test(id)) return null;
  const { rows } = await db.query<ProjectInfo>(`SELECT ${COLUMNS} FROM lattice.projects WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Number of projects (bootstrap uses it to detect an empty database). */
export async function countProjects(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>(`SELECT count(*)::int AS n FROM lattice.projects`);
  return Number(rows[0].n);
}
