/**
 * The validators of `POST /api/public/ingestion` (`langfuse-ingestion.ts`): the envelope schema and one body
 * schema per event type (`langfuse-events.ts`), compiled by an AJV instance of their own with exactly the
 * options of the REST plugin's body instance (`src/rest/validate.ts`: no coercion, no defaults, nothing
 * removed, first error only, `ajv-formats`, `uuid` decided by its pattern), so every event is accepted or
 * refused with the same AJV errors as before.
 *
 * The one difference is the cost of `format: "date-time"` (three checks per observation event: the envelope's
 * `timestamp`, `startTime`, `endTime`): `ajv-formats` splits the string with a regex and matches two more.
 * {@link isDateTime} reads the shape every SDK sends (`2026-03-01T10:00:00.123Z`, `…+02:00`) character by
 * character and computes the same answer; any other spelling goes to `ajv-formats`' own function, so exactly
 * the same strings are accepted and refused.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { makeAjv } from '../rest/validate.js';
import addFormatsModule from 'ajv-formats';
import type { JsonSchema } from '../rest/schemas.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object in some setups.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/** A format definition of `ajv-formats` (`{ validate, compare }`). */
interface FormatDefinition {
  readonly validate: (s: string) => boolean;
  readonly compare?: (a: string, b: string) => number | undefined;
}

/** `ajv-formats`' own `date-time` definition (RFC 3339, time zone required), taken from an instance once. */
const ORIGINAL: FormatDefinition = (() => {
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);
  return ajv.formats['date-time'] as unknown as FormatDefinition;
})();

/** Days of each month (1-based) of a common year. */
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Value of the ASCII digit at `i`, or -1. */
function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/** Two ASCII digits at `i` as a number, or -1. */
function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/**
 * `ajv-formats`' `date-time` answer for the canonical shape `YYYY-MM-DD(T|t)hh:mm:ss[.f+](Z|z|±hh:mm)`, or
 * `undefined` for any other shape. For these strings `ajv-formats` splits at the one `T` and matches its date
 * and time regexes, then checks: month 1–12, day within the month (29 February in leap years), offset hours
 * ≤ 23 and minutes ≤ 59, and hh ≤ 23, mm ≤ 59, ss < 60 — or a leap second (ss < 61 at 23:59 UTC).
 */
function canonicalDateTime(s: string): boolean | undefined {
  const n = s.length;
  if (n < 20) return undefined;
  const y0 = two(s, 0);
  const y1 = two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  const hr = two(s, 11);
  const min = two(s, 14);
  const whole = two(s, 17);
  const t = s.charCodeAt(10);
  if (
    y0 < 0 || y1 < 0 || month < 0 || day < 0 || hr < 0 || min < 0 || whole < 0 ||
    s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || (t !== 84 && t !== 116) || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58
  ) {
    return undefined;
  }
  let i = 19;
  if (s.charCodeAt(i) === 46) {
    i++;
    const first = i;
    while (i < n && digit(s, i) >= 0) i++;
    if (i === first) return undefined;
  }
  // The seconds as ajv-formats reads them (`+"ss.fff"`): below 59 a fraction never reaches the next second;
  // from 59 on a long fraction may round up to it, so the text is read as ajv-formats does.
  const sec = i === 19 || whole < 59 ? whole : +s.slice(17, i);
  let tzSign = 1;
  let tzH = 0;
  let tzM = 0;
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) {
    if (i + 1 !== n) return undefined;
  } else if ((z === 43 || z === 45) && i + 6 === n && s.charCodeAt(i + 3) === 58) {
    tzH = two(s, i + 1);
    tzM = two(s, i + 4);
    if (tzH < 0 || tzM < 0) return undefined;
    if (z === 45) tzSign = -1;
  } else {
    return undefined;
  }
  const year = y0 * 100 + y1;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= (month === 2 && leap ? 29 : DAYS[month]))) return false;
  if (tzH > 23 || tzM > 59) return false;
  if (hr <= 23 && min <= 59 && sec < 60) return true;
  const utcMin = min - tzM * tzSign;
  const utcHr = hr - tzH * tzSign - (utcMin < 0 ? 1 : 0);
  return (utcHr === 23 || utcHr === -1) && (utcMin === 59 || utcMin === -1) && sec < 61;
}

/**
 * JSON Schema `format: "date-time"` exactly as `ajv-formats` (full mode) decides it, without its split and
 * regexes for the canonical shape.
 * @param s any string
 * @returns whether `s` is an RFC 3339 date-time with a time zone
 */
export function isDateTime(s: string): boolean {
  return canonicalDateTime(s) ?? ORIGINAL.validate(s);
}

/**
 * A compiler of Langfuse event schemas: the REST plugin's body options, `date-time` checked by {@link isDateTime}.
 * @returns `compile(schema)` → an AJV validate function (`errors` set after a failed call)
 */
export function createEventCompiler(): (schema: JsonSchema) => ValidateFunction {
  const ajv = makeAjv(false); // the REST plugin's body instance options
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime, ...(ORIGINAL.compare ? { compare: ORIGINAL.compare } : {}) });
  return (schema) => ajv.compile(schema);
}
