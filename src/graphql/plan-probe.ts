/**
 * Building plan templates (SPEC G-11; the method is described in `plan-template.ts`): the probes that learn
 * which variable values are bind parameters of a compiled statement, how each parameter is rebuilt from them,
 * and which guard each one needs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isInputObjectType, isLeafType, isListType, isNonNullType, type GraphQLInputType } from 'graphql';
import type { Principal } from '../auth/principal.js';
import type { CompiledQuery } from '../query/sql/compile.js';
import type { PlainRows } from '../query/sql/plain.js';
import {
  PRINCIPAL,
  sameCompiled,
  sameValue,
  variablesKey,
  vectorArray,
  vectorText,
  type BakedMarks,
  type Guard,
  type Hole,
  type LeafKind,
  type PlanTemplate,
  type VariableType,
} from './plan-template.js';

/** SQL type of each placeholder, from the casts every parameter carries (`$3::uuid[]`, `src/query/sql/params.ts`). */
function slotTypes(text: string): Map<number, string> {
  const types = new Map<number, string>();
  for (const m of text.matchAll(/\$(\d+)::([\w[\]".]+)/g)) {
    const slot = Number(m[1]) - 1;
    if (!types.has(slot)) types.set(slot, m[2]);
  }
  return types;
}

/** The guard of a leaf feeding a parameter of `sqlType` through `op`; undefined: not a parameter we rebuild. */
function guardFor(sqlType: string | undefined, op: Hole['op'], kind: LeafKind): Guard | null | undefined {
  if (sqlType === undefined) return undefined;
  if (op === 'vector_text') return sqlType === 'vector' ? 'vector' : undefined;
  if (op === 'vector_array') return sqlType === 'real[]' ? 'vector' : undefined;
  const isArray = sqlType.endsWith('[]');
  switch (isArray ? sqlType.slice(0, -2) : sqlType) {
    case 'uuid':
      return 'uuid';
    case 'text':
      return isArray ? null : 'text';
    case 'int8':
      if (kind === 'bigint') return null;
      return isArray || kind !== 'int' ? undefined : 'count';
    case 'float8':
      return isArray ? null : 'nonneg';
    case 'int4':
    case 'numeric':
    case 'timestamptz':
    case 'date':
      return null;
    default:
      return undefined;
  }
}

const randomWord = (): string => `p${randomBytes(6).toString('hex')}`;
function randomIso(): Date {
  return new Date(Date.UTC(1980 + Math.floor(Math.random() * 60), Math.floor(Math.random() * 12), 1 + Math.floor(Math.random() * 28), 12, 34, 56, 789));
}

/** Another value of the same kind, in the class the guards accept when the original is. */
function probeScalar(kind: LeafKind, v: unknown): unknown {
  switch (kind) {
    case 'uuid':
      return randomUUID();
    case 'string':
      return randomWord();
    case 'int':
    case 'bigint':
      return (v as number) > 0 ? (v as number) - 1 : (v as number) + 1;
    case 'float':
      return v === 0 ? 0.5 : (v as number) / 2;
    case 'decimal':
      return v === '0.5' ? '1.5' : '0.5';
    case 'datetime':
      return randomIso().toISOString();
    case 'date':
      return randomIso().toISOString().slice(0, 10);
  }
}

function setAt(root: Record<string, unknown>, path: readonly (string | number)[], value: unknown): Record<string, unknown> {
  const copy = (node: unknown, i: number): unknown => {
    if (i === path.length) return value;
    const key = path[i];
    if (Array.isArray(node)) return node.map((x, j) => (j === key ? copy(x, i + 1) : x));
    const obj = node as Record<string, unknown>;
    return { ...obj, [key]: copy(obj[key], i + 1) };
  };
  return copy(root, 0) as Record<string, unknown>;
}

/** Coerced values back to request input (enums by name, scalars serialized) so they coerce to the same values. */
function toInput(value: unknown, type: GraphQLInputType): unknown {
  if (value === null || value === undefined) return value;
  const t = isNonNullType(type) ? type.ofType : type;
  if (isListType(t)) return Array.isArray(value) ? value.map((v) => toInput(v, t.ofType as GraphQLInputType)) : value;
  if (isInputObjectType(t)) {
    const fields = t.getFields();
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, fields[k] ? toInput(v, fields[k].type) : v]));
  }
  return isLeafType(t) ? t.serialize(value) : value;
}

/** Compiles the cached operation for other variables (request input) and principal; throws what the planner throws. */
export type Recompile = (variables: Record<string, unknown>, principal: Principal) => CompiledQuery;

/** What `buildTemplate` learns: the template, and the marks the key must carry for it. */
export interface TemplateResult {
  readonly template: PlanTemplate;
  readonly marks: ReadonlySet<string>;
}

interface Probe {
  readonly holes: Hole[];
  readonly guards: Guard[];
}

/** Most leaves probed per statement; beyond, every value is baked (an exact-values cache). */
export const MAX_PROBED_LEAVES = 32;

/**
 * Learn the template of a compiled query operation (see the module comment).
 * @param recompile the operation's planner + compiler
 * @param variables the coerced variables `compiled` was planned with
 * @param compiled the fresh compilation (the template reproduces it for these variables)
 * @param baked marks already known for this document: those leaves are not probed again
 * @param scoped whether the principal has a project scope (not an admin)
 */
export function buildTemplate(args: {
  readonly recompile: Recompile;
  readonly variables: Readonly<Record<string, unknown>>;
  readonly types: readonly VariableType[];
  readonly principal: Principal;
  readonly scoped: boolean;
  readonly compiled: CompiledQuery;
  readonly baked: BakedMarks;
  readonly maxLimit: number;
}): TemplateResult {
  const { recompile, variables, types, principal, compiled, maxLimit } = args;
  const { leaves } = variablesKey(variables, types, args.baked);
  const marks = new Set<string>();
  const bakeAll = (): TemplateResult => {
    for (const l of leaves) marks.add(`v:${l.id}`);
    if (args.scoped) marks.add('@p');
    return { template: { text: compiled.text, params: compiled.params, holes: [], guards: [], maxLimit, ...rowsOf(compiled) }, marks };
  };
  const input = (vars: Readonly<Record<string, unknown>>): Record<string, unknown> =>
    Object.fromEntries(types.filter((t) => Object.hasOwn(vars, t.name)).map((t) => [t.name, toInput(vars[t.name], t.type)]));
  const attempt = (vars: Readonly<Record<string, unknown>>, p: Principal): CompiledQuery | undefined => {
    try {
      return recompile(input(vars), p);
    } catch {
      return undefined;
    }
  };
  // The round trip through request input must itself give the same statement.
  const base = attempt(variables, principal);
  if (!base || !sameCompiled(base, compiled) || leaves.length > MAX_PROBED_LEAVES) return bakeAll();
  const slotType = slotTypes(compiled.text);
  const P = compiled.params;

  /** Holes and guards explaining how `probed` differs from `compiled` when leaf `index` went from v to w. */
  const explain = (index: number, kind: LeafKind, list: boolean, v: unknown, w: unknown, probed: CompiledQuery | undefined): Probe | undefined => {
    if (!probed || probed.text !== compiled.text || probed.params.length !== P.length) return undefined;
    const holes: Hole[] = [];
    const guards: Guard[] = [];
    for (let s = 0; s < P.length; s++) {
      const a = P[s];
      const b = probed.params[s];
      if (sameValue(a, b)) continue;
      const found: Hole[] = [];
      if (list) {
        const vs = v as number[];
        const ws = w as number[];
        if (sameValue(a, v) && sameValue(b, w)) found.push({ slot: s, leaf: index, op: 'set' });
        else if (kind === 'float' && a === vectorText(vs) && b === vectorText(ws)) found.push({ slot: s, leaf: index, op: 'vector_text' });
        else if (kind === 'float' && sameValue(a, vectorArray(vs)) && sameValue(b, vectorArray(ws))) found.push({ slot: s, leaf: index, op: 'vector_array' });
      } else if (a === v && b === w) found.push({ slot: s, leaf: index, op: 'set' });
      else if ((kind === 'int' || kind === 'bigint') && typeof a === 'number' && typeof b === 'number' && a - (v as number) === b - (w as number)) {
        found.push({ slot: s, leaf: index, op: 'add', delta: a - (v as number) });
      } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
        for (let j = 0; j < a.length; j++) {
          if (sameValue(a[j], b[j])) continue;
          if (a[j] !== v || b[j] !== w) return undefined;
          found.push({ slot: s, leaf: index, op: 'at', index: j });
        }
      }
      if (found.length === 0) return undefined;
      for (const h of found) {
        const g = guardFor(slotType.get(s), h.op, kind);
        if (g === undefined) return undefined;
        if (g !== null && !guards.includes(g)) guards.push(g);
      }
      holes.push(...found);
    }
    return holes.length > 0 ? { holes, guards } : undefined;
  };

  const holes: Hole[] = [];
  const guards: { leaf: number; checks: Guard[] }[] = [];
  for (const [i, leaf] of leaves.entries()) {
    if (args.baked.has(`v:${leaf.id}`)) continue;
    let probe: Probe | undefined;
    if (leaf.list) {
      const v = leaf.value as unknown[];
      const elements = v.map((x) => probeScalar(leaf.kind, x));
      if (!args.baked.has(`l:${leaf.id}`) && v.length + 1 <= maxLimit) {
        const longer = [...elements, probeScalar(leaf.kind, v[v.length - 1])];
        probe = explain(i, leaf.kind, true, v, longer, attempt(setAt(variables, leaf.path, longer), principal));
        if (probe) probe.guards.push('length');
      }
      if (!probe) {
        marks.add(`l:${leaf.id}`);
        probe = explain(i, leaf.kind, true, v, elements, attempt(setAt(variables, leaf.path, elements), principal));
      }
    } else {
      const w = probeScalar(leaf.kind, leaf.value);
      probe = explain(i, leaf.kind, false, leaf.value, w, attempt(setAt(variables, leaf.path, w), principal));
    }
    if (!probe) {
      marks.add(`v:${leaf.id}`);
      continue;
    }
    holes.push(...probe.holes);
    if (probe.guards.length > 0) guards.push({ leaf: i, checks: probe.guards });
  }

  if (args.scoped && !args.baked.has('@p')) {
    const ids = [...principal.projectIds, ''].map(() => randomUUID());
    const probed = attempt(variables, { ...principal, projectIds: ids });
    const changed = probed && probed.text === compiled.text ? P.flatMap((a, s) => (sameValue(a, probed.params[s]) ? [] : [s])) : undefined;
    if (changed?.length === 1 && slotType.get(changed[0]) === 'uuid[]' && sameValue(P[changed[0]], [...principal.projectIds]) && sameValue(probed?.params[changed[0]], ids)) {
      holes.push({ slot: changed[0], leaf: PRINCIPAL, op: 'set' });
    } else if (changed?.length !== 0) marks.add('@p');
    // No change at all: the statement does not depend on the principal's projects (row-level security still applies).
  }

  // Each parameter (or array element) comes from one source; two claiming the same one cannot be rebuilt.
  const whole = new Set<number>();
  const parts = new Map<number, Set<number>>();
  for (const h of holes) {
    if (whole.has(h.slot)) return bakeAll();
    if (h.op !== 'at') {
      if (parts.has(h.slot)) return bakeAll();
      whole.add(h.slot);
      continue;
    }
    const taken = parts.get(h.slot) ?? new Set<number>();
    if (taken.has(h.index)) return bakeAll();
    parts.set(h.slot, taken.add(h.index));
  }

  return { template: { text: compiled.text, params: P, holes, guards, maxLimit, ...rowsOf(compiled) }, marks };
}

/** The plain-row writer of a compiled statement, to keep with its text (it depends only on the text). */
function rowsOf(compiled: CompiledQuery): { rows?: PlainRows } {
  return compiled.rows ? { rows: compiled.rows } : {};
}
