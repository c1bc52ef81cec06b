/**
 * Opaque keyset cursors (SPEC G-2, G-12): base64url of the JSON array `[fingerprint, v1, ..., vn]` where
 * `v1..vn` are the row's values of the effective ordering keys (`src/query/order.ts`: the plan's order — own
 * columns or columns through to-one relations — or the distance / rank of `nearest` / `search`, plus the `id`
 * tiebreaker) and `fingerprint` identifies the entity and the ordering, including the search text when the
 * ordering uses the rank and the nearest column, metric and vector when it uses the distance, so a cursor from
 * another connection (or another search) is refused. Never offsets: a cursor stays valid when rows are
 * inserted before it.
 *
 * Cursors in results are built in SQL (`src/query/sql/keyset.ts#cursorSql`) in exactly this format; the value
 * encoding per field type (`datetime` as ISO-8601 UTC with microseconds, numbers as text, json and string[]
 * as JSON, rank and distance as PostgreSQL's shortest exact float text) is defined here and there, and every
 * value is validated on decoding so a forged cursor yields BAD_USER_INPUT, never a database error.
 */
import { createHash } from 'node:crypto';
import type { Entity, Field, Model } from '../model/types.js';
import type { Cursor, OrderItem } from './plan.js';
import { badInput, internal, type LatticeError } from '../errors.js';
import { effectiveOrder, keyField, usesScore, type OrderKey, type OrderingArgs } from './order.js';
import { UUID_RE } from '../uuid.js';

/** Longest accepted cursor string (characters). */
export const MAX_CURSOR_LENGTH = 65_536;

const FINITE = /^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
const DECIMAL = /^(-?\d+(\.\d+)?|NaN|-?Infinity)$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const DATE = /^\d{4}-\d\d-\d\d$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Text of one key in the fingerprint: `name ASC LAST`, `trial.experiment.name DESC FIRST`, `_rank DESC LAST`. */
function keyText(k: OrderKey): string {
  const name = k.kind === 'column' ? [...k.path, k.column].join('.') : `_${k.kind}`;
  return `${name} ${k.direction} ${k.nulls}`;
}

/**
 * Fingerprint of an entity and its effective ordering: first 12 base64url characters of
 * sha256(`entity|key DIR NULLS,...` [`|search=<json text>`] [`|nearest=<column>,<metric>,<json vector>`]).
 * The search text / nearest vector take part only when the keys use the rank / distance (other arguments,
 * like filters, may change between pages as they may without search).
 */
export function cursorFingerprint(entity: Entity, keys: readonly OrderKey[], args: Omit<OrderingArgs, 'orderBy'> = {}): string {
  let text = `${entity.name}|${keys.map(keyText).join(',')}`;
  if (usesScore(keys, 'rank')) text += `|search=${JSON.stringify(args.search ?? null)}`;
  if (usesScore(keys, 'distance')) {
    const n = args.nearest;
    text += `|nearest=${n ? `${n.column},${n.metric},${JSON.stringify(n.vector)}` : 'null'}`;
  }
  return createHash('sha256').update(text).digest('base64url').slice(0, 12);
}

function entityOf(model: Model, name: string): Entity {
  const e = model.entities.get(name);
  if (!e) throw internal(`cursor for unknown entity "${name}"`);
  return e;
}

/** Ordering arguments from either a plain `orderBy` list or the full arguments. */
function orderingOf(ordering: readonly OrderItem[] | OrderingArgs): OrderingArgs {
  return Array.isArray(ordering) ? { orderBy: ordering as readonly OrderItem[] } : (ordering as OrderingArgs);
}

/**
 * Encode a cursor in JavaScript (tests, REST). `values` are in the SQL encoding of `cursorSql`: one per
 * effective ordering key (see `effectiveOrder`), strings for scalars, rank and distance, JSON values for json,
 * arrays for string[].
 * @param ordering the plan's `orderBy`, or the list's ordering arguments (`orderBy`, `search`, `nearest`)
 */
export function encodeCursor(model: Model, entity: string, ordering: readonly OrderItem[] | OrderingArgs, values: readonly unknown[]): string {
  const e = entityOf(model, entity);
  const args = orderingOf(ordering);
  const keys = effectiveOrder(model, e, args);
  if (values.length !== keys.length) throw internal(`cursor needs ${keys.length} values, got ${values.length}`);
  return Buffer.from(JSON.stringify([cursorFingerprint(e, keys, args), ...values]), 'utf8').toString('base64url');
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
      return /^(NaN|-?Infinity)$/.test(v) || floatTextOk(v, 64);
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
 * Whether a float's text reads back in PostgreSQL without a range error: finite decimal text whose value is
 * representable in float4 (`bits` 32) or float8 (64) without overflow or underflow to zero.
 */
function floatTextOk(v: string, bits: 32 | 64): boolean {
  if (!FINITE.test(v)) return false;
  const x = bits === 32 ? Math.fround(Number(v)) : Number(v);
  if (!Number.isFinite(x)) return false;
  return x !== 0 || !/[1-9]/.test(v.replace(/e.*$/i, ''));
}

/** Whether a decoded value fits a key: its field's shape for columns; float text for rank and distance. */
function validKeyValue(model: Model, entity: Entity, k: OrderKey, v: unknown): boolean {
  if (k.kind === 'rank') return typeof v === 'string' && floatTextOk(v, 32);
  if (k.kind === 'distance') return typeof v === 'string' && floatTextOk(v, 64);
  if (v === null) return !(k.path.length === 0 && k.column === 'id');
  return validValue(keyField(model, entity, k), v);
}

/**
 * Decode and check a cursor for `entity` under `ordering` (`id` is appended as in the SQL).
 * @param ordering the plan's `orderBy`, or the list's ordering arguments (`orderBy`, `search`, `nearest`): the
 *        cursor must come from a list with the same effective ordering (and search text / nearest vector
 *        when the ordering uses rank / distance)
 * @returns the key values in effective ordering order
 * @throws LatticeError BAD_USER_INPUT "Malformed cursor..." when it is not a cursor this server produced, or
 *         "Cursor from a different ordering or entity..." when it belongs to another connection.
 */
export function decodeCursor(model: Model, entity: string, ordering: readonly OrderItem[] | OrderingArgs, raw: string): Cursor {
  const e = entityOf(model, entity);
  const args = orderingOf(ordering);
  const keys = effectiveOrder(model, e, args);
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw)) throw malformed();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') throw malformed();
  if (parsed[0] !== cursorFingerprint(e, keys, args) || parsed.length !== keys.length + 1) {
    throw badInput(
      'Cursor from a different ordering or entity; request the first page again (without after/before). A cursor ' +
        'belongs to one ordering, and to the search text or nearest vector when the list is ordered by rank or distance.',
    );
  }
  const values = parsed.slice(1);
  keys.forEach((k, i) => {
    if (!validKeyValue(model, e, k, values[i])) throw malformed();
  });
  return { values };
}
