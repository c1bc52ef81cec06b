/**
 * What a new model version changes, in terms a person reviews before applying it (SPEC M-7): entities and
 * fields added, removed or changed, enum values, declared indexes. Pure: compares two `Model`s. The database
 * side (which statements run, what the tables really hold) is `migrate`'s; this list is what
 * `lattice model diff`, `POST /api/v1/model/diff` and `PUT /api/v1/model` show next to the statements.
 */
import type { Entity, Field, Model } from '../model/types.js';

/** One change, e.g. `{ op: 'add', path: 'entities.trial.fields.seed', message: 'new field seed (int)', destructive: false }`. */
export interface ModelChange {
  readonly op: 'add' | 'remove' | 'change';
  /** Document path of what changes: `entities.<entity>`, `entities.<entity>.fields.<field>`, `… .indexes.<name>`. */
  readonly path: string;
  readonly message: string;
  /** Drops or converts stored data (refused unless `allow_destructive`). */
  readonly destructive: boolean;
}

/** Human type of a field: `int`, `ref → experiment`, `vector(384)`, `enum(a, b)`. */
function typeText(f: Field): string {
  if (f.type === 'ref') return `ref → ${f.ref!.to}`;
  if (f.type === 'vector') return `vector(${f.dimensions})`;
  return f.type;
}

/** The SQL-relevant type identity of a field (a change here converts the column). */
function storageType(f: Field): string {
  if (f.type === 'ref') return 'ref';
  if (f.type === 'vector') return `vector(${f.dimensions})`;
  return f.type;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function fieldChanges(entity: Entity, before: Field, after: Field): ModelChange[] {
  const path = `entities.${entity.name}.fields.${after.name}`;
  const out: ModelChange[] = [];
  const change = (message: string, destructive = false) => out.push({ op: 'change', path, message, destructive });
  if (storageType(before) !== storageType(after)) {
    change(`type ${typeText(before)} → ${typeText(after)} (stored values converted)`, true);
  } else if (before.type === 'ref' && after.type === 'ref' && before.ref!.to !== after.ref!.to) {
    change(`reference target ${before.ref!.to} → ${after.ref!.to}`);
  }
  if (before.type === 'enum' && after.type === 'enum') {
    const removed = (before.values ?? []).filter((v) => !(after.values ?? []).includes(v));
    const added = (after.values ?? []).filter((v) => !(before.values ?? []).includes(v));
    if (added.length) change(`enum value(s) added: ${added.join(', ')}`);
    if (removed.length) change(`enum value(s) removed: ${removed.join(', ')} (rows holding them make the change fail)`, true);
  }
  if (before.required !== after.required) change(after.required ? 'now required' : 'now optional');
  if (!same(before.default, after.default)) change(`default ${JSON.stringify(before.default ?? null)} → ${JSON.stringify(after.default ?? null)}`);
  if (before.unique !== after.unique) change(after.unique ? 'now unique' : 'no longer unique');
  if (before.searchable !== after.searchable) change(after.searchable ? 'now searchable' : 'no longer searchable');
  if (before.ref && after.ref && before.ref.onDelete !== after.ref.onDelete) change(`on_delete ${before.ref.onDelete} → ${after.ref.onDelete}`);
  return out;
}

/**
 * The changes from `running` to `next`, entities in `next`'s order, removed ones last.
 * @returns [] when the models describe the same tables and API
 */
export function diffModels(running: Model, next: Model): ModelChange[] {
  const out: ModelChange[] = [];
  for (const entity of next.entities.values()) {
    if (entity.system) continue;
    const before = running.entities.get(entity.name);
    if (!before) {
      const fields = entity.fields.filter((f) => !f.builtin).map((f) => f.name);
      out.push({ op: 'add', path: `entities.${entity.name}`, message: `new entity ${entity.name} (${fields.join(', ')})`, destructive: false });
      continue;
    }
    for (const f of entity.fields) {
      if (f.builtin) continue;
      const old = before.fields.find((o) => o.name === f.name);
      if (!old) out.push({ op: 'add', path: `entities.${entity.name}.fields.${f.name}`, message: `new field ${f.name} (${typeText(f)}${f.required ? ', required' : ''})`, destructive: false });
      else out.push(...fieldChanges(entity, old, f));
    }
    for (const old of before.fields) {
      if (old.builtin || entity.fields.some((f) => f.name === old.name)) continue;
      out.push({ op: 'remove', path: `entities.${entity.name}.fields.${old.name}`, message: `field ${old.name} removed: column ${old.column} and its values dropped`, destructive: true });
    }
    const oldIndexes = new Set(before.indexes.map((i) => i.name));
    const newIndexes = new Set(entity.indexes.map((i) => i.name));
    for (const name of newIndexes) if (!oldIndexes.has(name)) out.push({ op: 'add', path: `entities.${entity.name}.indexes.${name}`, message: `new index ${name}`, destructive: false });
    for (const name of oldIndexes) if (!newIndexes.has(name)) out.push({ op: 'remove', path: `entities.${entity.name}.indexes.${name}`, message: `index ${name} dropped`, destructive: false });
  }
  for (const entity of running.entities.values()) {
    if (entity.system || next.entities.has(entity.name)) continue;
    out.push({ op: 'remove', path: `entities.${entity.name}`, message: `entity ${entity.name} removed: its table and rows dropped`, destructive: true });
  }
  return out;
}
