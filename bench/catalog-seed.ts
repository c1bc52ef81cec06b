/**
 * Catalog benchmark data (being built with the catalog preset; see issue 5).
 */
import type { Db } from '../src/db/types.js';
import type { Model } from '../src/model/types.js';
import type { CaseContext } from './cases.js';

/** Load the catalog benchmark data through Lattice's REST ingestion. */
export async function seedCatalog(_db: Db, _model: Model, _latticeUrl: string, _auth: string): Promise<{ context: CaseContext; description: string }> {
  throw new Error('the catalog benchmark data is not available yet');
}
