/**
 * Coerced filter input (`ExperimentFilter` values) → plan `Filter` (SPEC G-4).
 *
 * Input field names are mapped back to columns, relations and operators through the schema metadata, so
 * naming (`snake_case` / camelCase) never matters here. Several conditions in one object are combined with
 * AND. An empty object means "no condition" (`{ kind: 'and', items: [] }`, which the SQL layer renders TRUE);
 * `or: []` renders FALSE.
 */
import { GraphQLInputObjectType, getNamedType, type ASTNode } from 'graphql';
import type { Filter } from '../../query/plan.js';
import { requestError } from '../errors.js';
import { metaOf, type FilterFieldMeta } from '../schema/meta.js';

type InputObject = Readonly<Record<string, unknown>>;

function inputType(t: unknown): GraphQLInputObjectType {
  const named = getNamedType(t as Parameters<typeof getNamedType>[0]);
  if (!(named instanceof GraphQLInputObjectType)) throw new Error(`Expected an input object type, got ${String(named)}`);
  return named;
}

/**
 * The name of the `is_null` operator in this schema's naming (`isNull` under graphql-default), for messages:
 * looked up on an operator input, or on the operator input of any field of an entity filter.
 */
function isNullName(type: GraphQLInputObjectType): string {
  const fields = Object.values(type.getFields());
  if (fields.some((f) => f.name === 'isNull')) return 'isNull';
  for (const f of fields) {
    const named = getNamedType(f.type);
    if (named instanceof GraphQLInputObjectType && metaOf<FilterFieldMeta>(f)?.kind === 'column') return isNullName(named);
  }
  return 'is_null';
}

/** Combine filters with AND, flattening trivial cases. */
export function andFilters(items: readonly (Filter | undefined)[]): Filter {
  const present = items.filter((f): f is Filter => f !== undefined);
  return present.length === 1 ? present[0] : { kind: 'and', items: present };
}

/** True when a filter is an AND of nothing (no condition). */
export function isEmptyFilter(f: Filter | undefined): boolean {
  return f === undefined || (f.kind === 'and' && f.items.length === 0);
}

/**
 * Convert one coerced `<Type>Filter` value.
 * @param type the `<Type>Filter` input type
 * @param value the coerced value (from graphql-js `getArgumentValues`)
 * @param path where the value sits, for messages (`experiments.filter.and[1].name`)
 * @param node the argument's AST node, for error locations
 * @throws GraphQLRequestError BAD_USER_INPUT for a null operand (use `is_null`) or null combinator
 */
export function convertFilter(type: GraphQLInputObjectType, value: InputObject, path: string, node?: ASTNode): Filter {
  const fields = type.getFields();
  const items: Filter[] = [];
  for (const [key, v] of Object.entries(value)) {
    const field = fields[key];
    const meta = metaOf<FilterFieldMeta>(field);
    const where = `${path}.${key}`;
    if (!field || !meta) throw requestError('BAD_USER_INPUT', `${where}: unknown filter field.`, node);
    if (v === null || v === undefined) {
      throw requestError('BAD_USER_INPUT', `${where} is null; leave it out, or use { ${isNullName(type)}: true } on a field to match null values.`, node);
    }
    switch (meta.kind) {
      case 'and':
      case 'or': {
        const list = v as InputObject[];
        items.push({ kind: meta.kind, items: list.map((x, i) => convertFilter(type, x, `${where}[${i}]`, node)) });
        break;
      }
      case 'not':
        items.push({ kind: 'not', item: convertFilter(type, v as InputObject, where, node) });
        break;
      case 'column':
        items.push(...convertOperators(inputType(field.type), meta.column, meta.type, v as InputObject, where, node));
        break;
      case 'relation': {
        if (meta.relationKind === 'to-one') {
          items.push({ kind: 'related', relation: meta.relation, mode: 'is', filter: convertFilter(inputType(field.type), v as InputObject, where, node) });
          break;
        }
        const quantifiers = inputType(field.type);
        for (const [qk, qv] of Object.entries(v as InputObject)) {
          const qmeta = metaOf<FilterFieldMeta>(quantifiers.getFields()[qk]);
          if (!qmeta || qmeta.kind !== 'quantifier') throw requestError('BAD_USER_INPUT', `${where}.${qk}: unknown quantifier.`, node);
          if (qv === null) throw requestError('BAD_USER_INPUT', `${where}.${qk} is null; leave it out.`, node);
          const target = inputType(quantifiers.getFields()[qk].type);
          items.push({ kind: 'related', relation: meta.relation, mode: qmeta.mode, filter: convertFilter(target, qv as InputObject, `${where}.${qk}`, node) });
        }
        break;
      }
      default:
        throw requestError('BAD_USER_INPUT', `${where}: not a filter field.`, node);
    }
  }
  return andFilters(items);
}

function convertOperators(
  opType: GraphQLInputObjectType,
  column: string,
  type: Extract<Filter, { kind: 'compare' }>['type'],
  value: InputObject,
  path: string,
  node?: ASTNode,
): Filter[] {
  const out: Filter[] = [];
  const fields = opType.getFields();
  for (const [key, operand] of Object.entries(value)) {
    const meta = metaOf<FilterFieldMeta>(fields[key]);
    if (!meta || meta.kind !== 'op') throw requestError('BAD_USER_INPUT', `${path}.${key}: unknown operator.`, node);
    if (operand === null || operand === undefined) {
      const hint = meta.op === 'is_null' ? 'use true or false' : `use { ${isNullName(opType)}: true } to match null values`;
      throw requestError('BAD_USER_INPUT', `${path}.${key} is null; ${hint}.`, node);
    }
    out.push({ kind: 'compare', column, type, op: meta.op, value: operand });
  }
  return out;
}
