/**
 * The type registry used while building a schema: one instance per `buildSchema` call, caching every generated
 * type by name so each is created once and cycles (Experiment ↔ Trial) resolve through field thunks.
 */
import type { GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType } from 'graphql';
import { fieldName, pascalCase, type Naming } from '../../model/inflection.js';
import type { Entity, Field, Model } from '../../model/types.js';
import { buildAggregateOrderBy, buildAggregateType, buildGroupByEnum } from './aggregate.js';
import { buildEntityFilter, buildOperatorFilter } from './filters.js';
import { buildConnectionType, buildEdgeType, buildListType, buildObjectType, buildPageInfoType } from './objects.js';
import { buildEnumType, buildOrderBy, buildOrderDirection } from './order.js';
import { buildNearestInput, buildVectorMetric, buildVectorNearest } from './nearest.js';

export class TypeRegistry {
  readonly model: Model;
  readonly naming: Naming;
  private readonly cache = new Map<string, unknown>();

  constructor(model: Model) {
    this.model = model;
    this.naming = model.naming;
  }

  /** A generated field or argument name from a snake_case name, per the model's naming (SPEC G-1). */
  name(snake: string): string {
    return fieldName(this.naming, snake);
  }

  /**
   * The entity of this name.
   * @throws Error when the model has no such entity (a model bug: loaded models are consistent)
   */
  entity(name: string): Entity {
    const e = this.model.entities.get(name);
    if (!e) throw new Error(`Model has no entity '${name}'`);
    return e;
  }

  private once<T>(key: string, create: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, create());
    return this.cache.get(key) as T;
  }

  /** Object type of an entity (`Trial`). */
  objectType(entity: Entity): GraphQLObjectType {
    return this.once(`object:${entity.typeName}`, () => buildObjectType(this, entity));
  }

  /** `TrialList { total_count items }`. */
  listType(entity: Entity): GraphQLObjectType {
    return this.once(`list:${entity.typeName}`, () => buildListType(this, entity));
  }

  /** `TrialConnection { edges nodes page_info total_count }`. */
  connectionType(entity: Entity): GraphQLObjectType {
    return this.once(`connection:${entity.typeName}`, () => buildConnectionType(this, entity));
  }

  /** `TrialEdge { cursor node }`. */
  edgeType(entity: Entity): GraphQLObjectType {
    return this.once(`edge:${entity.typeName}`, () => buildEdgeType(this, entity));
  }

  /** The shared Relay `PageInfo`. */
  pageInfoType(): GraphQLObjectType {
    return this.once('pageinfo', () => buildPageInfoType(this));
  }

  /** `TrialFilter`. */
  filterType(entity: Entity): GraphQLInputObjectType {
    return this.once(`filter:${entity.typeName}`, () => buildEntityFilter(this, entity));
  }

  /** `TrialOrderBy`. */
  orderByType(entity: Entity): GraphQLInputObjectType {
    return this.once(`orderby:${entity.typeName}`, () => buildOrderBy(this, entity));
  }

  /** `OrderDirection { ASC DESC ASC_NULLS_FIRST ... }`. */
  orderDirection(): GraphQLEnumType {
    return this.once('orderdirection', () => buildOrderDirection());
  }

  /** `TrialAggregate { key count count_distinct sum avg min max }` (with its key and function types). */
  aggregateType(entity: Entity): GraphQLObjectType {
    return this.once(`aggregate:${entity.typeName}`, () => buildAggregateType(this, entity));
  }

  /** `enum TrialGroupBy`: the group keys of aggregates over an entity. */
  groupByType(entity: Entity): GraphQLEnumType {
    return this.once(`groupby:${entity.typeName}`, () => buildGroupByEnum(this, entity));
  }

  /** `TrialAggregateOrderBy` (with its key and per-function inputs). */
  aggregateOrderByType(entity: Entity): GraphQLInputObjectType {
    return this.once(`aggorderby:${entity.typeName}`, () => buildAggregateOrderBy(this, entity));
  }

  /** `DocumentNearest`: one `VectorNearest` per vector field (SPEC G-6). */
  nearestType(entity: Entity): GraphQLInputObjectType {
    return this.once(`nearest:${entity.typeName}`, () => buildNearestInput(this, entity));
  }

  /** The shared `VectorNearest { vector metric max_distance }`. */
  vectorNearest(): GraphQLInputObjectType {
    return this.once('vectornearest', () => buildVectorNearest(this));
  }

  /** The shared `enum VectorMetric { COSINE L2 INNER_PRODUCT }`. */
  vectorMetric(): GraphQLEnumType {
    return this.once('vectormetric', () => buildVectorMetric());
  }

  /** GraphQL enum type of an enum field (`TrialStatus`), shared by fields with the same `enumName`. */
  enumType(field: Field): GraphQLEnumType {
    const name = pascalCase(field.enumName ?? field.name);
    return this.once(`enum:${name}`, () => buildEnumType(name, field));
  }

  /**
   * Operator filter input for a field (`StringFilter`, `TrialStatusFilter`, ...); undefined for types that
   * cannot be filtered (vectors).
   */
  operatorFilter(field: Field): GraphQLInputObjectType | undefined {
    return buildOperatorFilter(this, field, (key, create) => this.once(`opfilter:${key}`, create));
  }
}
