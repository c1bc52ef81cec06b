/**
 * An observation's input and output from span attributes and events (SPEC R-6), in Langfuse's order of sources
 * (its OTel ingestion's `extractInputAndOutput`), restricted to Langfuse's own attributes and the OpenTelemetry
 * GenAI conventions plus the two widespread instrumentation families built on them:
 *
 * 1. `langfuse.observation.input` / `.output` (JSON text from the Langfuse SDKs);
 * 2. GenAI ≥ 1.37: `gen_ai.input.messages` / `gen_ai.output.messages` (with `gen_ai.system_instructions`
 *    prepended as a system message, as Langfuse does), then `gen_ai.tool.call.arguments` / `.result`;
 * 3. the same message attributes on a `gen_ai.client.inference.operation.details` span event;
 * 4. GenAI event-based messages: `gen_ai.{system,user,assistant,tool}.message` events (input, in order, each
 *    `{ role, ...attributes }`) and `gen_ai.choice` events (output; one choice is the object itself);
 * 5. older GenAI / OpenLLMetry attributes: `gen_ai.prompt` / `gen_ai.completion` as text, or flattened as
 *    `gen_ai.prompt.0.role`, `gen_ai.prompt.0.content`, … (rebuilt into a list of objects);
 * 6. OpenInference `input.value` / `output.value`, Traceloop `traceloop.entity.input` / `.output`.
 *
 * The first source that gives an input or an output wins. Attributes used are marked in the bag; events used
 * are returned so they do not also become EVENT observations.
 */
import { AttributeBag, parseJsonish } from './otlp-attributes.js';
import type { AttrValue, Attributes, OtlpEvent } from './otlp-spans.js';

/** Input, output and the indexes of the span events they were read from. */
export interface InputOutput {
  readonly input?: unknown;
  readonly output?: unknown;
  readonly usedEvents: ReadonlySet<number>;
}

const NONE: ReadonlySet<number> = new Set();
const MESSAGE_EVENTS = new Set(['gen_ai.system.message', 'gen_ai.user.message', 'gen_ai.assistant.message', 'gen_ai.tool.message']);

/** Both values, when at least one is present. */
function pair(input: unknown, output: unknown, usedEvents: ReadonlySet<number> = NONE): InputOutput | undefined {
  return input !== undefined || output !== undefined ? { input, output, usedEvents } : undefined;
}

/** Take two attributes as a pair (parsed when JSON text). */
function takePair(bag: AttributeBag, inKey: string, outKey: string): InputOutput | undefined {
  return pair(parseJsonish(bag.take(inKey)), parseJsonish(bag.take(outKey)));
}

/** GenAI ≥ 1.37 message attributes of `attrs` (a bag of span or event attributes). */
function genAiMessages(bag: AttributeBag): InputOutput | undefined {
  let input = parseJsonish(bag.take('gen_ai.input.messages'));
  const output = parseJsonish(bag.take('gen_ai.output.messages'));
  if (input === undefined && output === undefined) return undefined;
  const system = bag.peek('gen_ai.system_instructions');
  if (Array.isArray(input) && system !== undefined && !input.some((m) => (m as { role?: unknown } | null)?.role === 'system')) {
    bag.take('gen_ai.system_instructions');
    const parsed = parseJsonish(system);
    const content = Array.isArray(parsed)
      ? parsed.map((p) => (typeof p === 'object' && p !== null && 'content' in p ? String((p as { content: unknown }).content) : String(p))).join('\n')
      : typeof parsed === 'string' ? parsed : JSON.stringify(parsed);
    input = [{ role: 'system', content }, ...input];
  }
  return pair(input, output);
}

/**
 * Attributes flattened under a prefix (`gen_ai.prompt.0.role` → `[{ role }]`) rebuilt as nested values: objects
 * whose keys are exactly 0…n−1 become lists (never a sparse list from a large index).
 */
export function unflatten(entries: Array<[string, AttrValue]>): unknown {
  // Objects without a prototype: a key such as "__proto__" is an own key, never the prototype.
  const object = () => Object.create(null) as Record<string, unknown>;
  const root = object();
  for (const [path, value] of entries) {
    const parts = path.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = node[parts[i]];
      if (next === null || typeof next !== 'object') node[parts[i]] = object();
      node = node[parts[i]] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = parseJsonish(value);
  }
  const listify = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    for (const k of keys) o[k] = listify(o[k]);
    const isList = keys.length > 0 && keys.every((k) => /^\d+$/.test(k) && Number(k) < keys.length);
    return isList ? keys.map((_, i) => o[String(i)]) : o;
  };
  return listify(root);
}

/** Older GenAI / OpenLLMetry prompt and completion attributes. */
function legacyPromptCompletion(bag: AttributeBag): InputOutput | undefined {
  const whole = pair(parseJsonish(bag.take('gen_ai.prompt')), parseJsonish(bag.take('gen_ai.completion')));
  if (whole) return whole;
  const prompt = bag.takePrefix('gen_ai.prompt.');
  const completion = bag.takePrefix('gen_ai.completion.');
  return pair(prompt.length ? unflatten(prompt) : undefined, completion.length ? unflatten(completion) : undefined);
}

/** GenAI message events (source 4). */
function messageEvents(events: readonly OtlpEvent[]): InputOutput | undefined {
  const used = new Set<number>();
  const input: unknown[] = [];
  const choices: unknown[] = [];
  events.forEach((e, i) => {
    if (MESSAGE_EVENTS.has(e.name)) {
      input.push({ role: e.name.slice('gen_ai.'.length, -'.message'.length), ...parsedValues(e.attributes) });
      used.add(i);
    } else if (e.name === 'gen_ai.choice') {
      choices.push(parsedValues(e.attributes));
      used.add(i);
    }
  });
  if (!used.size) return undefined;
  return { input: input.length ? input : undefined, output: choices.length === 0 ? undefined : choices.length === 1 ? choices[0] : choices, usedEvents: used };
}

/** Attribute values with JSON text parsed. */
function parsedValues(attrs: Attributes): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, parseJsonish(v)]));
}

/**
 * Input and output of a span (see the module comment).
 * @param bag the span's attributes; used keys are marked
 * @param events the span's events
 */
export function inputOutput(bag: AttributeBag, events: readonly OtlpEvent[]): InputOutput {
  const found =
    takePair(bag, 'langfuse.observation.input', 'langfuse.observation.output') ??
    genAiMessages(bag) ??
    takePair(bag, 'gen_ai.tool.call.arguments', 'gen_ai.tool.call.result') ??
    operationDetails(events) ??
    messageEvents(events) ??
    legacyPromptCompletion(bag) ??
    takePair(bag, 'input.value', 'output.value') ??
    takePair(bag, 'traceloop.entity.input', 'traceloop.entity.output');
  return found ?? { usedEvents: NONE };
}

/** The GenAI ≥ 1.37 operation-details event (source 3). */
function operationDetails(events: readonly OtlpEvent[]): InputOutput | undefined {
  for (let i = 0; i < events.length; i++) {
    if (events[i].name !== 'gen_ai.client.inference.operation.details') continue;
    const bag = new AttributeBag(events[i].attributes);
    const found = genAiMessages(bag);
    // The event stays an EVENT observation when it carries more than the messages (nothing is dropped).
    if (found) return { ...found, usedEvents: Object.keys(bag.rest()).length ? NONE : new Set([i]) };
  }
  return undefined;
}
