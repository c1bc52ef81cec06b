/**
 * The live hub (SPEC G-8, §8 Scale-out): ONE listener per server instance on the `lattice_events` channel
 * (`src/db/migrate/events.ts`), fanning change notifications out to this instance's subscribers.
 *
 * Algorithm, per subscriber:
 * 1. A notification `{entity, op, project_id, ids}` is considered only when `entity` is the subscribed one
 *    and `project_id` is one of the subscriber's projects (admins: every project). A subscriber of project A
 *    therefore never learns anything — id, op or count — about project B's rows.
 * 2. Its ids are added to the subscriber's pending set (in first-seen order). The first addition arms a timer
 *    of `coalesceMs` (default 30 ms); a burst of writes within the window, or while a re-read is running,
 *    becomes one flush, and the changes of one id within a flush fold into ONE event that describes the row as
 *    it is now (see `folded`: INSERT then UPDATE → INSERT with the current row; INSERT then DELETE → nothing;
 *    UPDATE then DELETE → DELETE). Events are therefore "what changed since you last heard", not a change log.
 * 3. A flush re-checks the credentials (`reauthenticate`: the server's authenticator, API keys cached 5 s; also
 *    every `recheckMs`, default 5 s): a revoked key or an expired token ends the subscription with an
 *    UNAUTHENTICATED error. DELETEs are delivered as `{ op: DELETE,
 *    id, row: null }` without a read: the row is gone, so the subscription's `filter` cannot apply to them.
 *    INSERTs and UPDATEs are re-read in ONE statement per chunk of `maxIdsPerRead` ids (default 1000) under
 *    the subscriber's own principal (`db.queryAs`: row-level security decides) — a list of the entity
 *    with `id IN (ids) AND <filter>`, its selection planned by the read planner — and one event is delivered
 *    per row returned, in notification order. A row that no longer matches the filter (or is no longer
 *    visible) yields no event.
 * 4. Events wait in a per-subscriber queue; a subscriber more than `maxQueue` (default 10,000) events behind
 *    is ended with an error rather than buffering without bound.
 *
 * Notifications lost while the listening connection is down (PostgreSQL restart) are not replayed: a
 * subscription is a live feed, not a log (see pg-listener.ts).
 */
import type { ExecutionResult } from 'graphql';
import { GraphQLError } from 'graphql';
import { isAdmin, type Principal } from '../auth/principal.js';
import { EVENTS_CHANNEL, parseChangeNotification, type ChangeNotification } from '../db/migrate/events.js';
import type { Db } from '../db/types.js';
import type { Model } from '../model/types.js';
import type { Filter, RootNode } from '../query/plan.js';
import { compileRead, type CompileOptions } from '../query/sql/compile.js';
import type { SubscriptionPlan } from './plan.js';

type Op = ChangeNotification['op'];

/** Tunables of the hub (defaults in parentheses). */
export interface LiveOptions {
  /** Coalescing window in ms (30). */
  readonly coalesceMs?: number;
  /** Interval of the credential re-check in ms (5000). */
  readonly recheckMs?: number;
  /** Most ids re-read by one statement (1000). */
  readonly maxIdsPerRead?: number;
  /** Most undelivered events per subscriber before it is ended (10,000). */
  readonly maxQueue?: number;
}

/** Counters for tests and metrics. */
export interface LiveStats {
  /** Notifications received on the channel. */
  notifications: number;
  /** Re-read statements run for subscribers. */
  reads: number;
  /** Events delivered to subscribers. */
  deliveries: number;
}

/** What the hub needs from the server. */
export interface LiveHubContext {
  readonly db: Db;
  readonly model: () => Model;
  /** Swaps of the served model (run-time model changes); subscriptions are re-planned on each. */
  readonly models?: { onSwap(listener: () => void): () => void };
  readonly compile?: CompileOptions;
  readonly log?: { warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void };
}

/** One subscription request. */
export interface LiveSubscribeArgs {
  readonly principal: Principal;
  /** Re-checks the credentials the principal came from while the subscription lives: null when no longer valid. */
  readonly reauthenticate: () => Promise<Principal | null>;
  readonly plan: SubscriptionPlan;
  /**
   * Plan the same subscription document again for another model (SPEC M-7: a run-time model change); throws
   * when the document no longer fits it (an entity or field removed). Without it, a model change ends the
   * subscription.
   */
  readonly replan?: (model: Model) => SubscriptionPlan;
}

/** Hidden response key under which a re-read returns each row's id (GraphQL reserves names starting with `__`, so no field collides). */
const ID_KEY = '__lattice_id';

function unauthenticatedResult(): ExecutionResult {
  return {
    errors: [
      new GraphQLError('The credentials of this subscription are no longer valid (API key revoked or deleted, or token expired); subscribe again with valid credentials.', {
        extensions: { code: 'UNAUTHENTICATED' },
      }),
    ],
  };
}

/**
 * One event for all changes of an id within one flush, describing the row as it is now: created and deleted →
 * nothing (the subscriber never saw it); … then deleted → DELETE; created (then changed) → INSERT; otherwise
 * (changed, or deleted and created again) → UPDATE.
 */
function folded(first: Op, last: Op): Op | null {
  if (last === 'DELETE') return first === 'INSERT' ? null : 'DELETE';
  return first === 'INSERT' ? 'INSERT' : 'UPDATE';
}

class Subscriber implements AsyncIterableIterator<ExecutionResult> {
  principal: Principal;
  /** Changed ids of the coming flush → first and last op seen, in first-seen order. */
  private pending = new Map<string, { first: Op; last: Op }>();
  private timer: NodeJS.Timeout | null = null;
  private recheckTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  private readonly queue: ExecutionResult[] = [];
  private waiter: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
  done = false;

  /** The plan re-reads use, and the model it was made for (re-planned when another model is served). */
  private plan: SubscriptionPlan;
  private planModel: Model;

  constructor(
    private readonly hub: LiveHub,
    private readonly args: LiveSubscribeArgs,
  ) {
    this.principal = args.principal;
    this.plan = args.plan;
    this.planModel = hub.ctx.model();
    this.recheckTimer = setInterval(() => void this.recheck().catch(() => undefined), hub.options.recheckMs);
    this.recheckTimer.unref();
  }

  get entity(): string {
    return this.plan.entity;
  }

  /**
   * The plan for the model served now: the subscription's own while the model is unchanged, else the
   * document planned again for the new model.
   * @returns null (after ending the subscription with MODEL_CHANGED) when the document no longer fits it
   */
  currentPlan(): { plan: SubscriptionPlan; model: Model } | null {
    const model = this.hub.ctx.model();
    if (model !== this.planModel) {
      try {
        if (!this.args.replan) throw new Error('This subscription cannot be planned again.');
        this.plan = this.args.replan(model);
        this.planModel = model;
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        this.push({
          errors: [new GraphQLError(`The model changed and this subscription no longer fits it (${why}); subscribe again with a document of the new model.`, { extensions: { code: 'MODEL_CHANGED' } })],
        });
        this.end();
        return null;
      }
    }
    return { plan: this.plan, model };
  }

  /** Take a notification (already known to be of this entity). */
  accept(n: ChangeNotification): void {
    if (this.done) return;
    if (!isAdmin(this.principal) && !this.principal.projectIds.includes(n.project_id)) return;
    for (const id of n.ids) {
      const prev = this.pending.get(id);
      if (prev) prev.last = n.op;
      else this.pending.set(id, { first: n.op, last: n.op });
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.flushing || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.hub.options.coalesceMs);
  }

  /** Re-check the credentials. @returns false (and ends the subscription) when they are no longer valid. */
  private async recheck(): Promise<boolean> {
    if (this.done) return false;
    const principal = await this.args.reauthenticate();
    if (!principal) {
      this.push(unauthenticatedResult());
      this.end();
      return false;
    }
    this.principal = principal;
    return true;
  }

  private async flush(): Promise<void> {
    if (this.done || this.pending.size === 0) return;
    this.flushing = true;
    const batch = new Map<string, Op>();
    for (const [id, ops] of this.pending) {
      const op = folded(ops.first, ops.last);
      if (op) batch.set(id, op);
    }
    this.pending = new Map();
    try {
      if (!(await this.recheck())) return;
      const current = this.currentPlan();
      if (!current) return;
      const reread = [...batch].filter(([, op]) => op !== 'DELETE').map(([id]) => id);
      const rows = new Map<string, Record<string, unknown>>();
      for (let i = 0; i < reread.length; i += this.hub.options.maxIdsPerRead) {
        for (const row of await this.read(current, reread.slice(i, i + this.hub.options.maxIdsPerRead))) {
          const id = row[ID_KEY] as string;
          delete row[ID_KEY];
          rows.set(id, row);
        }
      }
      for (const [id, op] of batch) {
        if (this.done) return;
        if (op === 'DELETE') this.deliver(op, id, null);
        else {
          const row = rows.get(id);
          if (row) this.deliver(op, id, row);
        }
      }
    } catch (err) {
      this.hub.ctx.log?.error({ err }, 'A subscription re-read failed; the subscription is ended');
      this.push({ errors: [new GraphQLError('Reading the changed rows failed; subscribe again.', { extensions: { code: 'INTERNAL' } })] });
      this.end();
    } finally {
      this.flushing = false;
      this.arm();
    }
  }

  /** Re-read `ids` (INSERT/UPDATE) with the subscription's filter and selection under its principal: ONE statement. */
  private async read({ plan, model }: { plan: SubscriptionPlan; model: Model }, ids: readonly string[]): Promise<Record<string, unknown>[]> {
    const rowField = plan.fields.find((f) => f.kind === 'row');
    const idFilter: Filter = { kind: 'compare', column: 'id', type: 'uuid', op: 'in', value: ids };
    const node: RootNode = {
      kind: 'list',
      entity: plan.entity,
      args: { filter: plan.filter ? { kind: 'and', items: [idFilter, plan.filter] } : idFilter, orderBy: [], limit: ids.length },
      selection: [...(rowField && rowField.kind === 'row' ? rowField.selection : []), { responseKey: ID_KEY, kind: 'column', column: 'id' }],
    };
    const scope = isAdmin(this.principal) ? ({ kind: 'all' } as const) : ({ kind: 'projects', projectIds: [...this.principal.projectIds] } as const);
    const { text, params } = compileRead(model, { roots: [{ responseKey: 'rows', node }], scope }, this.hub.ctx.compile);
    this.hub.stats.reads++;
    const res = await this.hub.ctx.db.queryAs<{ data: unknown }>(this.principal, text, params);
    const data = res.rows[0]?.data;
    const parsed = (typeof data === 'string' ? JSON.parse(data) : data) as { rows: Record<string, unknown>[] };
    return parsed.rows;
  }

  private deliver(op: Op, id: string, row: Record<string, unknown> | null): void {
    const event: Record<string, unknown> = {};
    for (const f of this.plan.fields) {
      if (f.kind === 'op') event[f.responseKey] = op;
      else if (f.kind === 'id') event[f.responseKey] = id;
      else if (f.kind === 'typename') event[f.responseKey] = f.value;
      else event[f.responseKey] = row;
    }
    this.hub.stats.deliveries++;
    this.push({ data: { [this.plan.responseKey]: event } });
  }

  private push(result: ExecutionResult): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: result, done: false });
      return;
    }
    if (this.queue.length >= this.hub.options.maxQueue) {
      this.queue.push({ errors: [new GraphQLError('This subscriber fell too far behind; subscribe again.', { extensions: { code: 'INTERNAL' } })] });
      this.end();
      return;
    }
    this.queue.push(result);
  }

  /** Stop: no more events; a waiting `next()` (after the queue drains) resolves done. */
  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.hub.remove(this);
    if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.queue.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.queue.length = 0;
    this.end();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the subscription (async-generator protocol; graphql-sse requires the method). */
  throw(): Promise<IteratorResult<ExecutionResult>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** One per server instance: see the module comment. */
export class LiveHub {
  readonly stats: LiveStats = { notifications: 0, reads: 0, deliveries: 0 };
  readonly options: Required<LiveOptions>;
  private readonly subscribers = new Set<Subscriber>();
  private listening: Promise<() => Promise<void>> | null = null;
  private closed = false;
  private stopFollowingModel: (() => void) | undefined;

  constructor(
    readonly ctx: LiveHubContext,
    options: LiveOptions = {},
  ) {
    this.options = {
      coalesceMs: options.coalesceMs ?? 30,
      recheckMs: options.recheckMs ?? 5_000,
      maxIdsPerRead: options.maxIdsPerRead ?? 1_000,
      maxQueue: options.maxQueue ?? 10_000,
    };
    // A run-time model change (SPEC M-7) re-plans every subscription at once: one whose entity or fields are
    // gone ends with MODEL_CHANGED now, rather than waiting silently for events that can no longer come.
    this.stopFollowingModel = ctx.models?.onSwap(() => {
      for (const sub of [...this.subscribers]) sub.currentPlan();
    });
  }

  /** Open subscriptions on this instance. */
  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Start a subscription: resolves once this instance LISTENs, so every write committed afterwards is seen.
   * @returns an async iterator of execution results (`{ data: { <key>: event } }`, or a final `{ errors }`);
   *          `return()` ends it
   * @throws Error when the hub is closed (the server is shutting down), or the driver's error when LISTEN fails
   */
  async subscribe(args: LiveSubscribeArgs): Promise<AsyncIterableIterator<ExecutionResult>> {
    if (this.closed) throw new Error('The server is shutting down; subscribe again in a moment.');
    if (!this.listening) {
      this.listening = this.ctx.db.listen(EVENTS_CHANNEL, (payload) => this.onNotification(payload));
      this.listening.catch(() => {
        this.listening = null;
      });
    }
    await this.listening;
    const sub = new Subscriber(this, args);
    this.subscribers.add(sub);
    return sub;
  }

  /** @internal */
  remove(sub: Subscriber): void {
    this.subscribers.delete(sub);
  }

  private onNotification(payload: string): void {
    const n = parseChangeNotification(payload);
    if (!n) return;
    this.stats.notifications++;
    for (const sub of this.subscribers) if (sub.entity === n.entity) sub.accept(n);
  }

  /** End every subscription (each iterator completes) and stop listening. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopFollowingModel?.();
    for (const sub of [...this.subscribers]) sub.end();
    const listening = this.listening;
    this.listening = null;
    if (listening) await (await listening.catch(() => async () => undefined))().catch(() => undefined);
  }
}
