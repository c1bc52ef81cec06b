/**
 * The server's generic checks of parsed request bodies (`checkJsonNesting`, `src/nesting.ts`: nesting depth at
 * most 128, no non-finite number), made on a decoded protobuf export without building its object form.
 *
 * OTLP/HTTP bodies used to reach that check as the `toObject` form of the message inside
 * `{ encoding, request }`; a protobuf export is refused when that form nests more than 128 levels (deeply nested
 * `arrayValue` / `kvlistValue` attributes). Only attribute values can nest without bound, so one cheap walk over
 * the attribute lists decides whether the export could fail the check; only then is the object form built and
 * checked, with the same answers (status, message, path). A non-finite `doubleValue` (NaN, ±Infinity) is not
 * refused: the span reader keeps it as its text (`"NaN"`), as OTLP/JSON spells it, so one odd attribute never
 * costs the export's other spans (the object form writes such doubles as text too: `toObject`'s `json` option).
 */
import { checkJsonNesting, MAX_JSON_NESTING } from '../nesting.js';
import type { ExportTraceServiceRequest, PbAnyValue, PbKeyValue } from './otlp-spans-proto.js';

/**
 * Depth in `{ encoding, request }` (itself at depth 1) of the deepest attribute value of a span event or link
 * (`request.resourceSpans[].scopeSpans[].spans[].events[].attributes[].value`): an upper bound for every
 * attribute list's values (resource 8, scope 10, span 11, events and links 13).
 */
const DEEPEST_VALUE = 13;
/** Values at most this deep (and their `arrayValue` / `kvlistValue` wrappers, 2 levels more) pass the check. */
const SAFE_DEPTH = MAX_JSON_NESTING - 8;

/** True when the value (at `depth`) or one inside it is too deep to be surely safe. */
function suspectValue(v: PbAnyValue | null, depth: number): boolean {
  if (v === null) return false;
  if (depth + 2 > SAFE_DEPTH) return true;
  // `arrayValue` / `kvlistValue` are null unless set (their prototype default).
  if (v.arrayValue !== null) {
    const values = v.arrayValue.values;
    for (let i = 0; i < values.length; i++) if (suspectValue(values[i], depth + 3)) return true;
  }
  if (v.kvlistValue !== null) return suspectList(v.kvlistValue.values, depth + 4);
  return false;
}

/** {@link suspectValue} over a KeyValue list whose values are at `depth`. */
function suspectList(kvs: readonly PbKeyValue[] | undefined, depth: number): boolean {
  if (kvs === undefined) return false;
  for (let i = 0; i < kvs.length; i++) if (suspectValue(kvs[i].value, depth)) return true;
  return false;
}

/** True when the export might fail the generic body checks (see the module comment). */
function suspect(request: ExportTraceServiceRequest): boolean {
  for (const rs of request.resourceSpans) {
    if (suspectList(rs.resource?.attributes, DEEPEST_VALUE)) return true;
    for (const ss of rs.scopeSpans) {
      if (suspectList(ss.scope?.attributes, DEEPEST_VALUE)) return true;
      for (const span of ss.spans) {
        if (suspectList(span.attributes, DEEPEST_VALUE)) return true;
        for (const e of span.events) if (suspectList(e.attributes, DEEPEST_VALUE)) return true;
        for (const l of span.links) if (suspectList(l.attributes, DEEPEST_VALUE)) return true;
      }
    }
  }
  return false;
}

/**
 * Make the generic body checks on a decoded protobuf export.
 * @param request the decoded message
 * @param objectForm `{ encoding, request: <toObject form> }`, as those checks used to see the body; built only
 *        when the export might fail them
 * @throws LatticeError BAD_USER_INPUT exactly as `checkJsonNesting(objectForm(), 'The request body')` would
 */
export function checkDecodedExport(request: ExportTraceServiceRequest, objectForm: () => unknown): void {
  if (suspect(request)) checkJsonNesting(objectForm(), 'The request body');
}
