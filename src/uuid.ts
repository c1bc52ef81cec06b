/**
 * The one spelling of a UUID that Lattice accepts everywhere (ids, references, cursors, principals, route
 * schemas): 8-4-4-4-12 hex digits, either case (RFC 9562 §4 text form). Not the `urn:uuid:` or braced forms.
 */

/** Canonical UUID text, case-insensitive. */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The same as a JSON Schema `pattern` (which takes no flags). */
export const UUID_JSON_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/**
 * JSON Schema of a UUID string for route schemas. `format: 'uuid'` names it for documentation; the pattern
 * is what holds, since ajv-formats' `uuid` format also accepts `urn:uuid:…`, which PostgreSQL refuses later.
 */
export const UUID_JSON_SCHEMA = { type: 'string', format: 'uuid', pattern: UUID_JSON_PATTERN } as const;
