/**
 * The plan cache's memo of its per-hit cost and row-bound walks (src/graphql/plan-bounds.ts): one walk per
 * distinct value of the variables the walks read, the same answers as walking every time. No database.
 * (The walks read every argument with a role, `id` included, so a point lookup is remembered per id.)
 */
import { getVariableValues, parse, type OperationDefinitionNode } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { BoundsMemo } from '../../src/graphql/plan-bounds.js';
import { withinCost } from '../../src/graphql/plan/cost.js';
import { operationRows } from '../../src/graphql/plan/rows.js';
import { schemaFor } from '../../src/graphql/schema/build.js';
import { loadPreset } from '../../src/model/load.js';
import type { QueryLimits } from '../../src/server/context.js';

const LIMITS: QueryLimits = { maxLimit: 100_000, maxDepth: 12, defaultListSize: 100 }; // default maxCost (5,000,000)

describe('plan bounds memo', () => {
  let schema: ReturnType<typeof schemaFor>;
  beforeAll(async () => {
    schema = schemaFor(await loadPreset('experiments'));
  });

  function prepare(query: string) {
    const document = parse(query);
    const operation = document.definitions[0] as OperationDefinitionNode;
    const coerce = (inputs: Record<string, unknown>) => {
      const r = getVariableValues(schema, operation.variableDefinitions ?? [], inputs);
      if (r.errors) throw r.errors[0];
      return r.coerced;
    };
    return { document, operation, coerce };
  }

  it('walks a repeated point lookup once', () => {
    const { document, operation, coerce } = prepare('query E($id: ID!) { experiment(id: $id) { id name } }');
    const memo = new BoundsMemo();
    const first = memo.bounds(schema, document, operation, coerce({ id: '01a2336c-2e00-719f-8d2d-9b6ccc9ff6e6' }), LIMITS);
    const again = memo.bounds(schema, document, operation, coerce({ id: '01a2336c-2e00-719f-8d2d-9b6ccc9ff6e6' }), LIMITS);
    const other = memo.bounds(schema, document, operation, coerce({ id: '01a2336c-2e00-719f-8d2d-9b6ccc9ff6e7' }), LIMITS);
    expect(first.withinCost).toBe(true);
    expect(again).toBe(first); // the remembered answer
    expect(other).toEqual(first);
  });

  it('walks again for another value of a variable the walks read, with the answer of a fresh walk', () => {
    const { document, operation, coerce } = prepare(
      'query L($n: Int!, $kind: String!) { experiments(filter: { kind: { eq: $kind } }, limit: $n) { name trials(limit: $n) { id } } }',
    );
    const memo = new BoundsMemo();
    const fresh = (vars: Record<string, unknown>) => {
      const within = withinCost(schema, document, operation, vars, LIMITS);
      return { within, rows: within ? operationRows(schema, document, operation, vars).rows : undefined };
    };
    for (const inputs of [
      { n: 2, kind: 'mlp' },
      { n: 2, kind: 'cnn' },
      { n: 9_000, kind: 'mlp' }, // above maxCost: must not reuse the answer of n = 2
      { n: 2, kind: 'other' },
      { n: 50, kind: 'mlp' },
    ]) {
      const vars = coerce(inputs);
      const got = memo.bounds(schema, document, operation, vars, LIMITS);
      expect({ within: got.withinCost, rows: got.rows?.rows }, JSON.stringify(inputs)).toEqual(fresh(vars));
    }
    const a = memo.bounds(schema, document, operation, coerce({ n: 2, kind: 'x' }), LIMITS);
    const b = memo.bounds(schema, document, operation, coerce({ n: 2, kind: 'x' }), LIMITS);
    expect(b).toBe(a);
    expect(a.withinCost).toBe(true);
    expect(memo.bounds(schema, document, operation, coerce({ n: 9_000, kind: 'x' }), LIMITS).withinCost).toBe(false);
  });

  it('keys on @include / @skip variables as well', () => {
    const { document, operation, coerce } = prepare(
      'query L($n: Int!, $deep: Boolean!) { experiments(limit: 10) { name trials(limit: $n) @include(if: $deep) { id } } }',
    );
    const memo = new BoundsMemo();
    const shallow = memo.bounds(schema, document, operation, coerce({ n: 9_000, deep: false }), LIMITS);
    const deep = memo.bounds(schema, document, operation, coerce({ n: 9_000, deep: true }), LIMITS);
    const deepVars = coerce({ n: 9_000, deep: true });
    expect(deep.withinCost).toBe(withinCost(schema, document, operation, deepVars, LIMITS));
    expect(deep.rows?.rows).toBe(operationRows(schema, document, operation, deepVars).rows);
    expect(deep.rows?.rows).toBeGreaterThan(shallow.rows?.rows ?? Infinity); // not the answer remembered for deep = false
  });
});
