/**
 * Model documents for the run-time model change tests: a small tracker (`board` → `task`) and its variants.
 */
import { loadModelDocument } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';

/** Version 1: boards and tasks with an enum status and an int estimate. */
export function trackerDoc(): Record<string, unknown> {
  return {
    name: 'tracker',
    entities: {
      board: { fields: { title: { type: 'string', required: true } } },
      task: {
        fields: {
          board: { type: 'ref', to: 'board', required: true, on_delete: 'cascade' },
          name: { type: 'string', required: true },
          status: { type: 'enum', values: ['open', 'doing', 'done', 'dropped'], default: 'open' },
          estimate: { type: 'int' },
        },
      },
    },
  };
}

/** Version 2 (additive): `task.priority` and a new entity `label` referencing tasks. */
export function trackerDocAdded(): Record<string, unknown> {
  const doc = trackerDoc() as { entities: Record<string, { fields: Record<string, unknown> }> };
  doc.entities.task.fields.priority = { type: 'int', default: 3 };
  doc.entities.label = { fields: { task: { type: 'ref', to: 'task', required: true, on_delete: 'cascade' }, text: { type: 'string', required: true } } };
  return doc;
}

export function trackerModel(doc: unknown = trackerDoc()): Model {
  return loadModelDocument(doc);
}
