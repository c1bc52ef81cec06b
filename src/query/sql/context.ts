/**
 * Compile-time state shared by the SQL builders of one statement: the model, the bind parameters, the tenant
 * scope and a table-alias generator; plus checked look-ups of entities, columns and relations (a plan can only
 * name things the model has — anything else is a planner bug, reported as INTERNAL).
 */
import type { Entity, Field, Model, Relation } from '../../model/types.js';
import type { Scope } from '../plan.js';
import { internal } from '../../errors.js';
import { qualified, quoteIdent } from './ident.js';
import { ParamContext } from './params.js';

/**
 * How the database stores `vector` fields (SPEC S-5): `pgvector` — `vector(n)` columns compared with the
 * `<=>`, `<->`, `<#>` operators (HNSW indexes usable); `array` — `real[]` columns compared with the SQL
 * functions `lattice.vec_*` (exact, no index). Decided once per database (`readCompileOptions` in
 * `src/db/migrate/index.ts`), since it is what `migrate` created.
 */
export type VectorStorage = 'pgvector' | 'array';

/** What the compiler needs to know about the target database (`readCompileOptions` reads it). */
export interface CompileOptions {
  readonly vectors: VectorStorage;
  /**
   * pgvector ≥ 0.8: a statement using a similarity search first sets `hnsw.iterative_scan = strict_order`
   * (transaction-local), so an HNSW index scan whose rows a filter (the tenant scope, `filter`, `max_distance`)
   * removes keeps scanning instead of returning fewer rows than asked (`ef_search`, 40 by default, would
   * otherwise cap the candidates). See `compileRead`.
   */
  readonly hnswIterativeScan?: boolean;
}

/** pgvector 0.8 (PGlite, the default database, ships it). */
export const DEFAULT_COMPILE_OPTIONS: CompileOptions = { vectors: 'pgvector', hnswIterativeScan: true };

/** State of one compilation. */
export class CompileContext {
  readonly params = new ParamContext();
  private aliasCount = 0;
  /** Set when the statement orders or filters by a vector distance (see `CompileOptions.hnswIterativeScan`). */
  usesNearest = false;

  constructor(
    readonly model: Model,
    readonly scope: Scope,
    readonly options: CompileOptions = DEFAULT_COMPILE_OPTIONS,
  ) {}

  /** A fresh table alias (`t1`, `t2`, ...), unique within the statement. */
  alias(): string {
    this.aliasCount += 1;
    return `t${this.aliasCount}`;
  }

  /** @throws LatticeError INTERNAL for an unknown entity. */
  entity(name: string): Entity {
    const e = this.model.entities.get(name);
    if (!e) throw internal(`query plan names unknown entity "${name}"`);
    return e;
  }

  /** @throws LatticeError INTERNAL for an unknown column. */
  field(entity: Entity, column: string): Field {
    const f = entity.columns.get(column);
    if (!f) throw internal(`query plan names unknown column "${column}" of ${entity.name}`);
    return f;
  }

  /** @throws LatticeError INTERNAL for an unknown relation. */
  relation(entity: Entity, name: string): Relation {
    const r = entity.relations.get(name);
    if (!r) throw internal(`query plan names unknown relation "${name}" of ${entity.name}`);
    return r;
  }
}

/** `alias."column"` */
export function col(alias: string, column: string): string {
  return `${alias}.${quoteIdent(column)}`;
}

/** A table read: `FROM <table> <alias>` and the predicates every read of it needs. */
export interface Source {
  readonly entity: Entity;
  readonly alias: string;
  /** `"schema"."table" alias` */
  readonly from: string;
  /** Conjuncts: the tenant-scope predicate and the correlation with the parent row (possibly none). */
  readonly where: readonly string[];
}

/** The parent side of a correlated read: the relation followed and the parent row's alias. */
export interface Correlation {
  readonly relation: Relation;
  readonly parentAlias: string;
}

/**
 * Open a read of `entityName` under a fresh alias, with the tenant predicate (`<alias>.<tenantColumn> =
 * ANY($scope::uuid[])` when the scope is a project list) and, for a relation, the correlation with the parent
 * row: `child.<targetColumn> = parent.<sourceColumn>` plus equal tenant columns when the relation is
 * tenant-scoped (composite foreign keys, SPEC S-2).
 */
export function openSource(ctx: CompileContext, entityName: string, correlation?: Correlation): Source {
  const entity = ctx.entity(entityName);
  const alias = ctx.alias();
  const where: string[] = [];
  if (correlation) {
    const r = correlation.relation;
    const parent = ctx.entity(r.source);
    where.push(`${col(alias, r.targetColumn)} = ${col(correlation.parentAlias, r.sourceColumn)}`);
    if (r.tenantScoped) {
      where.push(`${col(alias, entity.tenantColumn)} = ${col(correlation.parentAlias, parent.tenantColumn)}`);
    }
  }
  if (ctx.scope.kind === 'projects') {
    where.push(`${col(alias, entity.tenantColumn)} = ANY(${ctx.params.scope(ctx.scope.projectIds)})`);
  }
  return { entity, alias, from: `${qualified(entity.table.schema, entity.table.name)} ${alias}`, where };
}

/** Join conjuncts with AND; `true` when there are none. */
export function and(parts: readonly string[]): string {
  if (parts.length === 0) return 'true';
  if (parts.length === 1) return parts[0];
  return parts.map((p) => `(${p})`).join(' AND ');
}
