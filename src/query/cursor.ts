/**
 * Opaque keyset cursors (SPEC G-2, G-12): base64url of the JSON array `[fingerprint, v1, ..., vn]` where
 * `v1..vn` are the row's values of the effective ordering keys (the plan's order plus the `id` tiebreaker) and
 * `fingerprint` identifies the entity and the ordering, so a cursor from another connection is refused.
 * Never offsets: a cursor stays valid when rows are inserted before it.
 *
 * Cursors in results are built in SQL (`src/query/sql/keyset.ts#cursorSql`) in exactly this format; the value
 * encoding per field type (`datetime` as ISO-8601 UTC with microseconds, numbers as text, json and string[]
 * as JSON) is defined here and there, and every value is validated on decoding so a forged cursor yields
 * BAD_USER_INPUT, never a database error.
 */
import { createHash } from 'node:crypto';
import type { Entity, Field, Model } from '../model/types.js';
import type { Cursor, OrderItem } from './plan.js';
import { badInput, internal, type LatticeError } from '../errors.js';
import { effectiveOrder } from './sql/order.js';
import { UUID_RE } from '../uuid.js';

/** Longest accepted cursor string (characters). */
export const MAX_CURSOR_LENGTH = 65_536;

const FLOAT = /^(-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?|NaN|-?Infinity)$/i;
const DECIMAL = /^(-?\d+(\.\d+)?|NaN|-?Infinity)$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const DATE = /^\d{4}-\d\d-\d\d$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Fingerprint of an entity and its effective ordering: first 12 base64url characters of
 * sha256(`entity|col DIR NULLS,...`).
 */
export function cursorFingerprint(entity: Entity, keys: readonly OrderItem[]): string {
  const text = `${entity.name}|${keys.map((k) => `${k.column} ${k.direction} ${k.nulls}`).join(',')}`;
  return createHash('sha256').update(text).digest('base64url').slice(0, 12);
}

function entityOf(model: Model, name: string): Entity {
  const e = model.entities.get(name);
  if (!e) throw internal(`cursor for unknown entity "${name}"`);
  return e;
}

/**
 * Encode a cursor in JavaScript (tests, REST). `values` are in the SQL encoding of `cursorSql`: one per
 * effective ordering key (plan order + `id`), strings for scalars, JSON values for json, arrays for string[].
 */
export function encodeCursor(model: Model, entity: string, orderBy: readonly OrderItem[], values: readonly unknown[]): string {
  const e = entityOf(model, entity);
  const keys = effectiveOrder(e, orderBy);
  if (values.length !== keys.length) throw internal(`cursor needs ${keys.length} values, got ${values.length}`);
  return Buffer.from(JSON.stringify([cursorFingerprint(e, keys), ...values]), 'utf8').toString('base64url');
}

function malformed(): LatticeError {
  return badInput('Malformed cursor: pass back a cursor exactly as returned by the server (edges.cursor or page_info).');
}

function calendarOk(v: string, iso: string): boolean {
  const d = new Date(iso);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v.slice(0, 10);
}

function noNul(s: string): boolean {
  return !s.includes('\0');
}

/** Whether a decoded value has the shape the SQL side produces for this field (null allowed except `id`). */
function validValue(field: Field, v: unknown): boolean {
  if (v === null) return field.column !== 'id';
  if (field.type === 'json') return !JSON.stringify(v).includes('\\u0000');
  if (field.type === 'string[]') return Array.isArray(v) && v.every((x) => x === null || (typeof x === 'string' && noNul(x)));
  if (typeof v !== 'string') return false;
  switch (field.type) {
    case 'string':
    case 'text':
      return noNul(v);
    case 'enum':
      return (field.values ?? []).includes(v);
    case 'uuid':
    case 'ref':
      return UUID_RE.test(v);
    case 'int':
      return /^-?\d{1,10}$/.test(v) && Math.abs(Number(v)) <= 2 ** 31;
    case 'bigint':
      return /^-?\d{1,19}$/.test(v) && BigInt(v) >= -(2n ** 63n) && BigInt(v) < 2n ** 63n;
    case 'float':
      return FLOAT.test(v);
    case 'decimal':
      return DECIMAL.test(v);
    case 'boolean':
      return v === 'true' || v === 'false';
    case 'datetime':
      return TIMESTAMP.test(v) && calendarOk(v, v);
    case 'date':
      return DATE.test(v) && calendarOk(v, `${v}T00:00:00Z`);
    default:
      return false;
  }
}

/**
 * Decode and check a cursor for `entity` under `orderBy` (the plan's order; `id` is appended as in the SQL).
 * @returns the key values in effective ordering order
 * @throws LatticeError BAD_USER_INPUT "Malformed cursor..." when it is not a cursor this server produced, or
 *         "Cursor from a different ordering or entity..." when it belongs to another connection.
 */
export function decodeCursor(model: Model, entity: string, orderBy: readonly OrderItem[], raw: string): Cursor {
  const e = entityOf(model, entity);
  const keys = effectiveOrder(e, orderBy);
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw)) throw malformed();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') throw malformed();
  if (parsed[0] !== cursorFingerprint(e, keys) || parsed.length !== keys.length + 1) {
    throw badInput('Cursor from a different ordering or entity; request the first page again (without after/before).');
  }
  const values = parsed.slice(1);
  keys.forEach((k, i) => {
    const field = e.columns.get(k.column);
    if (!field || !validValue(field, values[i])) throw malformed();
  });
  return { values };
}
