import { describe, expect, it } from 'vitest';
import { Kind } from 'graphql';
import { formatErrors, requestError, statusOf } from '../../src/graphql/errors.js';
import { GraphQLBigInt, GraphQLDate, GraphQLDateTime, GraphQLDecimal, GraphQLJSON, GraphQLUuidID } from '../../src/graphql/schema/scalars.js';
import { badInput, internal } from '../../src/errors.js';

describe('scalars (SPEC G-9)', () => {
  it('ID accepts UUIDs only (lower-cased) from variables and literals', () => {
    expect(GraphQLUuidID.parseValue('0190F5A8-7D0E-7C3A-9B1E-3F1E2D4C5B6A')).toBe('0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a');
    expect(() => GraphQLUuidID.parseValue('42')).toThrow(/UUID/);
    expect(() => GraphQLUuidID.parseLiteral({ kind: Kind.INT, value: '42' })).toThrow(/UUID/);
  });

  it('BigInt is a JSON number within ±(2^53−1); larger inputs are rejected', () => {
    expect(GraphQLBigInt.parseValue(9007199254740991)).toBe(9007199254740991);
    expect(() => GraphQLBigInt.parseValue(9007199254740992)).toThrow(/2\^53/);
    expect(() => GraphQLBigInt.parseValue('12')).toThrow(/integer JSON number/);
    expect(GraphQLBigInt.parseLiteral({ kind: Kind.INT, value: '-9007199254740991' })).toBe(-9007199254740991);
    expect(() => GraphQLBigInt.parseLiteral({ kind: Kind.INT, value: '123456789012345678901' })).toThrow(/2\^53/);
    expect(GraphQLBigInt.serialize(12)).toBe(12);
  });

  it('DateTime and Date validate RFC 3339 and keep the text as sent', () => {
    expect(GraphQLDateTime.parseValue('2026-11-05T14:03:00.123456Z')).toBe('2026-11-05T14:03:00.123456Z');
    expect(() => GraphQLDateTime.parseValue('yesterday')).toThrow(/timestamp like/);
    expect(() => GraphQLDateTime.parseValue(5)).toThrow(/ISO-8601/);
    expect(GraphQLDate.parseValue('2026-02-28')).toBe('2026-02-28');
    expect(() => GraphQLDate.parseValue('2026-02-30')).toThrow();
    expect(GraphQLDateTime.serialize('2026-11-05T14:03:00.123456Z')).toBe('2026-11-05T14:03:00.123456Z');
  });

  it('Decimal is a string; JSON is any value', () => {
    expect(GraphQLDecimal.parseValue('12.50')).toBe('12.50');
    expect(GraphQLDecimal.parseValue(3)).toBe('3');
    expect(() => GraphQLDecimal.parseValue('12,5')).toThrow(/decimal number/);
    expect(GraphQLJSON.parseValue({ a: [1, null] })).toEqual({ a: [1, null] });
  });
});

describe('GraphQL error formatting (SPEC G-14)', () => {
  it('gives every error a code and hides internal text outside development', () => {
    const dbError = new Error('relation "app.secret" does not exist');
    const logged: unknown[] = [];
    const prod = formatErrors(dbError, { mode: 'production', onInternal: (e) => logged.push(e) });
    expect(prod).toEqual([{ message: expect.stringMatching(/Internal server error/), extensions: { code: 'INTERNAL' } }]);
    expect(JSON.stringify(prod)).not.toContain('app.secret');
    expect(logged).toEqual([dbError]);
    const dev = formatErrors(internal(undefined, dbError), { mode: 'development' });
    expect(dev[0].extensions).toEqual({ code: 'INTERNAL', original: 'relation "app.secret" does not exist' });
    expect(statusOf(dbError)).toBe(500);
    expect(formatErrors(badInput('limit too big'), { mode: 'production' })).toEqual([{ message: 'limit too big', extensions: { code: 'BAD_USER_INPUT' } }]);
    const located = requestError('QUERY_TOO_COMPLEX', 'too deep');
    expect(statusOf(located)).toBe(400);
    expect(formatErrors(located, { mode: 'production' })[0].extensions).toEqual({ code: 'QUERY_TOO_COMPLEX' });
  });
});
