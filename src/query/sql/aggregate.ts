/**
 * Aggregates (SPEC G-2, G-3): an `AggregateNode` → one scalar sub-query returning a JSON array of groups.
 * (Being built: see issue 5.)
 */
import type { AggregateNode } from '../plan.js';
import { internal } from '../../errors.js';
import type { CompileContext, Correlation } from './context.js';

/** Compile an aggregate node; `corr` correlates it with a parent row when nested. */
export function aggregateSql(_ctx: CompileContext, _node: AggregateNode, _corr?: Correlation): string {
  throw internal('aggregates are not compiled yet');
}
