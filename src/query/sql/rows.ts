/**
 * The rows of a list-like node (list, list page, connection, nested to-many): which rows (tenant scope,
 * correlation with the parent row, `filter`, `search`, `nearest`), their scores (full-text rank, vector
 * distance) and their ordering, shared by the page, its `total_count` and the keyset look-ahead so that all
 * of them see exactly the same rows.
 *
 * Parameters are bound once per node (`bindRows`); each table read (`openRows`) gets a fresh alias with the
 * same predicates. Rows are ordered and paged in a derived table (`deriveRows`) that also carries the
 * computed values the outer query needs — rank, distance and to-one path keys — as extra columns
 * (`__lattice_rank`, `__lattice_distance`, `__lattice_k<i>`), so each is computed once per row; the derived
 * table keeps the base table's alias, so selections read `alias."column"` either way. (Model field names are
 * snake_case starting with a letter, so they can never collide with these names.)
 */
import type { Filter, NearestArg } from '../plan.js';
import type { OrderKey } from '../order.js';
import { and, col, openSource, type CompileContext, type Correlation, type Source } from './context.js';
import { compileFilter } from './filter.js';
import { quoteIdent } from './ident.js';
import { bindNearest, nearestSql, type NearestBinding } from './nearest.js';
import { bindSearch, searchSql, type SearchBinding } from './search.js';
import { sqlKeys, type Scores, type SqlKey } from './order.js';

/** What selects the rows of a node. */
export interface RowArgs {
  readonly filter?: Filter;
  readonly search?: string;
  readonly nearest?: NearestArg;
}

/** A node's row selection with its parameters bound (once per node). */
export interface RowsBinding {
  readonly entity: string;
  readonly corr?: Correlation;
  readonly filter?: Filter;
  readonly search?: SearchBinding;
  readonly nearest?: NearestBinding;
}

/** One read of a node's rows under a fresh alias. */
export interface RowsRead {
  readonly src: Source;
  /** Every predicate: scope, correlation, filter, search match, nearest candidate/bound. */
  readonly conds: string[];
  /** Rank and distance on this alias. */
  readonly scores: Scores;
}

/**
 * Validate and bind the row selection of a node over `entityName`.
 * @throws LatticeError BAD_USER_INPUT for `search` on an entity without searchable fields or a bad `nearest`
 *         (see `bindSearch`, `checkNearest`)
 */
export function bindRows(ctx: CompileContext, entityName: string, args: RowArgs, corr?: Correlation): RowsBinding {
  const entity = ctx.entity(entityName);
  return {
    entity: entityName,
    ...(corr ? { corr } : {}),
    ...(args.filter ? { filter: args.filter } : {}),
    ...(args.search !== undefined ? { search: bindSearch(ctx, entity, args.search) } : {}),
    ...(args.nearest ? { nearest: bindNearest(ctx, entity, args.nearest) } : {}),
  };
}

/** Column of the fenced derived table that holds the distance computed by Lattice's SQL functions. */
const FENCED_DISTANCE = '__lattice_d';

/**
 * Open a read of bound rows: a fresh alias, its predicates and its scores.
 *
 * Without pgvector (`real[]` storage) the distance is a call of a Lattice SQL function, about 50 µs per
 * 256-dimensional row on PostgreSQL 15, which PostgreSQL would evaluate once in WHERE (the candidate
 * predicate) and again in ORDER BY, on every row that passed the scan's own filters. The read is then fenced:
 * `(SELECT alias.*, <distance> AS "__lattice_d" FROM <table> alias WHERE <every other predicate> OFFSET 0)
 * alias` computes it once per row that passed every other predicate (OFFSET 0 keeps PostgreSQL from
 * flattening the sub-query), and the candidate predicate and ordering read the column. With pgvector the
 * operator expression stays on the base table, which is what an HNSW index scan needs.
 */
export function openRows(ctx: CompileContext, b: RowsBinding): RowsRead {
  let src = openSource(ctx, b.entity, b.corr);
  let conds = [...src.where];
  if (b.filter) conds.push(compileFilter(ctx, src.entity, src.alias, b.filter));
  let rank: string | undefined;
  let distance: string | undefined;
  if (b.search) {
    const s = searchSql(b.search, src.alias);
    conds.push(s.predicate);
    rank = s.rank;
  }
  if (b.nearest) {
    const n = nearestSql(ctx, b.nearest, src.alias);
    if (ctx.options.vectors === 'pgvector') {
      conds.push(n.predicate);
      distance = n.distance;
    } else {
      const a = src.alias;
      const fenced = `SELECT ${a}.*, ${n.distance} AS ${quoteIdent(FENCED_DISTANCE)} FROM ${src.from} WHERE ${and(conds)} OFFSET 0`;
      src = { ...src, from: `(${fenced}) ${a}`, where: [] };
      distance = col(a, FENCED_DISTANCE);
      conds = [nearestSql(ctx, b.nearest, a, distance).predicate];
    }
  }
  return { src, conds, scores: { ...(rank ? { rank } : {}), ...(distance ? { distance } : {}) } };
}

/** `(SELECT count(*) FROM … WHERE <every predicate>)`: the node's row count as a JSON number. */
export function countRows(ctx: CompileContext, b: RowsBinding): string {
  const r = openRows(ctx, b);
  return `(SELECT count(*) FROM ${r.src.from} WHERE ${and(r.conds)})`;
}

/** A read's rows ordered in a derived table: inner keys, outer keys and the extra columns that carry them. */
export interface DerivedRows {
  /** `expr AS "__lattice_…"` items the inner SELECT adds after `alias.*`. */
  readonly extras: string[];
  /** Keys on the base table (inner WHERE / ORDER BY). */
  readonly inner: SqlKey[];
  /** The same keys on the derived table (outer ORDER BY, cursor values). */
  readonly outer: SqlKey[];
  /** Rank and distance on the derived table (for `_rank` / `_distance`). */
  readonly scores: Scores;
}

const RANK = '__lattice_rank';
const DISTANCE = '__lattice_distance';

/**
 * Compile `keys` for a read and the extra columns of its derived table (aliased as the read's alias).
 * Own columns are read from `alias.*`; rank, distance and path keys become extra columns. The rank
 * (`ts_rank`, which reads the whole tsvector of the row) is computed only when `selectsRank` or a key uses it.
 */
export function deriveRows(ctx: CompileContext, read: RowsRead, keys: readonly OrderKey[], selectsRank = true): DerivedRows {
  const a = read.src.alias;
  const inner = sqlKeys(ctx, read.src.entity, a, keys, read.scores);
  const extras: string[] = [];
  const scores: { rank?: string; distance?: string } = {};
  if (read.scores.rank && (selectsRank || keys.some((k) => k.kind === 'rank'))) {
    extras.push(`${read.scores.rank} AS ${quoteIdent(RANK)}`);
    scores.rank = col(a, RANK);
  }
  if (read.scores.distance) {
    extras.push(`${read.scores.distance} AS ${quoteIdent(DISTANCE)}`);
    scores.distance = col(a, DISTANCE);
  }
  const outer = inner.map((k, i): SqlKey => {
    switch (k.key.kind) {
      case 'rank':
        return { ...k, expr: col(a, RANK) };
      case 'distance':
        return { ...k, expr: col(a, DISTANCE) };
      case 'column': {
        if (k.key.path.length === 0) return k;
        const name = `__lattice_k${i}`;
        extras.push(`${k.expr} AS ${quoteIdent(name)}`);
        return { ...k, expr: col(a, name) };
      }
    }
  });
  return { extras, inner, outer, scores };
}

/** `alias.*` plus the extra columns: the select list of a derived table of rows. */
export function derivedSelect(read: RowsRead, d: DerivedRows): string {
  return [`${read.src.alias}.*`, ...d.extras].join(', ');
}
