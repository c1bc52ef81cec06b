/**
 * Inflection: the one place generated names come from (SPEC G-1, GUIDE "Model is data").
 *
 * Model names are snake_case and singular (`trial`, `experiment_id`). From them we derive plurals
 * (`trials`), GraphQL type names (`Trial`, `TrialFilter`) and, under `naming: graphql-default`, camelCase
 * field and argument names (`experimentId`). Pluralisation uses the `pluralize` library (the rules
 * PostGraphile and Rails use), applied to the last snake_case word only (`metric_value` → `metric_values`).
 */
import pluralizeLib from 'pluralize';

export type Naming = 'snake_case' | 'graphql-default';

/** `experiment_run` → `experiment_runs` (pluralises the last word). */
export function pluralize(name: string): string {
  const parts = name.split('_');
  const last = parts.pop() ?? '';
  parts.push(pluralizeLib.plural(last));
  return parts.join('_');
}

/** `experiment_run` → `ExperimentRun`. */
export function pascalCase(name: string): string {
  return name
    .split('_')
    .filter((p) => p.length > 0)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}

/** `experiment_id` → `experimentId`. */
export function camelCase(name: string): string {
  const pascal = pascalCase(name);
  return pascal.length === 0 ? pascal : pascal[0].toLowerCase() + pascal.slice(1);
}

/** A GraphQL field or argument name from a snake_case name, per the model's naming. */
export function fieldName(naming: Naming, snake: string): string {
  return naming === 'graphql-default' ? camelCase(snake) : snake;
}

/** GraphQL object type name of an entity: `trial` → `Trial`. */
export function typeName(entity: string): string {
  return pascalCase(entity);
}

/** Enum type name for an enum field: (`trial`, `status`) → snake `trial_status` (SQL) / `TrialStatus` (GraphQL). */
export function enumName(entity: string, field: string): string {
  return `${entity}_${field}`;
}

/** Column holding a ref field: `experiment` → `experiment_id`. */
export function refColumn(field: string): string {
  return `${field}_id`;
}

/**
 * Names of the generated root fields and types of one entity, in snake_case (pass each through
 * `fieldName` for the model's naming). The entity's plural comes from the Model (overridable).
 */
export function rootNames(entity: { name: string; plural: string; typeName: string }) {
  return {
    one: entity.name, // experiment(id)
    many: entity.plural, // experiments(...)
    list: `${entity.name}_list`, // experiment_list(limit, offset) → { total_count, items }
    connection: `${entity.name}_connection`, // Relay connection
    byIds: `${entity.plural}_by_ids`,
    aggregate: `${entity.name}_aggregate`,
    listType: `${entity.typeName}List`,
    connectionType: `${entity.typeName}Connection`,
    edgeType: `${entity.typeName}Edge`,
    filterType: `${entity.typeName}Filter`,
    orderByType: `${entity.typeName}OrderBy`,
  };
}

/** Names of the shapes of a to-many relation field: `trials`, `trials_list`, `trials_connection`. */
export function relationShapes(relationName: string) {
  return {
    many: relationName,
    list: `${relationName}_list`,
    connection: `${relationName}_connection`,
    aggregate: `${relationName}_aggregate`,
  };
}
