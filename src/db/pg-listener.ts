/**
 * LISTEN/NOTIFY for the node-postgres driver: one dedicated connection (outside the pool, since LISTEN is
 * session state) shared by every subscription, re-established with back-off when the server restarts
 * (SPEC "Reliability": the server recovers by itself). Notifications sent while disconnected are lost, as
 * with any PostgreSQL LISTEN; subscribers re-read rows, so a gap only delays events.
 */
import pg from 'pg';
import { quoteIdent } from '../query/sql/ident.js';
import { withoutCancellation } from './cancel.js';

type Handler = (payload: string) => void;

/** Shared LISTEN connection. Create one per `Db`; `close()` ends it. */
export class PgListener {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private closed = false;
  private retryMs = 100;
  private retryTimer: NodeJS.Timeout | null = null;

  /** @param config connection settings of the dedicated client (same server as the pool). */
  constructor(private readonly config: pg.ClientConfig) {}

  /**
   * Subscribe `handler` to `channel` (exact, case-sensitive name).
   * @returns an unsubscribe function (UNLISTENs when the channel's last handler leaves)
   * @throws the driver's error when the first connection cannot be made.
   */
  async listen(channel: string, handler: Handler): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('The database is closed');
    let set = this.handlers.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    try {
      const client = await this.ensureClient();
      if (first) await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      set.delete(handler);
      if (set.size === 0) this.handlers.delete(channel);
      throw err;
    }
    return async () => {
      const s = this.handlers.get(channel);
      if (!s || !s.delete(handler) || s.size > 0) return;
      this.handlers.delete(channel);
      if (this.client) await this.client.query(`UNLISTEN ${quoteIdent(channel)}`).catch(() => undefined);
    };
  }

  /** End the dedicated connection and stop reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.handlers.clear();
    const client = this.client ?? (this.connecting ? await this.connecting.catch(() => null) : null);
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private ensureClient(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      this.connecting = this.connect().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    // The connection may have been opened during a request, whose async context its events then carry: handlers
    // (live pushes) must not inherit that request's cancellation (`cancel.ts`).
    client.on('notification', (msg) =>
      withoutCancellation(() => {
        for (const h of this.handlers.get(msg.channel) ?? []) h(msg.payload ?? '');
      }),
    );
    const lost = () => {
      if (this.client !== client) return;
      this.client = null;
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    await client.connect();
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error('The database is closed');
    }
    for (const channel of this.handlers.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
    this.client = client;
    this.retryMs = 100;
    return client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer || this.handlers.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.ensureClient().catch(() => {
        this.retryMs = Math.min(this.retryMs * 2, 5000);
        this.scheduleReconnect();
      });
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
