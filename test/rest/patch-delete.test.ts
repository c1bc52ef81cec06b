/**
 * `PATCH /api/v1/<plural>/{id}` and `DELETE /api/v1/<plural>/{id}` (SPEC R-1) on every test database:
 * partial updates validated like creates, the write path's answers (404 unknown id, 409 unique conflict,
 * 400 bad reference), deletes with `on_delete: cascade` and `restrict` (409 naming what still refers to the
 * row), viewers refused (403), and tenant isolation: a key of project B can neither change nor delete nor even
 * detect project A's rows (404), and the rows stay as they were.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { loadModelDocument } from '../../src/model/load.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { uid } from '../query/support.js';
import { buildRestApp, call } from './app.js';

const model = loadModelDocument({
  name: 'shop',
  entities: {
    customer: {
      fields: {
        name: { type: 'string', required: true },
        email: { type: 'string', unique: true },
        tier: { type: 'enum', values: ['free', 'pro'], default: 'free' },
        tags: { type: 'string[]' },
        note: { type: 'text' },
      },
    },
    purchase: {
      fields: {
        customer: { type: 'ref', to: 'customer', required: true, on_delete: 'restrict' },
        total: { type: 'decimal' },
        meta: { type: 'json' },
      },
    },
    line: {
      fields: {
        purchase: { type: 'ref', to: 'purchase', required: true, on_delete: 'cascade' },
        sku: { type: 'string', required: true },
      },
    },
  },
});

const C = { ana: uid(1), bo: uid(2), cy: uid(3), other: uid(9) };
const P = { p1: uid(11), p2: uid(12), other: uid(19) };

describe.each(TEST_KINDS)('REST PATCH and DELETE on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let editorA: Principal;
  let viewerA: Principal;
  let editorB: Principal;

  /** A row as stored, read as the database owner (no RLS), or undefined. */
  async function stored(table: string, id: string): Promise<Record<string, any> | undefined> {
    const { rows } = await t.db.query<Record<string, any>>(`SELECT * FROM app."${table}" WHERE id = $1`, [id]);
    return rows[0];
  }

  beforeAll(async () => {
    t = await createTestDb(kind, model);
    const A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    editorA = testPrincipal('editor', [A]);
    viewerA = testPrincipal('viewer', [A]);
    editorB = testPrincipal('editor', [B]);
    await insertRows(t.db, 'customer', [
      { id: C.ana, project_id: A, name: 'Ana', email: 'ana@example.com', tier: 'free', note: 'first' },
      { id: C.bo, project_id: A, name: 'Bo', email: 'bo@example.com', tier: 'pro', note: null },
      { id: C.cy, project_id: A, name: 'Cy', email: null, tier: 'free', note: null },
      { id: C.other, project_id: B, name: 'Other', email: 'other@example.com', tier: 'pro', note: null },
    ]);
    await insertRows(t.db, 'purchase', [
      { id: P.p1, project_id: A, customer_id: C.ana, total: '10.00', meta: null },
      { id: P.p2, project_id: A, customer_id: C.bo, total: '5.50', meta: null },
      { id: P.other, project_id: B, customer_id: C.other, total: '1.00', meta: null },
    ]);
    await insertRows(t.db, 'line', [
      { project_id: A, purchase_id: P.p1, sku: 'a' },
      { project_id: A, purchase_id: P.p1, sku: 'b' },
      { project_id: A, purchase_id: P.p2, sku: 'c' },
    ]);
    app = await buildRestApp(t, 500);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  describe('PATCH', () => {
    it('changes only the given fields and returns the whole updated object', async () => {
      const before = await call(app, editorA, 'GET', `/api/v1/customers/${C.ana}`);
      const res = await call(app, editorA, 'PATCH', `/api/v1/customers/${C.ana}`, { tier: 'pro', tags: ['vip'], note: null });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.data).toEqual({ ...before.data, tier: 'pro', tags: ['vip'], note: null, updated_at: res.data.updated_at });
      expect(Date.parse(res.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(before.data.updated_at));
      expect((await call(app, editorA, 'GET', `/api/v1/customers/${C.ana}`)).data).toEqual(res.data);
      const purchase = await call(app, editorA, 'PATCH', `/api/v1/purchases/${P.p2}`, { total: 7.25, meta: { gift: true }, customer_id: C.cy });
      expect(purchase.data).toMatchObject({ id: P.p2, total: '7.25', meta: { gift: true }, customer_id: C.cy });
    });

    it('an empty patch changes nothing (not even updated_at) and still answers 404 / 403', async () => {
      const before = await stored('customer', C.bo);
      const res = await call(app, editorA, 'PATCH', `/api/v1/customers/${C.bo}`, {});
      expect(res.statusCode).toBe(200);
      expect(res.data.name).toBe('Bo');
      expect((await stored('customer', C.bo))!.updated_at).toEqual(before!.updated_at);
      expect((await call(app, editorA, 'PATCH', `/api/v1/customers/${uid(404)}`, {})).statusCode).toBe(404);
      expect((await call(app, viewerA, 'PATCH', `/api/v1/customers/${C.bo}`, {})).statusCode).toBe(403);
    });

    it.each([
      ['an unknown field', { colour: 'red' }, 'body.colour'],
      ['the id', { id: uid(5) }, 'body.id'],
      ['the project', { project_id: uid(5) }, 'body.project_id'],
      ['a read-only built-in', { created_at: '2020-01-01T00:00:00Z' }, 'body.created_at'],
      ['a required field set to null', { name: null }, 'body.name'],
      ['a wrong type', { name: 5 }, 'body.name'],
      ['a bad enum value', { tier: 'gold' }, 'body.tier'],
    ])('400 for %s, row unchanged', async (_name, body, path) => {
      const before = await stored('customer', C.cy);
      const res = await call(app, editorA, 'PATCH', `/api/v1/customers/${C.cy}`, body);
      expect(res.statusCode).toBe(400);
      expect(res.data.error.code).toBe('BAD_USER_INPUT');
      expect(res.data.error.details.map((d: { path: string }) => d.path)).toContain(path);
      expect(await stored('customer', C.cy)).toEqual(before);
    });

    it('answers like the write path: 404 unknown id, 409 unique conflict, 400 reference to nothing', async () => {
      const missing = await call(app, editorA, 'PATCH', `/api/v1/customers/${uid(404)}`, { name: 'x' });
      expect(missing.statusCode).toBe(404);
      expect(missing.data.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(uid(404)) });
      const dup = await call(app, editorA, 'PATCH', `/api/v1/customers/${C.cy}`, { email: 'bo@example.com' });
      expect(dup.statusCode).toBe(409);
      expect(dup.data.error.code).toBe('CONFLICT');
      expect((await stored('customer', C.cy))!.email).toBeNull();
      const orphan = await call(app, editorA, 'PATCH', `/api/v1/purchases/${P.p1}`, { customer_id: uid(404) });
      expect(orphan.statusCode).toBe(400);
      expect(orphan.data.error.details).toEqual([{ path: 'body.customer_id', message: expect.stringContaining('no customer with this id') }]);
      expect((await call(app, editorA, 'PATCH', '/api/v1/customers/not-a-uuid', { name: 'x' })).data.error.details[0].path).toBe('params.id');
    });

    it('refuses viewers (403) and isolates tenants: 404 for another project, nothing modified', async () => {
      const viewer = await call(app, viewerA, 'PATCH', `/api/v1/customers/${C.cy}`, { name: 'hacked' });
      expect(viewer.statusCode).toBe(403);
      expect(viewer.data.error.code).toBe('FORBIDDEN');
      const foreign = await call(app, editorB, 'PATCH', `/api/v1/customers/${C.cy}`, { name: 'hacked' });
      expect(foreign.statusCode).toBe(404);
      expect(foreign.data.error.code).toBe('NOT_FOUND');
      expect((await stored('customer', C.cy))!.name).toBe('Cy');
      // Nor may a row of A be pointed at a parent of B (composite keys: the parent must be in the row's project).
      const crossRef = await call(app, editorA, 'PATCH', `/api/v1/purchases/${P.p1}`, { customer_id: C.other });
      expect(crossRef.statusCode).toBe(400);
      expect((await stored('purchase', P.p1))!.customer_id).toBe(C.ana);
      // An admin may write anywhere.
      const admin = await call(app, testPrincipal('admin'), 'PATCH', `/api/v1/customers/${C.other}`, { note: 'by admin' });
      expect(admin.data).toMatchObject({ id: C.other, note: 'by admin' });
    });
  });

  describe('DELETE', () => {
    it('refuses viewers (403) and isolates tenants (404), deleting nothing', async () => {
      const viewer = await call(app, viewerA, 'DELETE', `/api/v1/lines/${(await firstLine(P.p2))}`);
      expect(viewer.statusCode).toBe(403);
      expect(viewer.data.error.code).toBe('FORBIDDEN');
      const foreign = await call(app, editorB, 'DELETE', `/api/v1/purchases/${P.p2}`);
      expect(foreign.statusCode).toBe(404);
      expect(await stored('purchase', P.p2)).toBeDefined();
      expect((await call(app, editorA, 'DELETE', `/api/v1/customers/${C.other}`)).statusCode).toBe(404);
      expect(await stored('customer', C.other)).toBeDefined();
      expect((await call(app, editorA, 'DELETE', '/api/v1/customers/123')).statusCode).toBe(400);
    });

    it('deletes with 204 and no body; the id is then unknown (404)', async () => {
      const id = await firstLine(P.p2);
      const res = await call(app, editorA, 'DELETE', `/api/v1/lines/${id}`);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expect(await stored('line', id)).toBeUndefined();
      expect((await call(app, editorA, 'GET', `/api/v1/lines/${id}`)).statusCode).toBe(404);
      const again = await call(app, editorA, 'DELETE', `/api/v1/lines/${id}`);
      expect(again.statusCode).toBe(404);
      expect(again.data.error.code).toBe('NOT_FOUND');
    });

    it('refuses (409) while an on_delete: restrict reference holds, naming it; cascades otherwise', async () => {
      const blocked = await call(app, editorA, 'DELETE', `/api/v1/customers/${C.ana}`);
      expect(blocked.statusCode).toBe(409);
      expect(blocked.data.error.code).toBe('CONFLICT');
      expect(blocked.data.error.message).toContain(`customer ${C.ana} is still referenced by purchases (a ref with on_delete: restrict)`);
      expect(await stored('customer', C.ana)).toBeDefined();

      const lines = await t.db.query(`SELECT id FROM app.line WHERE purchase_id = $1`, [P.p1]);
      expect(lines.rows).toHaveLength(2);
      expect((await call(app, editorA, 'DELETE', `/api/v1/purchases/${P.p1}`)).statusCode).toBe(204);
      expect((await t.db.query(`SELECT id FROM app.line WHERE purchase_id = $1`, [P.p1])).rows).toHaveLength(0); // cascaded

      expect((await call(app, editorA, 'DELETE', `/api/v1/customers/${C.ana}`)).statusCode).toBe(204);
      expect(await stored('customer', C.ana)).toBeUndefined();
      expect(await stored('customer', C.other)).toBeDefined();
    });
  });

  async function firstLine(purchase: string): Promise<string> {
    const { rows } = await t.db.query<{ id: string }>(`SELECT id FROM app.line WHERE purchase_id = $1 ORDER BY sku LIMIT 1`, [purchase]);
    return rows[0].id;
  }
});
