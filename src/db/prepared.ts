/**
 * Named prepared statements per pooled connection (SPEC G-11: a repeated document skips work).
 *
 * A compiled GraphQL/REST read is one long statement whose text depends only on the document's shape (values
 * are bind parameters), so the same text recurs. Sent as a *named* statement, PostgreSQL parses and analyses it
 * once per connection and, after a few executions, reuses a generic plan — measured ~0.5–1 ms off the
 * seed-000 dashboard query (≈ 20 % of its SQL time). RLS stays correct: the policies read the principal through
 * `(SELECT lattice.current_project_ids())` at execution time, and PostgreSQL re-plans cached plans itself after
 * DDL or a role change.
 *
 * Each connection keeps at most {@link MAX_PREPARED_PER_CONNECTION} statements (least recently used evicted).
 * An evicted statement is `DEALLOCATE`d right after the statement that displaced it (or, after a failure, before
 * the connection's next statement) and forgotten by the driver.
 * Names are never reused (a per-connection counter), so a stale driver entry can never alias another text.
 */
import type pg from 'pg';
import { LRUCache } from 'lru-cache';

/** Statements kept prepared per connection. */
export const MAX_PREPARED_PER_CONNECTION = 100;

interface ConnectionStatements {
  readonly names: LRUCache<string, string>;
  /** Names evicted but not yet deallocated on the server. */
  readonly evicted: string[];
  next: number;
}

const perConnection = new WeakMap<pg.ClientBase, ConnectionStatements>();

type DriverConnection = { parsedStatements?: Record<string, string>; submittedNamedStatements?: Record<string, string> };

/** The driver's own records of named statements (node-postgres internals, checked by test/db/prepared.test.ts). */
function driverConnection(client: pg.ClientBase): DriverConnection | undefined {
  return (client as unknown as { connection?: DriverConnection }).connection;
}

/** Forget a name in the driver's records (names are never reused; this only keeps the maps bounded). */
function forget(client: pg.ClientBase, name: string): void {
  const c = driverConnection(client);
  if (c?.parsedStatements) delete c.parsedStatements[name];
  if (c?.submittedNamedStatements) delete c.submittedNamedStatements[name];
}

function statementsOf(client: pg.ClientBase): ConnectionStatements {
  let s = perConnection.get(client);
  if (!s) {
    const evicted: string[] = [];
    s = {
      evicted,
      next: 0,
      names: new LRUCache<string, string>({
        max: MAX_PREPARED_PER_CONNECTION,
        dispose: (name, _text, reason) => {
          if (reason === 'evict' || reason === 'delete') evicted.push(name);
        },
      }),
    };
    perConnection.set(client, s);
  }
  return s;
}

async function deallocateEvicted(client: pg.ClientBase, s: ConnectionStatements): Promise<void> {
  while (s.evicted.length > 0) {
    const name = s.evicted[s.evicted.length - 1];
    await client.query(`DEALLOCATE "${name}"`); // if this fails (aborted transaction), it is retried next time
    s.evicted.pop();
    forget(client, name);
  }
}

/**
 * Run `text` as a named prepared statement on `client` (preparing it on first use on this connection).
 * @returns the driver's result
 * @throws the driver's error; a statement that failed to prepare is forgotten so the next call prepares it again
 */
export async function queryPrepared(client: pg.ClientBase, text: string, values: unknown[] | undefined): Promise<pg.QueryResult> {
  const s = statementsOf(client);
  await deallocateEvicted(client, s);
  let name = s.names.get(text);
  if (name === undefined) {
    name = `lattice_q${s.next++}`;
    s.names.set(text, name);
  }
  try {
    const result = await client.query({ name, text, values });
    await deallocateEvicted(client, s); // the set just made room for this one
    return result;
  } catch (err) {
    // If preparing failed the server has no such statement (nothing to DEALLOCATE); if executing failed it
    // does. Either way drop it from the cache, so the next use prepares afresh under a new name.
    const preparedOnServer = driverConnection(client)?.parsedStatements?.[name] !== undefined;
    s.names.delete(text); // queues the name for DEALLOCATE (dispose)
    if (!preparedOnServer) {
      s.evicted.splice(s.evicted.lastIndexOf(name), 1);
      forget(client, name);
    }
    throw err;
  }
}
