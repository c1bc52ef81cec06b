/**
 * A TCP proxy in front of PostgreSQL that counts protocol messages by type, in both directions, so a test can
 * see how many round trips a call costs (each frontend Sync or simple Query is answered by one ReadyForQuery
 * the client waits for). Only for plain (non-TLS) connections; the startup packet is passed through uncounted.
 */
import net from 'node:net';

/** Counts of messages seen since the last `reset()`, by one-letter type (e.g. `S` Sync, `Q` Query, `Z` ReadyForQuery). */
export interface ProtocolCounts {
  frontend: Record<string, number>;
  backend: Record<string, number>;
}

export interface ProtocolProxy {
  /** The PostgreSQL URL that goes through the proxy. */
  readonly url: string;
  readonly counts: ProtocolCounts;
  reset(): void;
  /** Round trips since the last reset: ReadyForQuery messages the server sent. */
  roundTrips(): number;
  close(): Promise<void>;
}

/** Parses a stream of `type(1) length(4) body` messages, optionally after an untyped startup packet. */
function counter(into: () => Record<string, number>, startup: boolean): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let awaitingStartup = startup;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (awaitingStartup) {
        if (buf.length < 4) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        buf = buf.subarray(len);
        awaitingStartup = false;
        continue;
      }
      if (buf.length < 5) return;
      const len = buf.readInt32BE(1);
      if (buf.length < 1 + len) return;
      const type = String.fromCharCode(buf[0]);
      const counts = into();
      counts[type] = (counts[type] ?? 0) + 1;
      buf = buf.subarray(1 + len);
    }
  };
}

/**
 * Start a proxy to the server of `targetUrl`.
 * @returns the proxy; its `url` is `targetUrl` with host and port replaced
 */
export async function startProtocolProxy(targetUrl: string): Promise<ProtocolProxy> {
  const target = new URL(targetUrl);
  const counts: ProtocolCounts = { frontend: {}, backend: {} };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    const countFrontend = counter(() => counts.frontend, true);
    const countBackend = counter(() => counts.backend, false);
    client.on('data', (d) => {
      countFrontend(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      countBackend(d);
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    counts,
    reset() {
      counts.frontend = {};
      counts.backend = {};
    },
    roundTrips: () => counts.backend.Z ?? 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
