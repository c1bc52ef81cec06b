/**
 * Client ids → row ids for the traces preset (SPEC R-6). Langfuse SDKs and OpenTelemetry choose their own ids:
 * a UUID, a 32-hex OpenTelemetry trace id, a 16-hex span id, or any text (`"chat-42"`); every Lattice row id is
 * a UUID. The mapping is deterministic, so a resent or later event (an update, a score, a child span) finds
 * the same row without a lookup, and a read by the client's id (`GET /api/public/traces/{id}`) computes it:
 *
 * - a UUID is used as it is (lower case);
 * - 32 hex digits (an OpenTelemetry trace id) are written as a UUID (8-4-4-4-12), so the trace id of an OTLP
 *   export and of a Langfuse SDK event for the same trace meet;
 * - anything else becomes a UUID version 8 (RFC 9562 §5.8) from the first 16 bytes of
 *   SHA-256(`<kind>:<id>`), version and variant bits set.
 *
 * The client's spelling is kept in the row's `external_id` and answered back. Ids are global, like every row
 * id: the same client id sent by two projects is a conflict for the second (never an overwrite).
 */
import { createHash } from 'node:crypto';
import { UUID_RE } from '../uuid.js';

/** The entities of the traces preset whose ids clients choose. */
export type TraceIdKind = 'trace' | 'observation' | 'session' | 'score' | 'prompt';

/**
 * The row id of a client id (see the module comment).
 * @param kind the entity, part of the hash so a trace and an observation with the same text id differ
 * @param clientId the id as the client sent it; must be non-empty
 * @returns a lower-case UUID
 * @throws RangeError for an empty id
 */
export function rowIdFor(kind: TraceIdKind, clientId: string): string {
  if (clientId === '') throw new RangeError('An id must not be empty.');
  if (UUID_RE.test(clientId)) return clientId.toLowerCase();
  if (/^[0-9a-fA-F]{32}$/.test(clientId)) {
    const h = clientId.toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  const bytes = createHash('sha256').update(`${kind}:${clientId}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
