/**
 * Model document → resolved `Model` (src/model/types.ts): built-in columns and the project entity added,
 * relations both ways, names from inflection, and every cross-reference checked with a path-precise error.
 */
import { createHash } from 'node:crypto';
import { badInput, type ErrorDetail, type LatticeError } from '../errors.js';
import { enumName, pluralize, refColumn, relationShapes, rootNames, typeName } from './inflection.js';
import { resolveIndexes } from './indexes.js';
import type { EntityDocument, FieldDocument } from './document.js';
import type { Entity, Field, JsonValue, Model, Relation, RootAlias } from './types.js';

/** Names that cannot be entity names (built in, or clashing with GraphQL/system names). */
const RESERVED_ENTITIES = new Set(['project', 'query', 'mutation', 'subscription', 'lattice', 'node', 'page_info']);
/** Column names every data entity has. */
const BUILTIN_COLUMNS = new Set(['id', 'project_id', 'created_at', 'updated_at']);
/**
 * Field names that would clash with built-ins or generated names: also the full-text column `search_vector`,
 * and the REST list parameters (a field of that name could not be filtered by equality in a query string).
 */
const RESERVED_FIELDS = new Set([
  ...BUILTIN_COLUMNS,
  'project',
  'typename',
  '_rank',
  '_distance',
  'search_vector',
  'filter',
  'search',
  'nearest',
  'order_by',
  'limit',
  'offset',
]);

/** The validated document with defaults filled (output of `modelDocument.parse`). */
export interface ParsedDocument {
  name: string;
  description?: string;
  naming?: 'snake_case' | 'graphql-default';
  schema?: string;
  search_config?: string;
  entities: Record<string, EntityDocument>;
  aliases?: Record<string, { entity: string; args: string[]; description?: string }>;
}

const SYSTEM_SCHEMA = 'lattice';

function builtinField(name: string, column: string, type: Field['type'], extra: Partial<Field> = {}): Field {
  return {
    name,
    column,
    type,
    required: true,
    unique: false,
    index: false,
    searchable: false,
    builtin: true,
    ...extra,
  };
}

function defaultMatchesType(f: FieldDocument, value: JsonValue): string | null {
  switch (f.type) {
    case 'string':
    case 'text':
    case 'uuid':
    case 'datetime':
    case 'date':
    case 'decimal':
      return typeof value === 'string' || (f.type === 'decimal' && typeof value === 'number') ? null : 'a string';
    case 'int':
    case 'bigint':
      return Number.isSafeInteger(value) ? null : 'an integer';
    case 'float':
      return typeof value === 'number' ? null : 'a number';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'true or false';
    case 'enum':
      return typeof value === 'string' && (f.values ?? []).includes(value)
        ? null
        : `one of the enum values (${(f.values ?? []).join(', ')})`;
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? null : 'a list of strings';
    case 'json':
      return null;
    case 'ref':
    case 'vector':
      return 'no default (not supported for this type)';
  }
}

/** Check one declared field; push errors with their document path. */
function checkField(path: string, entities: Record<string, EntityDocument>, name: string, f: FieldDocument, errors: ErrorDetail[], siblings: Record<string, FieldDocument> = {}) {
  const err = (sub: string, message: string) => errors.push({ path: sub ? `${path}.${sub}` : path, message });
  if (f.computed) {
    if (f.type !== 'float') err('type', 'a computed milliseconds_between field must have type float');
    for (const key of ['required', 'default', 'unique', 'searchable'] as const) {
      if (f[key] !== undefined) err(key, `a computed field cannot be ${key === 'default' ? 'given a default' : key}: the database computes it`);
    }
    f.computed.milliseconds_between.forEach((other, i) => {
      const o = siblings[other];
      if (!o) err(`computed.milliseconds_between.${i}`, `unknown field "${other}" of this entity`);
      else if (o.type !== 'datetime' || o.computed) err(`computed.milliseconds_between.${i}`, `"${other}" must be a (not computed) datetime field`);
    });
  }
  if (RESERVED_FIELDS.has(name)) err('', `"${name}" is built in or reserved; choose another field name`);
  if (f.type === 'enum' && !f.values) err('values', 'an enum field needs "values", e.g. [pending, running]');
  if (f.type !== 'enum' && f.values) err('values', `"values" applies only to enum fields (this field is ${f.type})`);
  if (f.type === 'enum' && f.values && new Set(f.values).size !== f.values.length) err('values', 'enum values must be distinct');
  if (f.type === 'vector' && f.dimensions === undefined) err('dimensions', 'a vector field needs "dimensions", e.g. 384');
  if (f.type !== 'vector' && f.dimensions !== undefined) err('dimensions', '"dimensions" applies only to vector fields');
  if (f.type !== 'vector' && f.metrics !== undefined) err('metrics', '"metrics" applies only to vector fields');
  if (f.metrics && new Set(f.metrics).size !== f.metrics.length) err('metrics', 'metrics must be distinct');
  if (f.searchable && f.type !== 'string' && f.type !== 'text') err('searchable', 'only string and text fields can be searchable');
  if (f.type === 'ref') {
    if (!f.to) err('to', 'a ref field needs "to": the entity it references');
    else if (f.to === 'project') err('to', 'every row already belongs to a project; do not declare a ref to project');
    else if (!entities[f.to]) err('to', `unknown entity "${f.to}"; declared entities: ${Object.keys(entities).join(', ')}`);
    if (f.on_delete === 'set null' && f.required) err('on_delete', '"set null" needs an optional field (required: false)');
    if (f.default !== undefined) err('default', 'a ref field cannot have a default');
  } else {
    for (const key of ['to', 'on_delete', 'inverse'] as const) {
      if (f[key] !== undefined) err(key, `"${key}" applies only to ref fields`);
    }
  }
  if (f.default !== undefined && f.type !== 'ref') {
    const expected = defaultMatchesType(f, f.default as JsonValue);
    if (expected) err('default', `expected ${expected} for a ${f.type} field`);
  }
}

function buildDataFields(entity: string, doc: EntityDocument): Field[] {
  const fields: Field[] = [
    builtinField('id', 'id', 'uuid'),
    builtinField('project', 'project_id', 'ref', { ref: { to: 'project', onDelete: 'cascade', inverse: '' } }),
  ];
  for (const [name, f] of Object.entries(doc.fields)) {
    const isRef = f.type === 'ref';
    fields.push({
      name,
      column: isRef ? refColumn(name) : name,
      type: f.type,
      required: f.required ?? false,
      ...(f.default !== undefined ? { default: f.default as JsonValue } : {}),
      unique: f.unique ?? false,
      index: f.index ?? false,
      searchable: f.searchable ?? false,
      ...(f.description !== undefined ? { description: f.description } : {}),
      ...(f.deprecated !== undefined ? { deprecated: f.deprecated } : {}),
      ...(f.values ? { values: f.values, enumName: enumName(entity, name) } : {}),
      ...(f.dimensions !== undefined ? { dimensions: f.dimensions } : {}),
      ...(f.computed ? { computed: { kind: 'milliseconds_between' as const, from: f.computed.milliseconds_between[0], to: f.computed.milliseconds_between[1] } } : {}),
      ...(f.type === 'vector' ? { metrics: f.metrics ?? ['cosine'] } : {}),
      ...(isRef && f.to
        ? { ref: { to: f.to, onDelete: f.on_delete ?? 'restrict', inverse: f.inverse ?? '' } }
        : {}),
      builtin: false,
    });
  }
  fields.push(builtinField('created_at', 'created_at', 'datetime'), builtinField('updated_at', 'updated_at', 'datetime'));
  return fields;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Resolve a structurally valid document into a Model.
 * @throws LatticeError BAD_USER_INPUT listing every semantic error with its document path.
 */
export function buildModel(doc: ParsedDocument): Model {
  const errors: ErrorDetail[] = [];
  const dataSchema = doc.schema ?? 'app';
  if (dataSchema === SYSTEM_SCHEMA || dataSchema.startsWith('pg_')) {
    errors.push({ path: 'schema', message: `"${dataSchema}" is reserved; use another data schema name (default app)` });
  }
  for (const [name, e] of Object.entries(doc.entities)) {
    if (RESERVED_ENTITIES.has(name)) errors.push({ path: `entities.${name}`, message: `"${name}" is built in or reserved; choose another entity name` });
    for (const [fname, f] of Object.entries(e.fields)) checkField(`entities.${name}.fields.${fname}`, doc.entities, fname, f, errors, e.fields);
  }
  if (Object.keys(doc.entities).length === 0) errors.push({ path: 'entities', message: 'declare at least one entity' });
  if (errors.length) throw modelError(errors);

  // Entities with their fields; relations are filled in below.
  const relations = new Map<string, Map<string, Relation>>();
  const entities = new Map<string, Entity>();
  const plurals = new Map<string, string>([['project', 'projects']]);
  for (const [name, e] of Object.entries(doc.entities)) plurals.set(name, e.plural ?? pluralize(name));

  const projectRelations = new Map<string, Relation>();
  relations.set('project', projectRelations);
  const projectFields: Field[] = [
    builtinField('id', 'id', 'uuid'),
    builtinField('name', 'name', 'string', { builtin: false, description: 'Name of the project.' }),
    builtinField('created_at', 'created_at', 'datetime'),
    builtinField('updated_at', 'updated_at', 'datetime'),
  ];
  entities.set('project', makeEntity('project', 'projects', projectFields, projectRelations, {
    description: 'A project: the tenant every row belongs to.',
    system: true,
    table: { schema: SYSTEM_SCHEMA, name: 'projects' },
    tenantColumn: 'id',
    indexes: [],
  }));

  for (const [name, e] of Object.entries(doc.entities)) {
    const rel = new Map<string, Relation>();
    relations.set(name, rel);
    const fields = buildDataFields(name, e);
    // Names of the indexes every table gets per field (src/db/migrate/tables.ts): not available to `indexes:`.
    const builtinIndexes = new Set(
      fields.filter((f) => f.column === 'created_at' || (f.type === 'ref' && !f.builtin && !f.unique) || (f.index && !f.unique)).map((f) => `${name}_${f.column}_idx`),
    );
    builtinIndexes.add(`${name}_search_vector_idx`);
    const indexes = resolveIndexes(`entities.${name}`, name, e.indexes ?? [], fields, builtinIndexes, errors);
    entities.set(name, makeEntity(name, plurals.get(name)!, fields, rel, {
      ...(e.description !== undefined ? { description: e.description } : {}),
      system: false,
      table: { schema: dataSchema, name },
      tenantColumn: 'project_id',
      indexes,
    }));
  }

  // Relations: project → every entity, and both directions of every declared ref.
  const addRelation = (path: string, r: Relation) => {
    const source = entities.get(r.source)!;
    const target = relations.get(r.source)!;
    const clash = source.columns.has(r.name) || target.has(r.name) ? r.name : null;
    if (clash) {
      errors.push({ path, message: `relation "${r.name}" on ${r.source} clashes with an existing field or relation; set "inverse:" to another name` });
      return;
    }
    target.set(r.name, r);
  };
  for (const [name] of Object.entries(doc.entities)) {
    addRelation(`entities.${name}`, { name: 'project', kind: 'to-one', source: name, target: 'project', sourceColumn: 'project_id', targetColumn: 'id', tenantScoped: false, via: { entity: name, field: 'project' } });
    addRelation(`entities.${name}`, { name: plurals.get(name)!, kind: 'to-many', source: 'project', target: name, sourceColumn: 'id', targetColumn: 'project_id', tenantScoped: false, via: { entity: name, field: 'project' } });
  }
  for (const [name, e] of Object.entries(doc.entities)) {
    for (const [fname, f] of Object.entries(e.fields)) {
      if (f.type !== 'ref' || !f.to) continue;
      const path = `entities.${name}.fields.${fname}`;
      const col = refColumn(fname);
      if (e.fields[col]) errors.push({ path, message: `the ref column "${col}" clashes with the declared field "${col}"` });
      addRelation(path, { name: fname, kind: 'to-one', source: name, target: f.to, sourceColumn: col, targetColumn: 'id', tenantScoped: true, via: { entity: name, field: fname } });
      const inverse = f.inverse ?? (f.unique ? name : plurals.get(name)!);
      addRelation(`${path}.inverse`, { name: inverse, kind: f.unique ? 'to-one' : 'to-many', source: f.to, target: name, sourceColumn: 'id', targetColumn: col, tenantScoped: true, via: { entity: name, field: fname } });
    }
  }
  // Generated shape names of to-many relations (trials_list, trials_connection) must not clash either.
  for (const [entityName, rels] of relations) {
    const e = entities.get(entityName)!;
    for (const r of rels.values()) {
      if (r.kind !== 'to-many') continue;
      const s = relationShapes(r.name);
      for (const n of [s.list, s.connection, s.aggregate]) {
        if (e.columns.has(n) || rels.has(n)) errors.push({ path: `entities.${r.via.entity}.fields.${r.via.field}`, message: `generated field "${n}" on ${entityName} clashes with a field or relation; rename one of them` });
      }
    }
  }

  // Root field names must be unique across entities and aliases.
  const roots = new Map<string, string>();
  for (const e of entities.values()) {
    const n = rootNames(e);
    for (const root of [n.one, n.many, n.list, n.connection, n.byIds, n.aggregate]) {
      const prev = roots.get(root);
      if (prev) errors.push({ path: e.system ? 'entities' : `entities.${e.name}`, message: `root field "${root}" of ${e.name} clashes with one of ${prev}; set "plural:" to disambiguate` });
      roots.set(root, e.name);
    }
  }
  const aliases: RootAlias[] = [];
  for (const [aname, a] of Object.entries(doc.aliases ?? {})) {
    const path = `aliases.${aname}`;
    const target = entities.get(a.entity);
    if (!target) {
      errors.push({ path: `${path}.entity`, message: `unknown entity "${a.entity}"` });
      continue;
    }
    if (roots.has(aname)) errors.push({ path, message: `"${aname}" clashes with a generated root field of ${roots.get(aname)}` });
    a.args.forEach((col, i) => {
      if (!target.columns.has(col)) errors.push({ path: `${path}.args.${i}`, message: `${a.entity} has no column "${col}"; columns: ${[...target.columns.keys()].join(', ')}` });
    });
    roots.set(aname, `alias ${aname}`);
    aliases.push({ name: aname, entity: a.entity, args: a.args, ...(a.description !== undefined ? { description: a.description } : {}) });
  }
  if (errors.length) throw modelError(errors);

  const document = JSON.parse(JSON.stringify(doc)) as JsonValue;
  return Object.freeze({
    name: doc.name,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    naming: doc.naming ?? 'snake_case',
    searchConfig: doc.search_config ?? 'english',
    dataSchema,
    systemSchema: SYSTEM_SCHEMA,
    entities,
    aliases,
    document,
    hash: createHash('sha256').update(canonicalJson(document)).digest('hex'),
  });
}

function makeEntity(
  name: string,
  plural: string,
  fields: Field[],
  relations: Map<string, Relation>,
  rest: Pick<Entity, 'system' | 'table' | 'tenantColumn' | 'indexes'> & { description?: string },
): Entity {
  return {
    name,
    plural,
    typeName: typeName(name),
    ...rest,
    fields,
    columns: new Map(fields.map((f) => [f.column, f])),
    relations,
  };
}

/** A model validation error: BAD_USER_INPUT whose message lists the first problems and whose details list all. */
export function modelError(details: readonly ErrorDetail[]): LatticeError {
  const lines = details.slice(0, 10).map((d) => `  ${d.path}: ${d.message}`);
  const more = details.length > 10 ? `\n  ... and ${details.length - 10} more` : '';
  return badInput(`Invalid model (${details.length} problem${details.length === 1 ? '' : 's'}):\n${lines.join('\n')}${more}`, details);
}
