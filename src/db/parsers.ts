/**
 * Result-type normalisation shared by both drivers (GUIDE: "Result types differ ... Normalise in the Db layer").
 *
 * After normalisation both drivers return:
 * - `int8` (bigint, `count(*)`): a JS number when it is a safe integer (|n| ≤ 2^53−1), else its decimal string;
 * - `numeric`: a string (exact; the GraphQL `Decimal` scalar is a string);
 * - `date`: the `YYYY-MM-DD` string (node-postgres would build a Date at local midnight, a classic off-by-a-day bug);
 * - `timestamptz`: a JS `Date`; `json`/`jsonb`: parsed JSON;
 * - arrays of these element-wise.
 * `bytea` stays driver-specific (`Buffer` on node-postgres, `Uint8Array` on PGlite; a Buffer is a Uint8Array).
 */
import pg from 'pg';

/** PostgreSQL type OIDs used here (pg_type.oid; stable across versions). */
export const OID = {
  int8: 20,
  int8Array: 1016,
  date: 1082,
  dateArray: 1182,
  textArray: 1009,
} as const;

/**
 * Parse the text form of an `int8`.
 * @returns a number when the value is a safe integer, otherwise the original decimal string (never a BigInt,
 *          which JSON.stringify cannot serialise).
 */
export function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** Parsers for PGlite's `parsers` option (PGlite applies element parsers to arrays itself). */
export const PGLITE_PARSERS: Record<number, (text: string) => unknown> = {
  [OID.int8]: parseInt8,
  [OID.date]: (text) => text,
};

type TextParser = (text: string) => unknown;
/** node-postgres' default text parser for any OID (its typings accept only the builtin enum). */
const defaultParser = (oid: number): TextParser => (pg.types.getTypeParser as (oid: number, format: 'text') => TextParser)(oid, 'text');

/**
 * A per-pool `types` object for node-postgres (`new Pool({ types })`), so the global `pg.types` registry is
 * left untouched. Falls back to node-postgres' own parsers for every other type.
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return (pg.types.getTypeParser as (oid: number, format: 'binary') => unknown)(oid, 'binary');
    switch (oid) {
      case OID.int8:
        return parseInt8;
      case OID.date:
        return (text: string) => text;
      case OID.int8Array: {
        const base = defaultParser(oid);
        return (text: string) => (base(text) as Array<string | null>).map((v) => (v === null ? null : parseInt8(v)));
      }
      case OID.dateArray:
        // Same text array syntax as text[]: reuse node-postgres' text[] parser (elements stay strings).
        return defaultParser(OID.textArray);
      default:
        return defaultParser(oid);
    }
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** The identity parser: a value's text output as it is (`QueryOptions.raw`). */
export const unparsed = (text: string): string => text;

/**
 * node-postgres `types` for `QueryOptions.raw`: every text-format value stays PostgreSQL's text output (binary
 * results are never asked for).
 */
export const RAW_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    format === 'binary' ? (pg.types.getTypeParser as (oid: number, format: 'binary') => unknown)(oid, 'binary') : unparsed) as pg.CustomTypesConfig['getTypeParser'],
};
