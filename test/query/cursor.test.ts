import { beforeAll, describe, expect, it } from 'vitest';
import { LatticeError } from '../../src/errors.js';
import { loadModelDocument, loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import type { OrderItem } from '../../src/query/plan.js';
import { decodeCursor, encodeCursor } from '../../src/query/cursor.js';

let model: Model;
beforeAll(async () => {
  model = await loadPreset('experiments');
});

const ID = '0190a6a4-8f7e-7c3a-9d4e-1234567890ab';
const byName: OrderItem[] = [{ column: 'name', direction: 'ASC', nulls: 'LAST' }];

function errorOf(fn: () => unknown): LatticeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LatticeError);
    return e as LatticeError;
  }
  throw new Error('expected an error');
}

describe('keyset cursors', () => {
  it('round-trips strings with unicode, nulls, timestamps and floats', () => {
    const order: OrderItem[] = [
      { column: 'name', direction: 'ASC', nulls: 'LAST' },
      { column: 'description', direction: 'DESC', nulls: 'FIRST' },
      { column: 'duration', direction: 'DESC', nulls: 'LAST' },
      { column: 'created_at', direction: 'ASC', nulls: 'LAST' },
      { column: 'status', direction: 'ASC', nulls: 'LAST' },
    ];
    const values = ['naïve “quotes” 🚀 \\ "x" \n', null, '-1.2345678901234567e-300', '2026-11-21T16:10:00.123456Z', 'running', ID];
    const raw = encodeCursor(model, 'trial', order, values);
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(model, 'trial', order, raw)).toEqual({ values });
    const nulls = [null, null, 'NaN', '2026-01-01T00:00:00.000000Z', null, ID];
    expect(decodeCursor(model, 'trial', order, encodeCursor(model, 'trial', order, nulls)).values).toEqual(nulls);
  });

  it('round-trips json, string[], int, bigint, decimal, boolean and date values', () => {
    const m = loadModelDocument({
      name: 'x',
      entities: {
        thing: {
          fields: {
            j: { type: 'json' }, tags: { type: 'string[]' }, n: { type: 'int' }, b: { type: 'bigint' },
            d: { type: 'decimal' }, ok: { type: 'boolean' }, day: { type: 'date' },
          },
        },
      },
    });
    const order: OrderItem[] = ['j', 'tags', 'n', 'b', 'd', 'ok', 'day'].map((column) => ({ column, direction: 'ASC', nulls: 'LAST' }));
    const values = [{ a: [1, 'ü'] }, ['x', null], '-2147483648', '9007199254740993', '-12.500', 'false', '2024-02-29', ID];
    expect(decodeCursor(m, 'thing', order, encodeCursor(m, 'thing', order, values)).values).toEqual(values);
  });

  it('refuses malformed cursors with BAD_USER_INPUT', () => {
    for (const raw of ['', 'not base64!', 'abc', Buffer.from('{"x":1}').toString('base64url'), Buffer.from('[1,2]').toString('base64url')]) {
      const e = errorOf(() => decodeCursor(model, 'trial', byName, raw));
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(/^Malformed cursor/);
    }
  });

  it('refuses forged values that would make the database fail', () => {
    const order: OrderItem[] = [{ column: 'created_at', direction: 'ASC', nulls: 'LAST' }];
    for (const bad of [['2026-02-30T00:00:00.000000Z', ID], ['yesterday', ID], ['2026-01-01T00:00:00.000000Z', 'not-a-uuid'], ['2026-01-01T00:00:00.000000Z', null]]) {
      const raw = encodeCursor(model, 'trial', order, bad);
      expect(errorOf(() => decodeCursor(model, 'trial', order, raw)).message).toMatch(/^Malformed cursor/);
    }
    const status: OrderItem[] = [{ column: 'status', direction: 'ASC', nulls: 'LAST' }];
    expect(errorOf(() => decodeCursor(model, 'trial', status, encodeCursor(model, 'trial', status, ['bogus', ID]))).code).toBe('BAD_USER_INPUT');
    const dur: OrderItem[] = [{ column: 'duration', direction: 'ASC', nulls: 'LAST' }];
    expect(errorOf(() => decodeCursor(model, 'trial', dur, encodeCursor(model, 'trial', dur, ['1; drop', ID]))).code).toBe('BAD_USER_INPUT');
  });

  it('refuses cursors from another ordering or entity', () => {
    const raw = encodeCursor(model, 'trial', byName, ['a', ID]);
    const desc: OrderItem[] = [{ column: 'name', direction: 'DESC', nulls: 'LAST' }];
    for (const e of [
      errorOf(() => decodeCursor(model, 'trial', desc, raw)),
      errorOf(() => decodeCursor(model, 'experiment', byName, raw)),
      errorOf(() => decodeCursor(model, 'trial', [], raw)),
    ]) {
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(/different ordering or entity; request the first page again/);
    }
  });
});
