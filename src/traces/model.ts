/**
 * Which served models the Langfuse-compatible routes work on (SPEC M-6, R-6). The routes are tied to the
 * *shape* of the traces preset, not to its name: a model qualifies when it has the entities `session`, `trace`,
 * `observation`, `score` and `prompt` with the columns (and column types) the routes read and write, so a team's
 * own extension of the preset (more fields, more entities, another name) keeps the API. The check runs per
 * request against `ctx.model()` (a run-time model change, SPEC M-7, can add or remove the entities) and is
 * cached per Model object.
 */
import { notFound } from '../errors.js';
import type { Entity, FieldType, Model } from '../model/types.js';

/** The entities of a model that has the traces preset's shape. */
export interface TracesModel {
  readonly model: Model;
  readonly session: Entity;
  readonly trace: Entity;
  readonly observation: Entity;
  readonly score: Entity;
  readonly prompt: Entity;
}

/** Columns (and types) the routes rely on, per entity; `ref:<entity>` for references. */
const REQUIRED: Readonly<Record<Exclude<keyof TracesModel, 'model'>, Readonly<Record<string, FieldType | `ref:${string}`>>>> = {
  session: { external_id: 'string', environment: 'string', metadata: 'json' },
  trace: {
    external_id: 'string', name: 'string', timestamp: 'datetime', session_id: 'ref:session', user_id: 'string', release: 'string',
    version: 'string', environment: 'string', tags: 'string[]', public: 'boolean', bookmarked: 'boolean', input: 'json', output: 'json',
    metadata: 'json',
  },
  observation: {
    external_id: 'string', trace_id: 'ref:trace', parent_id: 'ref:observation', type: 'enum', name: 'string', start_time: 'datetime',
    end_time: 'datetime', completion_start_time: 'datetime', latency_ms: 'float', time_to_first_token_ms: 'float', model: 'string',
    model_parameters: 'json', input: 'json', output: 'json', metadata: 'json', level: 'enum', status_message: 'text', version: 'string',
    environment: 'string', input_tokens: 'int', output_tokens: 'int', total_tokens: 'int', usage_details: 'json', input_cost: 'float',
    output_cost: 'float', total_cost: 'float', cost_details: 'json', prompt_id: 'ref:prompt',
  },
  score: {
    external_id: 'string', trace_id: 'ref:trace', observation_id: 'ref:observation', session_id: 'ref:session', name: 'string',
    value: 'float', string_value: 'string', data_type: 'enum', source: 'enum', comment: 'text', timestamp: 'datetime',
    environment: 'string', config_id: 'string', metadata: 'json',
  },
  prompt: { name: 'string', version: 'int', type: 'enum', prompt: 'json', config: 'json', labels: 'string[]', tags: 'string[]', commit_message: 'text' },
};

const cache = new WeakMap<Model, TracesModel | string>();

/** Why `model` lacks the traces shape (a sentence), or the entities when it has it. */
function check(model: Model): TracesModel | string {
  const found: Partial<Record<keyof typeof REQUIRED, Entity>> = {};
  for (const [name, columns] of Object.entries(REQUIRED) as Array<[keyof typeof REQUIRED, Record<string, string>]>) {
    const entity = model.entities.get(name);
    if (!entity || entity.system) return `it has no entity "${name}"`;
    for (const [column, type] of Object.entries(columns)) {
      const field = entity.columns.get(column);
      const actual = field ? (field.type === 'ref' ? `ref:${field.ref?.to}` : field.type) : undefined;
      if (actual !== type) return `${name}.${column} is ${actual ? `a ${actual}` : 'missing'} (the traces preset has a ${type})`;
    }
    found[name] = entity;
  }
  return { model, ...(found as Omit<TracesModel, 'model'>) };
}

/**
 * The traces entities of `model`, or null when it lacks the traces preset's shape.
 * @returns the same object for the same Model
 */
export function tracesModelOf(model: Model): TracesModel | null {
  let c = cache.get(model);
  if (c === undefined) cache.set(model, (c = check(model)));
  return typeof c === 'string' ? null : c;
}

/**
 * The traces entities of `model`, for a request to a route of the traces preset.
 * @throws LatticeError NOT_FOUND (404) naming what the served model lacks
 */
export function requireTracesModel(model: Model, route: string): TracesModel {
  const t = tracesModelOf(model);
  if (t) return t;
  const why = cache.get(model) as string;
  throw notFound(
    `${route} belongs to the traces preset (Langfuse-compatible API), but the served model "${model.name}" does not have its shape: ${why}. ` +
      'Serve the traces preset (lattice serve --preset traces) or a model that extends it.',
  );
}
