/**
 * Mapping of model field types to GraphQL scalar types (SPEC M-2 → G-9).
 */
import {
  GraphQLBoolean,
  GraphQLFloat,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import type { Field } from '../../model/types.js';
import type { TypeRegistry } from './registry.js';
import {
  GraphQLBigInt,
  GraphQLDate,
  GraphQLDateTime,
  GraphQLDecimal,
  GraphQLJSON,
  GraphQLUUID,
  GraphQLUuidID,
} from './scalars.js';

/** True for columns typed `ID` in GraphQL: the primary key and every foreign key. */
export function isIdColumn(field: Field): boolean {
  return field.column === 'id' || field.type === 'ref';
}

/**
 * The nullable GraphQL type of one value of a field (`String`, `ID`, `TrialStatus`, `[String!]`).
 * Usable both for output and input (all are scalars, enums or lists of them).
 */
export function baseType(reg: TypeRegistry, field: Field): GraphQLOutputType & GraphQLInputType {
  if (isIdColumn(field)) return GraphQLUuidID;
  switch (field.type) {
    case 'string':
    case 'text':
      return GraphQLString;
    case 'int':
      return GraphQLInt;
    case 'bigint':
      return GraphQLBigInt;
    case 'float':
      return GraphQLFloat;
    case 'decimal':
      return GraphQLDecimal;
    case 'boolean':
      return GraphQLBoolean;
    case 'datetime':
      return GraphQLDateTime;
    case 'date':
      return GraphQLDate;
    case 'uuid':
      return GraphQLUUID;
    case 'json':
      return GraphQLJSON;
    case 'enum':
      return reg.enumType(field);
    case 'string[]':
      return new GraphQLList(new GraphQLNonNull(GraphQLString));
    case 'vector':
      return new GraphQLList(new GraphQLNonNull(GraphQLFloat));
    case 'ref':
      return GraphQLUuidID;
  }
}

/** Output type of a column: the base type, non-null when the field is required. */
export function columnOutputType(reg: TypeRegistry, field: Field): GraphQLOutputType {
  const t = baseType(reg, field);
  return field.required ? new GraphQLNonNull(t) : t;
}

/** Whether a column can appear in `order_by` (scalars; not json, arrays or vectors). */
export function isOrderable(field: Field): boolean {
  return field.type !== 'json' && field.type !== 'string[]' && field.type !== 'vector';
}
