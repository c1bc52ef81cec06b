/**
 * The Langfuse event validators (`src/traces/langfuse-validate.ts`): the cheaper `date-time` check accepts and
 * refuses exactly the strings `ajv-formats` does (canonical shapes decided by hand, every other shape by
 * `ajv-formats` itself), and a compiled schema reports a bad date-time with AJV's own error.
 */
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { createEventCompiler, isDateTime } from '../../src/traces/langfuse-validate.js';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;
const reference = (() => {
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);
  return (ajv.formats['date-time'] as unknown as { validate: (s: string) => boolean }).validate;
})();

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

describe('Langfuse event validation', () => {
  it('decides date-time exactly as ajv-formats: edge cases', () => {
    const cases = [
      '2026-03-01T10:00:00.000Z', '2026-03-01t10:00:00z', '2026-03-01T10:00:00Z', '2026-03-01T10:00:00+02:00', '2026-03-01T10:00:00-02:30',
      '2026-03-01T10:00:00.1+00:00', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '1900-02-29T00:00:00Z',
      '0000-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-01T00:00:00Z', '2026-01-00T00:00:00Z',
      '2026-01-32T00:00:00Z', '2026-03-01T24:00:00Z', '2026-03-01T23:60:00Z', '2026-03-01T23:59:60Z', '2026-03-01T23:59:60.5Z',
      '2026-03-01T22:59:60Z', '2026-03-01T23:59:61Z', '2026-03-02T01:59:60+02:00', '2026-03-01T23:29:60-00:30', '2026-03-01T23:59:59.9999999999999999Z',
      '2026-03-01T23:59:59.99999999999999999+01:00', '2026-03-01T10:00:00+24:00', '2026-03-01T10:00:00+23:60', '2026-03-01T10:00:00+0200',
      '2026-03-01T10:00:00+02', '2026-03-01T10:00:00', '2026-03-01 10:00:00Z', '2026-03-01\t10:00:00Z', '2026-03-01T10:00:00.Z',
      '2026-03-01T10:00:00.123', '2026-03-01T10:00Z', '2026-3-01T10:00:00Z', '20260-03-01T10:00:00Z', '2026-03-01T10:00:00Zz',
      '2026-03-01T10:00:00ZT', '2026-03-01T10:00:00.12a4Z', '2026-03-01T10:00:00+02:00 ', ' 2026-03-01T10:00:00Z', '2026-03-01T10:0a:00Z',
      '2026-03-01X10:00:00Z', '2026/03/01T10:00:00Z', '２０２６-03-01T10:00:00Z', '2026-03-01T10:00:00\u00a0', '2026-03-01\u200910:00:00Z', '',
      '2026-03-01T10:00:00.000000000000000000000000000000000000001Z', '9999-12-31T23:59:60Z', '2026-03-01T10:00:00-00:00',
    ];
    for (const s of cases) expect([s, isDateTime(s)]).toEqual([s, reference(s)]);
  });

  it('decides date-time exactly as ajv-formats: random mutations of canonical strings', () => {
    const next = random(42);
    const alphabet = '0123456789-:.+TtZz \u00a0\u2028Xa/';
    let accepted = 0;
    for (let k = 0; k < 100_000; k++) {
      const ms = Math.floor(next() * 2.5e14); // years 1970–9892
      let s = new Date(ms).toISOString();
      if (next() < 0.3) s = s.replace('Z', `${next() < 0.5 ? '+' : '-'}${String(Math.floor(next() * 26)).padStart(2, '0')}:${String(Math.floor(next() * 62)).padStart(2, '0')}`);
      const edits = Math.floor(next() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(next() * (s.length + 1));
        const c = alphabet[Math.floor(next() * alphabet.length)];
        const op = next();
        s = op < 0.4 ? s.slice(0, at) + c + s.slice(at + 1) : op < 0.7 ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at) + s.slice(at + 1);
      }
      const want = reference(s);
      if (isDateTime(s) !== want) expect([s, isDateTime(s)]).toEqual([s, want]);
      if (want) accepted++;
    }
    expect(accepted).toBeGreaterThan(25_000); // both answers occur often
  });

  it('compiles schemas whose date-time errors are AJV format errors (first error only)', () => {
    const validate = createEventCompiler()({
      type: 'object', additionalProperties: false, properties: { a: { type: 'string', format: 'date-time' }, b: { type: 'integer' } },
    });
    expect(validate({ a: '2026-03-01T10:00:00.000Z', b: 1 })).toBe(true);
    expect(validate({ a: '2026-02-30T10:00:00.000Z', b: 'x' })).toBe(false);
    expect(validate.errors).toEqual([
      { instancePath: '/a', schemaPath: '#/properties/a/format', keyword: 'format', params: { format: 'date-time' }, message: 'must match format "date-time"' },
    ]);
  });
});
