import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LatticeError } from '../../src/errors.js';
import { listPresets, loadModelDocument, loadModelFile, loadPreset } from '../../src/model/load.js';
import { camelCase, fieldName, pluralize, rootNames } from '../../src/model/inflection.js';

function problems(doc: unknown): Array<{ path: string; message: string }> {
  try {
    loadModelDocument(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(LatticeError);
    expect((err as LatticeError).code).toBe('BAD_USER_INPUT');
    return [...(err as LatticeError).details];
  }
  throw new Error('expected the model to be rejected');
}

describe('experiments preset', () => {
  it('resolves entities, built-in columns, relations both ways and the trial_metrics alias', async () => {
    const m = await loadPreset('experiments');
    expect([...m.entities.keys()]).toEqual(['project', 'experiment', 'trial', 'run', 'metric']);
    const trial = m.entities.get('trial')!;
    expect([...trial.columns.keys()]).toEqual([
      'id', 'project_id', 'experiment_id', 'name', 'description', 'meta', 'params', 'duration', 'status', 'created_at', 'updated_at',
    ]);
    expect(trial.columns.get('duration')!.type).toBe('float');
    expect(trial.columns.get('status')).toMatchObject({ type: 'enum', enumName: 'trial_status', default: 'pending' });
    expect(trial.relations.get('experiment')).toMatchObject({ kind: 'to-one', target: 'experiment', sourceColumn: 'experiment_id', targetColumn: 'id', tenantScoped: true });
    expect(m.entities.get('experiment')!.relations.get('trials')).toMatchObject({ kind: 'to-many', target: 'trial', sourceColumn: 'id', targetColumn: 'experiment_id' });
    expect(m.entities.get('project')!.relations.get('metrics')).toMatchObject({ kind: 'to-many', target: 'metric', targetColumn: 'project_id', tenantScoped: false });
    expect(m.entities.get('metric')!.columns.get('run_id')!.required).toBe(false);
    expect(m.aliases).toEqual([{ name: 'trial_metrics', entity: 'metric', args: ['trial_id'], description: expect.any(String) }]);
    expect(m.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(listPresets()).toContain('experiments');
  });

  it('hashes canonically: key order does not change the hash', () => {
    const a = loadModelDocument({ name: 'x', entities: { a: { fields: { n: { type: 'int', required: true } } } } });
    const b = loadModelDocument({ entities: { a: { fields: { n: { required: true, type: 'int' } } } }, name: 'x' });
    expect(a.hash).toBe(b.hash);
  });
});

describe('model validation errors name the path', () => {
  it('reports unknown ref targets, missing enum values, bad defaults and unknown keys', () => {
    const p = problems({
      name: 'x',
      entities: {
        trial: {
          fields: {
            experiment: { type: 'ref', to: 'experimnt' },
            s: { type: 'enum' },
            n: { type: 'int', default: 'seven' },
            t: { type: 'strin' },
            u: { type: 'string', colour: 'red' },
          },
        },
      },
    });
    const paths = p.map((d) => d.path);
    expect(paths).toContain('entities.trial.fields.t.type');
    expect(paths).toContain('entities.trial.fields.u');
    expect(p.find((d) => d.path === 'entities.trial.fields.u')!.message).toContain('colour');
  });

  it('reports semantic problems after structure passes', () => {
    const p = problems({
      name: 'x',
      entities: {
        trial: {
          fields: {
            experiment: { type: 'ref', to: 'experimnt' },
            s: { type: 'enum' },
            n: { type: 'int', default: 'seven' },
            project_id: { type: 'uuid' },
            v: { type: 'vector' },
            body: { type: 'int', searchable: true },
          },
        },
      },
    });
    expect(p).toEqual(
      expect.arrayContaining([
        { path: 'entities.trial.fields.experiment.to', message: expect.stringContaining('unknown entity "experimnt"') },
        { path: 'entities.trial.fields.s.values', message: expect.stringContaining('needs "values"') },
        { path: 'entities.trial.fields.n.default', message: expect.stringContaining('integer') },
        { path: 'entities.trial.fields.project_id', message: expect.stringContaining('built in') },
        { path: 'entities.trial.fields.v.dimensions', message: expect.any(String) },
        { path: 'entities.trial.fields.body.searchable', message: expect.any(String) },
      ]),
    );
  });

  it('refuses clashing inverse relations and tells how to fix them', () => {
    const p = problems({
      name: 'x',
      entities: {
        person: { fields: { name: { type: 'string' } } },
        task: { fields: { owner: { type: 'ref', to: 'person' }, reviewer: { type: 'ref', to: 'person' } } },
      },
    });
    expect(p[0]).toEqual({ path: 'entities.task.fields.reviewer.inverse', message: expect.stringContaining('inverse') });
    const ok = loadModelDocument({
      name: 'x',
      entities: {
        person: { fields: { name: { type: 'string' } } },
        task: { fields: { owner: { type: 'ref', to: 'person' }, reviewer: { type: 'ref', to: 'person', inverse: 'reviewed_tasks' } } },
      },
    });
    expect([...ok.entities.get('person')!.relations.keys()]).toEqual(['project', 'tasks', 'reviewed_tasks']);
  });

  it('refuses reserved entity names and unknown alias columns', () => {
    const p = problems({
      name: 'x',
      entities: { project: { fields: {} }, item: { fields: { n: { type: 'int' } } } },
      aliases: { item_by_n: { entity: 'item', args: ['m'] } },
    });
    expect(p.map((d) => d.path)).toEqual(expect.arrayContaining(['entities.project']));
  });

  it('reserves the full-text column and the REST list parameters as field names', () => {
    const names = ['search_vector', 'filter', 'search', 'nearest', 'order_by', 'limit', 'offset'];
    const p = problems({ name: 'x', entities: { item: { fields: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) } } });
    expect(p.map((d) => d.path).sort()).toEqual(names.map((n) => `entities.item.fields.${n}`).sort());
    expect(p.every((d) => /reserved/.test(d.message))).toBe(true);
  });

  it('a unique ref gives a one-to-one inverse', () => {
    const m = loadModelDocument({
      name: 'x',
      entities: { record: { fields: { title: { type: 'string' } } }, feature: { fields: { record: { type: 'ref', to: 'record', unique: true } } } },
    });
    expect(m.entities.get('record')!.relations.get('feature')).toMatchObject({ kind: 'to-one', target: 'feature', targetColumn: 'record_id' });
  });
});

describe('model files', () => {
  it('loads YAML and reports parse errors with the file name and line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lattice-model-'));
    const good = path.join(dir, 'm.yaml');
    writeFileSync(good, 'name: shop\nentities:\n  order:\n    fields:\n      total: { type: decimal }\n');
    expect((await loadModelFile(good)).entities.get('order')!.columns.get('total')!.type).toBe('decimal');
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: shop\nentities: [\n');
    await expect(loadModelFile(bad)).rejects.toThrow(/bad\.yaml.*line/);
    await expect(loadPreset('nope')).rejects.toThrow(/available presets: .*experiments/);
  });
});

describe('inflection', () => {
  it('pluralises the last word and camel-cases', () => {
    expect(pluralize('metric')).toBe('metrics');
    expect(pluralize('experiment_category')).toBe('experiment_categories');
    expect(camelCase('experiment_id')).toBe('experimentId');
    expect(fieldName('snake_case', 'total_count')).toBe('total_count');
    expect(fieldName('graphql-default', 'total_count')).toBe('totalCount');
    expect(rootNames({ name: 'trial', plural: 'trials', typeName: 'Trial' })).toMatchObject({ byIds: 'trials_by_ids', connection: 'trial_connection', list: 'trial_list' });
  });
});
