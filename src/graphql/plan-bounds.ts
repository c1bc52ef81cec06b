/**
 * The static checks a plan-cache hit repeats on every request (cost limit, `plan/cost.ts`; row bound,
 * `plan/rows.ts`), remembered per cached document by the values of the variables they actually read.
 *
 * Both walks are pure functions of the document, the limits (fixed per cached document: its key holds them)
 * and the coerced variable values. A walk reads variables only through the object it is given, so it runs
 * once over a recording view of the values; the next request whose values of *those* variables are equal
 * (same JSON text) takes the same path through the walk and gets the same answer, whatever its other
 * variables are. A point lookup (`experiment(id: $id)`) reads no variable at all: one walk per document.
 * A list with `limit: $n` reads `n`: one walk per distinct `n`. Any walk that enumerates the variables (keys
 * or spread) keys on all of them.
 */
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { QueryLimits } from '../server/context.js';
import { withinCost } from './plan/cost.js';
import { operationRows, type RowBound } from './plan/rows.js';

/** The outcome of both walks: `rows` undefined when the cost limit is exceeded. */
export interface StaticBounds {
  readonly withinCost: boolean;
  readonly rows: RowBound | undefined;
}

/** Remembered answers per set of read variables; bounded (cleared when full). */
export class BoundsMemo {
  /** Distinct read sets seen (usually one), each with its answers by the read values' key. */
  private readonly sets: { names: readonly string[] | null; answers: Map<string, StaticBounds> }[] = [];
  private size = 0;

  constructor(
    private readonly maxAnswers = 256,
    private readonly maxSets = 8,
  ) {}

  /**
   * The cost check and row bound of `operation` with `variables`, walked at most once per distinct value of
   * the variables the walks read.
   * @param variables coerced variable values (graphql-js `getVariableValues`)
   */
  bounds(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Readonly<Record<string, unknown>>,
    limits: QueryLimits,
  ): StaticBounds {
    for (const set of this.sets) {
      const key = keyOf(set.names, variables);
      const known = key === undefined ? undefined : set.answers.get(key);
      if (known) return known;
    }
    const recorder = recording(variables);
    const within = withinCost(schema, document, operation, recorder.view, limits);
    const answer: StaticBounds = { withinCost: within, rows: within ? operationRows(schema, document, operation, recorder.view) : undefined };
    const names = recorder.all ? null : [...recorder.reads].sort();
    const key = keyOf(names, variables);
    if (key === undefined) return answer;
    if (this.size >= this.maxAnswers) this.clear();
    let set = this.sets.find((s) => sameNames(s.names, names));
    if (!set) {
      if (this.sets.length >= this.maxSets) this.clear();
      this.sets.push((set = { names, answers: new Map() }));
    }
    set.answers.set(key, answer);
    this.size += 1;
    return answer;
  }

  private clear(): void {
    this.sets.length = 0;
    this.size = 0;
  }
}

function sameNames(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** The memo key of `names`' values (all variables when null); undefined when a value has no JSON text. */
function keyOf(names: readonly string[] | null, variables: Readonly<Record<string, unknown>>): string | undefined {
  try {
    if (names === null) return `*${JSON.stringify(variables)}`;
    let key = '';
    for (const n of names) {
      const v = variables[n];
      key += `${n}${Object.hasOwn(variables, n) ? (v === undefined ? '=u' : `=${JSON.stringify(v)}`) : '!'}\n`;
    }
    return key;
  } catch {
    return undefined; // e.g. a BigInt: not remembered, walked every time
  }
}

/** A read-only view of `variables` that records which names are read (`all` once they are enumerated). */
function recording(variables: Readonly<Record<string, unknown>>): {
  view: Readonly<Record<string, unknown>>;
  reads: Set<string>;
  all: boolean;
} {
  const out = { view: variables, reads: new Set<string>(), all: false };
  const note = (key: string | symbol) => {
    if (typeof key === 'string') out.reads.add(key);
    else out.all = true;
  };
  out.view = new Proxy(variables as Record<string, unknown>, {
    get(target, key, receiver) {
      note(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
    has(target, key) {
      note(key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      note(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      out.all = true;
      return Reflect.ownKeys(target);
    },
    set() {
      out.all = true;
      return false;
    },
    defineProperty() {
      out.all = true;
      return false;
    },
    deleteProperty() {
      out.all = true;
      return false;
    },
  });
  return out;
}
