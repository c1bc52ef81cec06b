/**
 * Custom scalars of SPEC G-9.
 *
 * Where graphql-scalars fits we use it (`JSON`, `UUID`, and its RFC 3339 validators for `DateTime` / `Date`).
 * Where its semantics differ from the SPEC we wrap or replace it:
 * - graphql-scalars' `DateTime`/`Date` parse inputs into JS `Date` objects (losing PostgreSQL's microseconds and
 *   the original offset) and serialize to `Date` objects. We validate with graphql-scalars, then keep the
 *   client's string as the bind parameter and pass PostgreSQL's strings through on output.
 * - graphql-scalars' `BigInt` accepts any size and yields JS `bigint`s. SPEC G-9 wants a JSON number within
 *   ±(2^53−1), larger inputs rejected: `BigInt` below is our own.
 * - `Decimal` (a string holding a decimal number, so no precision is lost) and `ID` (a UUID, validated on input
 *   so an invalid id is a `BAD_USER_INPUT` naming the argument instead of a database error) are our own.
 */
import { GraphQLError, GraphQLScalarType, Kind, print, type ValueNode } from 'graphql';
import {
  GraphQLDate as ScalarsDate,
  GraphQLDateTime as ScalarsDateTime,
  GraphQLJSON as ScalarsJSON,
  GraphQLUUID as ScalarsUUID,
} from 'graphql-scalars';
import { UUID_RE } from '../../uuid.js';

/** Canonical UUID text (any version, case-insensitive), as PostgreSQL prints and accepts it. */

const DECIMAL_PATTERN = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function fail(message: string, node?: ValueNode): never {
  throw new GraphQLError(message, node ? { nodes: node } : undefined);
}

function parseUuidId(value: unknown, node?: ValueNode): string {
  if (typeof value !== 'string' || !UUID_RE.test(value)) {
    fail(`ID must be a UUID such as "0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a"; got ${JSON.stringify(value)}.`, node);
  }
  return value.toLowerCase();
}

/**
 * `ID`: replaces graphql-js' built-in ID. Every Lattice id is a UUID, so inputs (string literals or variables)
 * must be UUID text; output passes the database's text through.
 * @throws GraphQLError (reported as BAD_USER_INPUT) for anything that is not a UUID string.
 */
export const GraphQLUuidID = new GraphQLScalarType<string, string>({
  name: 'ID',
  description: 'A unique identifier: a UUID (Lattice ids are UUID v7). Inputs that are not UUIDs are rejected.',
  serialize: (value) => String(value),
  parseValue: (value) => parseUuidId(value),
  parseLiteral: (node) => parseUuidId(node.kind === Kind.STRING ? node.value : print(node), node),
});

function isoScalar(name: 'DateTime' | 'Date', base: GraphQLScalarType, description: string) {
  const parse = (value: unknown, node?: ValueNode): string => {
    if (typeof value !== 'string') fail(`${name} must be a string in ISO-8601 form; got ${JSON.stringify(value)}.`, node);
    try {
      base.parseValue(value);
    } catch (err) {
      fail(`${(err as Error).message} Send ${name === 'Date' ? 'a date like "2026-11-05"' : 'a timestamp like "2026-11-05T14:03:00Z"'}.`, node);
    }
    return value;
  };
  return new GraphQLScalarType<string, string>({
    name,
    description,
    specifiedByURL: 'https://datatracker.ietf.org/doc/html/rfc3339',
    serialize: (value) => (value instanceof Date ? (name === 'Date' ? value.toISOString().slice(0, 10) : value.toISOString()) : String(value)),
    parseValue: (value) => parse(value),
    parseLiteral: (node) => parse(node.kind === Kind.STRING ? node.value : print(node), node),
  });
}

/** `DateTime`: an RFC 3339 timestamp string (validated by graphql-scalars, kept as sent). */
export const GraphQLDateTime = isoScalar('DateTime', ScalarsDateTime, 'A date-time string (RFC 3339), e.g. 2026-11-05T14:03:00.123Z. Output is in UTC.');
/** `Date`: an RFC 3339 full-date string such as `2026-11-05`. */
export const GraphQLDate = isoScalar('Date', ScalarsDate, 'A calendar date string (RFC 3339 full-date), e.g. 2026-11-05.');

function parseBigInt(value: unknown, node?: ValueNode): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(`BigInt must be an integer JSON number; got ${node ? print(node) : JSON.stringify(value)}.`, node);
  }
  if (!Number.isSafeInteger(value)) {
    fail(`BigInt ${value} is outside ±(2^53−1) (±9007199254740991), the range a JSON number holds exactly.`, node);
  }
  return value;
}

/**
 * `BigInt`: an int8 as a JSON number within ±(2^53−1) (SPEC G-9). Larger inputs are rejected rather than
 * silently rounded; literals are checked on their digits, before any float rounding.
 */
export const GraphQLBigInt = new GraphQLScalarType<number, number>({
  name: 'BigInt',
  description: 'A 64-bit integer sent as a JSON number; inputs must lie within ±(2^53−1).',
  serialize: (value) => (typeof value === 'bigint' ? Number(value) : Number(value)),
  parseValue: (value) => parseBigInt(value),
  parseLiteral: (node) => {
    if (node.kind !== Kind.INT) fail(`BigInt must be an integer literal; got ${print(node)}.`, node);
    const big = BigInt(node.value);
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
      fail(`BigInt ${node.value} is outside ±(2^53−1) (±9007199254740991), the range a JSON number holds exactly.`, node);
    }
    return Number(node.value);
  },
});

function parseDecimal(value: unknown, node?: ValueNode): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !DECIMAL_PATTERN.test(text)) {
    fail(`Decimal must be a decimal number as a string, e.g. "12.50"; got ${node ? print(node) : JSON.stringify(value)}.`, node);
  }
  return text;
}

/** `Decimal`: an arbitrary-precision number carried as a string (numbers are accepted on input). */
export const GraphQLDecimal = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number carried as a string, e.g. "12.50".',
  serialize: (value) => String(value),
  parseValue: (value) => parseDecimal(value),
  parseLiteral: (node) =>
    parseDecimal(node.kind === Kind.STRING || node.kind === Kind.INT || node.kind === Kind.FLOAT ? node.value : undefined, node),
});

/*
 * graphql-scalars' instances are re-created from their configs with this module's `graphql` import: under a
 * bundler-style resolver (vitest) graphql-scalars may load graphql's CommonJS build while we load its ESM
 * build, and graphql-js refuses scalar instances from another copy ("Duplicate graphql modules").
 */

/** `JSON`: any JSON value (graphql-scalars). */
export const GraphQLJSON = new GraphQLScalarType(ScalarsJSON.toConfig());
/** `UUID`: a UUID string (graphql-scalars), for `uuid` columns other than ids. */
export const GraphQLUUID = new GraphQLScalarType(ScalarsUUID.toConfig());
