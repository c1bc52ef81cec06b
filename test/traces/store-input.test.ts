/**
 * `storeRowsInput` (`src/traces/store-input.ts`) builds exactly what the generic `rowsInput`
 * (`src/query/write/columns.ts`) builds — the same SELECT, presence answers and bind parameters in the same
 * order — for rows of every traces entity with every kind of value (absent, undefined, null, quotes and
 * backslashes, arrays, JSON objects, numbers, booleans, keys that are not columns).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { Params, rowsInput } from '../../src/query/write/columns.js';
import { insertableFields } from '../../src/query/write/sql.js';
import { storeRowsInput } from '../../src/traces/store-input.js';

let model: Model;
beforeAll(async () => {
  model = await loadPreset('traces');
});

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAMPLES: unknown[] = [
  undefined, null, 'plain', 'with "quotes"', 'back\\slash', '{a,b}', 'NULL', '', '2026-03-01T10:00:00.000Z', 0, -1.5, 42, Number.NaN,
  true, false, ['x', 'y "z"'], [], { a: 1, b: [1, 2] }, { nested: { q: 'it\'s' } }, '0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a',
];

describe('storeRowsInput', () => {
  it('matches rowsInput for every traces entity on random rows', () => {
    const next = random(7);
    for (const name of ['session', 'trace', 'observation', 'score', 'prompt']) {
      const entity = model.entities.get(name)!;
      const fields = insertableFields(entity);
      for (let round = 0; round < 60; round++) {
        const n = 1 + Math.floor(next() * 12);
        const rows: Record<string, unknown>[] = [];
        for (let i = 0; i < n; i++) {
          const row: Record<string, unknown> = {};
          for (const f of fields) if (next() < 0.5) row[f.column] = SAMPLES[Math.floor(next() * SAMPLES.length)];
          if (next() < 0.3) row.not_a_column = 'ignored';
          if (next() < 0.2) rows.push(Object.fromEntries(Object.entries(row).reverse())); // another key order
          else rows.push(row);
        }
        const stub = rows.map(() => next() < 0.5);
        const a = new Params();
        const b = new Params();
        const generic = rowsInput(model, entity, fields, rows, (v) => a.add(v), [{ name: '$stub', values: stub }]);
        const mine = storeRowsInput(model, entity, fields, rows, (v) => b.add(v), [{ name: '$stub', values: stub }]);
        expect(mine.select).toBe(generic.select);
        expect(b.values).toEqual(a.values);
        for (const f of fields) {
          expect(mine.given(f.column)).toBe(generic.given(f.column));
          expect(mine.has('k', f.column)).toBe(generic.has('k', f.column));
        }
        expect(() => mine.has('k', 'not_a_column')).toThrow('not an input column');
      }
    }
  });

  it('matches rowsInput with no rows and with no fields', () => {
    const entity = model.entities.get('trace')!;
    for (const fields of [insertableFields(entity), []]) {
      for (const rows of [[], [{}, { id: '0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a' }]]) {
        const a = new Params();
        const b = new Params();
        const generic = rowsInput(model, entity, fields, rows, (v) => a.add(v));
        const mine = storeRowsInput(model, entity, fields, rows, (v) => b.add(v));
        expect([mine.select, b.values]).toEqual([generic.select, a.values]);
      }
    }
  });
});
