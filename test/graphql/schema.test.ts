import { describe, expect, it, beforeAll } from 'vitest';
import {
  getNamedType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLNonNull,
  GraphQLObjectType,
  graphql,
  printSchema,
  type GraphQLSchema,
} from 'graphql';
import { buildSchema, schemaFor } from '../../src/graphql/schema/build.js';
import { loadModelDocument, loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';

let model: Model;
let schema: GraphQLSchema;

beforeAll(async () => {
  model = await loadPreset('experiments');
  schema = buildSchema(model);
});

function obj(name: string): GraphQLObjectType {
  const t = schema.getType(name);
  if (!(t instanceof GraphQLObjectType)) throw new Error(`${name} is not an object type`);
  return t;
}
function input(name: string): GraphQLInputObjectType {
  const t = schema.getType(name);
  if (!(t instanceof GraphQLInputObjectType)) throw new Error(`${name} is not an input type`);
  return t;
}
const argNames = (type: string, field: string) => obj(type).getFields()[field].args.map((a) => a.name);

describe('buildSchema (experiments preset)', () => {
  it('generates the root fields of every entity, project included, and the alias', () => {
    const q = Object.keys(obj('Query').getFields());
    for (const [one, many] of [['project', 'projects'], ['experiment', 'experiments'], ['trial', 'trials'], ['run', 'runs'], ['metric', 'metrics']]) {
      expect(q).toEqual(expect.arrayContaining([one, many, `${one}_list`, `${one}_connection`, `${many}_by_ids`]));
    }
    expect(q).toContain('trial_metrics');
    expect(String(obj('Query').getFields().trial_metrics.type)).toBe('[Metric!]!');
    expect(argNames('Query', 'trial_metrics')).toEqual(['trial_id', 'filter', 'order_by', 'limit', 'offset']);
    expect(String(obj('Query').getFields().trial_metrics.args[0].type)).toBe('ID!');
  });

  it('types root fields as in SPEC G-2', () => {
    const f = obj('Query').getFields();
    expect(String(f.experiment.type)).toBe('Experiment');
    expect(String(f.experiment.args[0].type)).toBe('ID!');
    expect(String(f.experiments.type)).toBe('[Experiment!]!');
    expect(String(f.experiment_list.type)).toBe('ExperimentList!');
    expect(String(f.experiment_connection.type)).toBe('ExperimentConnection!');
    expect(String(f.experiments_by_ids.type)).toBe('[Experiment]!');
    expect(String(f.experiments_by_ids.args[0].type)).toBe('[ID!]!');
    expect(argNames('Query', 'trials')).toEqual(['filter', 'order_by', 'limit', 'offset', 'project_id', 'experiment_id']);
    expect(argNames('Query', 'trial_list')).toEqual(['filter', 'order_by', 'limit', 'offset', 'project_id', 'experiment_id']);
    expect(String(f.trial_list.args.find((a) => a.name === 'limit')?.type)).toBe('Int!');
    expect(argNames('Query', 'trial_connection')).toEqual(['filter', 'order_by', 'first', 'after', 'last', 'before', 'project_id', 'experiment_id']);
  });

  it('maps columns to scalar fields with the right types', () => {
    const t = obj('Trial').getFields();
    expect(String(t.id.type)).toBe('ID!');
    expect(String(t.project_id.type)).toBe('ID!');
    expect(String(t.experiment_id.type)).toBe('ID!');
    expect(String(t.name.type)).toBe('String!');
    expect(String(t.meta.type)).toBe('JSON');
    expect(String(t.duration.type)).toBe('Float');
    expect(String(t.status.type)).toBe('TrialStatus');
    expect(String(t.created_at.type)).toBe('DateTime!');
    expect(String(obj('Metric').getFields().step.type)).toBe('Int');
    expect(String(obj('Metric').getFields().run_id.type)).toBe('ID');
    const status = schema.getType('TrialStatus') as GraphQLEnumType;
    expect(status.getValues().map((v) => v.name)).toEqual(['pending', 'running', 'completed', 'cancelled', 'failed']);
  });

  it('has relations both ways, to-many in four shapes with the list arguments', () => {
    const t = obj('Trial').getFields();
    expect(String(t.experiment.type)).toBe('Experiment!');
    expect(String(t.runs.type)).toBe('[Run!]!');
    expect(String(t.runs_list.type)).toBe('RunList!');
    expect(String(t.runs_connection.type)).toBe('RunConnection!');
    expect(String(t.runs_aggregate.type)).toBe('[RunAggregate!]!');
    expect(argNames('Trial', 'runs_aggregate')).toEqual(['filter', 'group_by', 'order_by', 'limit', 'project_id', 'trial_id']);
    expect(argNames('Trial', 'runs')).toEqual(['filter', 'order_by', 'limit', 'offset', 'project_id', 'trial_id']);
    expect(String(obj('Metric').getFields().run.type)).toBe('Run'); // optional ref → nullable
    const p = obj('Project').getFields();
    for (const r of ['experiments', 'trials', 'runs', 'metrics']) expect(p[r]).toBeDefined();
  });

  it('builds list, connection, edge and page-info types', () => {
    expect(Object.keys(obj('ExperimentList').getFields())).toEqual(['total_count', 'items']);
    expect(String(obj('ExperimentList').getFields().items.type)).toBe('[Experiment!]!');
    expect(Object.keys(obj('ExperimentConnection').getFields())).toEqual(['edges', 'nodes', 'page_info', 'total_count']);
    expect(String(obj('ExperimentEdge').getFields().cursor.type)).toBe('String!');
    expect(String(obj('ExperimentEdge').getFields().node.type)).toBe('Experiment!');
    expect(Object.keys(obj('PageInfo').getFields())).toEqual(['has_next_page', 'has_previous_page', 'start_cursor', 'end_cursor']);
  });

  it('builds filters with typed operators, logic and relation filters', () => {
    const f = input('TrialFilter').getFields();
    expect(getNamedType(f.name.type).name).toBe('StringFilter');
    expect(getNamedType(f.duration.type).name).toBe('FloatFilter');
    expect(getNamedType(f.status.type).name).toBe('TrialStatusFilter');
    expect(getNamedType(f.meta.type).name).toBe('JSONFilter');
    expect(getNamedType(f.id.type).name).toBe('IDFilter');
    expect(getNamedType(f.created_at.type).name).toBe('DateTimeFilter');
    expect(getNamedType(f.experiment.type).name).toBe('ExperimentFilter');
    expect(getNamedType(f.runs.type).name).toBe('RunToManyFilter');
    expect(Object.keys(input('RunToManyFilter').getFields())).toEqual(['some', 'every', 'none']);
    expect(String(f.and.type)).toBe('[TrialFilter!]');
    expect(String(f.or.type)).toBe('[TrialFilter!]');
    expect(String(f.not.type)).toBe('TrialFilter');
    expect(Object.keys(input('StringFilter').getFields())).toEqual(
      ['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'is_null', 'like', 'ilike', 'starts_with', 'contains'],
    );
    expect(Object.keys(input('JSONFilter').getFields())).toEqual(['eq', 'ne', 'in', 'not_in', 'is_null', 'contains', 'has_key']);
    expect(String(input('JSONFilter').getFields().in.type)).toBe('[JSON!]');
    expect(Object.keys(input('IDFilter').getFields())).toEqual(['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'is_null']);
    expect(String(input('IntFilter').getFields().in.type)).toBe('[Int!]');
    expect(String(input('TrialStatusFilter').getFields().eq.type)).toBe('TrialStatus');
  });

  it('builds order_by inputs over orderable columns and OrderDirection', () => {
    const o = Object.keys(input('TrialOrderBy').getFields());
    expect(o).toContain('name');
    expect(o).toContain('created_at');
    expect(o).not.toContain('meta'); // json is not orderable
    expect((schema.getType('OrderDirection') as GraphQLEnumType).getValues().map((v) => v.name)).toEqual(
      ['ASC', 'DESC', 'ASC_NULLS_FIRST', 'ASC_NULLS_LAST', 'DESC_NULLS_FIRST', 'DESC_NULLS_LAST'],
    );
    expect(String(obj('Query').getFields().trials.args[1].type)).toBe('[TrialOrderBy!]');
  });

  it('prints as SDL and answers introspection', async () => {
    const sdl = printSchema(schema);
    expect(sdl).toContain('type Experiment {');
    expect(sdl).toContain('type Query {');
    expect(sdl).toContain('trial_metrics(');
    expect(sdl).toMatch(/scalar DateTime/);
    const res = await graphql({ schema, source: '{ __type(name: "Run") { fields { name } } }' });
    expect(res.errors).toBeUndefined();
    expect((res.data?.__type as { fields: { name: string }[] }).fields.map((f) => f.name)).toContain('trial');
  });

  it('caches the schema per model object', () => {
    expect(schemaFor(model)).toBe(schemaFor(model));
  });

  it('camel-cases fields and arguments under naming: graphql-default', () => {
    const m = loadModelDocument({
      name: 'camel',
      naming: 'graphql-default',
      entities: {
        experiment_group: { fields: { display_name: { type: 'string' } } },
        trial: { fields: { experiment_group: { type: 'ref', to: 'experiment_group' }, started_at: { type: 'datetime' } } },
      },
    });
    const s = buildSchema(m);
    const q = (s.getType('Query') as GraphQLObjectType).getFields();
    expect(q.experimentGroupList).toBeDefined();
    expect(q.experimentGroupConnection).toBeDefined();
    expect(q.trials.args.map((a) => a.name)).toEqual(['filter', 'orderBy', 'limit', 'offset', 'projectId', 'experimentGroupId']);
    const trial = (s.getType('Trial') as GraphQLObjectType).getFields();
    expect(trial.startedAt).toBeDefined();
    expect(trial.experimentGroupId).toBeDefined();
    expect(((s.getType('ExperimentGroup') as GraphQLObjectType).getFields().trialsConnection)).toBeDefined();
    expect(Object.keys((s.getType('PageInfo') as GraphQLObjectType).getFields())).toContain('hasNextPage');
    expect(Object.keys((s.getType('StringFilter') as GraphQLInputObjectType).getFields())).toContain('startsWith');
    expect(q.trial.type).not.toBeInstanceOf(GraphQLNonNull);
  });
});
