/**
 * Input side of `lattice ingest` (SPEC C): reading JSONL and CSV files as streams, one record at a time with
 * its line number and the byte offset after it, and typing CSV cells by the entity's field types as the
 * served OpenAPI document (`GET /api/openapi.json`, SPEC R-3) describes them.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { CliError } from './io.js';

/** One record read from the file: a value, or the reason the line could not be read. */
export type SourceRecord =
  | { readonly line: number; readonly endOffset: number; readonly value: Record<string, unknown> }
  | { readonly line: number; readonly endOffset: number; readonly error: string };

/**
 * The non-empty lines of a JSONL file from byte `start` on, each parsed as a JSON object. Lines are split on
 * `\n` over raw bytes (a trailing `\r` is dropped), so `endOffset` is an exact byte position to resume from.
 * @param firstLine the 1-based number of the line starting at `start`
 */
export async function* readJsonl(file: string, start = 0, firstLine = 1): AsyncGenerator<SourceRecord> {
  let pending: Buffer[] = [];
  let offset = start;
  let line = firstLine;
  const parseLine = (buf: Buffer, end: number): SourceRecord | undefined => {
    const text = buf.toString('utf8').replace(/\r$/, '');
    const n = line++;
    if (!text.trim()) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      if (!value || typeof value !== 'object' || Array.isArray(value)) return { line: n, endOffset: end, error: 'not a JSON object' };
      return { line: n, endOffset: end, value: value as Record<string, unknown> };
    } catch (err) {
      return { line: n, endOffset: end, error: `invalid JSON: ${(err as Error).message}` };
    }
  };
  for await (const chunk of createReadStream(file, { start }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
      pending.push(chunk.subarray(from, nl));
      offset += nl - from + 1;
      const rec = parseLine(Buffer.concat(pending), offset);
      pending = [];
      from = nl + 1;
      if (rec) yield rec;
    }
    if (from < chunk.length) {
      pending.push(chunk.subarray(from));
      offset += chunk.length - from;
    }
  }
  if (pending.length) {
    const rec = parseLine(Buffer.concat(pending), offset);
    if (rec) yield rec;
  }
}

/** How a CSV cell becomes a JSON value (derived from the field's JSON schema). */
export type CellKind = 'string' | 'integer' | 'number' | 'decimal' | 'boolean' | 'array' | 'json';

/** The writable fields of an entity: name → cell kind. */
export type FieldKinds = ReadonlyMap<string, CellKind>;

type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema>; $ref?: string; [k: string]: unknown };

function kindOf(schema: JsonSchema): CellKind {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length === 0) return 'json';
  if (types.includes('string') && types.includes('number')) return 'decimal';
  for (const k of ['integer', 'number', 'boolean', 'array'] as const) if (types.includes(k)) return k;
  return 'string';
}

/**
 * The fields of `entity` from the served OpenAPI document: the body schema of its `<entity>.create` ingestion
 * event (`components.schemas.<Type>CreateEvent`).
 * @throws CliError when the document has no such event (the message lists the entities it has)
 */
export function entityFieldKinds(openapi: unknown, entity: string): FieldKinds {
  const schemas = ((openapi as { components?: { schemas?: Record<string, JsonSchema> } })?.components?.schemas ?? {}) as Record<string, JsonSchema>;
  const known: string[] = [];
  for (const [name, s] of Object.entries(schemas)) {
    if (!name.endsWith('CreateEvent')) continue;
    const type = (s.properties?.type as { const?: string } | undefined)?.const;
    if (typeof type !== 'string') continue;
    known.push(type.replace(/\.create$/, ''));
    if (type !== `${entity}.create`) continue;
    const ref = s.properties?.body?.$ref;
    const body = ref ? schemas[ref.replace('#/components/schemas/', '')] : s.properties?.body;
    return new Map(Object.entries(body?.properties ?? {}).map(([f, fs]) => [f, kindOf(fs)]));
  }
  throw new CliError(`The server has no entity "${entity}"; its entities: ${known.sort().join(', ') || '(none)'}.`);
}

const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

/**
 * One CSV cell as the JSON value of a field of `kind`.
 * @throws Error naming the expected form when the cell does not fit
 */
export function typeCell(kind: CellKind, cell: string): unknown {
  switch (kind) {
    case 'string':
    case 'decimal':
      return cell;
    case 'integer': {
      const n = Number(cell.trim());
      if (!/^[-+]?\d+$/.test(cell.trim()) || !Number.isSafeInteger(n)) throw new Error(`expected an integer, got "${cell}"`);
      return n;
    }
    case 'number': {
      const n = Number(cell.trim());
      if (cell.trim() === '' || !Number.isFinite(n)) throw new Error(`expected a number, got "${cell}"`);
      return n;
    }
    case 'boolean': {
      const v = cell.trim().toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      throw new Error(`expected true or false, got "${cell}"`);
    }
    case 'array': {
      let v: unknown;
      try {
        v = JSON.parse(cell);
      } catch {
        throw new Error(`expected a JSON array like ["a","b"], got "${cell}"`);
      }
      if (!Array.isArray(v)) throw new Error(`expected a JSON array like ["a","b"], got "${cell}"`);
      return v;
    }
    case 'json':
      try {
        return JSON.parse(cell);
      } catch {
        return cell; // a bare string is a JSON value too
      }
  }
}

/**
 * The records of a CSV file: the header row names the fields, each cell is typed by `kinds`, an empty cell
 * is omitted (the field's default or null applies). Records on lines ≤ `skipThrough` are read but not
 * yielded (resuming). `endOffset` is the byte count parsed so far (informational for CSV: resuming re-reads).
 * @throws CliError when the header names a column the entity does not have
 */
export async function* readCsv(file: string, kinds: FieldKinds, delimiter: string, skipThrough = 0): AsyncGenerator<SourceRecord> {
  const skipped: SourceRecord[] = [];
  const parser = createReadStream(file).pipe(
    parse({
      columns: (header: string[]) => {
        const unknown = header.filter((h) => !kinds.has(h.trim()));
        if (unknown.length) {
          throw new CliError(`The CSV header names column(s) ${unknown.map((u) => `"${u}"`).join(', ')} that the entity does not have; its fields: ${[...kinds.keys()].join(', ')}.`);
        }
        return header.map((h) => h.trim());
      },
      delimiter,
      bom: true,
      info: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        if (err) skipped.push({ line: Number((err as { lines?: unknown }).lines ?? 0), endOffset: 0, error: `malformed CSV: ${err.message}` });
        return undefined;
      },
    }),
  );
  try {
    for await (const { info, record } of parser as AsyncIterable<{ info: { lines: number; bytes: number }; record: Record<string, string> }>) {
      for (const s of skipped.splice(0)) if (s.line > skipThrough) yield { ...s, endOffset: info.bytes };
      if (info.lines <= skipThrough) continue;
      const value: Record<string, unknown> = {};
      let error: string | undefined;
      for (const [k, cell] of Object.entries(record)) {
        if (cell === '') continue;
        try {
          value[k] = typeCell(kinds.get(k)!, cell);
        } catch (err) {
          error = `column "${k}": ${(err as Error).message}`;
          break;
        }
      }
      yield error ? { line: info.lines, endOffset: info.bytes, error } : { line: info.lines, endOffset: info.bytes, value };
    }
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    if (err instanceof CliError) throw err;
    if (cause instanceof CliError) throw cause;
    throw new CliError(`Cannot read ${file} as CSV: ${(err as Error).message}`);
  }
  for (const s of skipped) if (s.line > skipThrough) yield s;
}
