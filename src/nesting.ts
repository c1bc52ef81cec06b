/**
 * Nesting limits checked before deeper (recursive) processing (SPEC G-12, "Security" quality bar): graphql-js'
 * parser, validator and variable coercion, and our planner, recurse once per nesting level and overflow the
 * stack on a document or variable nested a few thousand levels deep. These checks are iterative.
 */
import { badInput, LatticeError } from './errors.js';

/** Deepest nesting of brackets (`{`, `[`, `(`) accepted in a GraphQL document. */
export const MAX_DOCUMENT_NESTING = 256;
/** Deepest nesting of objects/arrays accepted in JSON variables and request bodies. */
export const MAX_JSON_NESTING = 128;

/**
 * Deepest bracket nesting of a GraphQL document, skipping strings, block strings and comments.
 * Stops counting once `limit` is exceeded (cost O(length) at most).
 */
export function documentNesting(text: string, limit = MAX_DOCUMENT_NESTING): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
    } else if (c === 0x22 /* " */) {
      if (text.startsWith('"""', i)) {
        i += 3;
        while (i < text.length && !text.startsWith('"""', i)) i += text.startsWith('\\"""', i) ? 4 : 1;
        i += 2;
      } else {
        i++;
        while (i < text.length && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      }
    } else if (c === 0x7b || c === 0x5b || c === 0x28) {
      depth++;
      if (depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x7d || c === 0x5d || c === 0x29) {
      depth--;
    }
  }
  return max;
}

/**
 * One iterative walk of a parsed JSON value: its deepest nesting (a scalar is 0, `{}` and `[]` are 1; the walk
 * stops past `limit`) and whether it holds a non-finite number.
 */
function scanJson(value: unknown, limit: number): { depth: number; nonFinite: boolean } {
  let max = 0;
  let nonFinite = typeof value === 'number' && !Number.isFinite(value);
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > limit) return { depth: max, nonFinite };
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth]);
      else if (typeof child === 'number' && !Number.isFinite(child)) nonFinite = true;
    }
  }
  return { depth: max, nonFinite };
}

/** Deepest nesting of a parsed JSON value (a scalar is 0, `{}` and `[]` are 1); stops past `limit`. */
export function jsonNesting(value: unknown, limit = MAX_JSON_NESTING): number {
  return scanJson(value, limit).depth;
}

/**
 * @throws LatticeError QUERY_TOO_COMPLEX when the document nests deeper than {@link MAX_DOCUMENT_NESTING}
 */
export function checkDocumentNesting(text: string): void {
  if (documentNesting(text) > MAX_DOCUMENT_NESTING) {
    throw new LatticeError(
      'QUERY_TOO_COMPLEX',
      `The GraphQL document is nested more than ${MAX_DOCUMENT_NESTING} levels deep; flatten it (e.g. fewer nested and/or filters).`,
    );
  }
}

/**
 * Path of the first number in a parsed JSON value that is not finite, e.g. `[2].duration`, or null. JSON text
 * such as `1e309` parses to Infinity, which a float column would store as NULL (or reject): losing the value
 * without a word. Call after the depth check (the walk is iterative either way).
 */
export function nonFiniteNumberPath(value: unknown): string | null {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return path || '(the value itself)';
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i][1], path ? `${path}.${entries[i][0]}` : entries[i][0]]);
    }
  }
  return null;
}

/**
 * Check a parsed JSON input before anything recursive touches it.
 * @param what where the value came from, for the message (e.g. `variables`, `body`)
 * @throws LatticeError BAD_USER_INPUT when the value nests deeper than {@link MAX_JSON_NESTING}, or holds a
 *         number too large to represent (parsed as ±Infinity)
 */
export function checkJsonNesting(value: unknown, what: string): void {
  const scan = scanJson(value, MAX_JSON_NESTING);
  if (scan.depth > MAX_JSON_NESTING) {
    throw badInput(`${what} is nested more than ${MAX_JSON_NESTING} levels deep; flatten it.`);
  }
  // Paths are built only for the (rare) value that fails: this runs on every request body.
  const path = scan.nonFinite ? nonFiniteNumberPath(value) : null;
  if (path !== null) {
    throw badInput(`${what} holds a number too large to represent at ${path}; numbers must be finite (magnitude below about 1.8e308).`, [
      { path, message: 'number out of range' },
    ]);
  }
}
