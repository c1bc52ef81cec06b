/**
 * PostgreSQL `COPY … FROM STDIN` on one node-postgres connection, for the ingestion benchmark's reference path
 * (`ingest.ts`), through `pg-copy-streams`. Only the benchmark uses it.
 *
 * COPY text format helpers (`copyText`, `copyRow`) escape backslash, tab, newline and carriage return, and write
 * `\N` for null.
 */
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

/** A value of one COPY text-format column: null → `\N`, objects → JSON, the rest → `String(value)`. */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const s = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : s;
}

/** One COPY text-format line (tab-separated, newline-terminated). */
export function copyRow(values: readonly unknown[]): string {
  return `${values.map(copyText).join('\t')}\n`;
}

/**
 * Lines joined into buffers of about `chunkBytes` each (CopyData messages), so the timed COPY only writes bytes.
 * @param lines COPY text lines, each ending in a newline
 */
export function copyChunks(lines: readonly string[], chunkBytes = 64 * 1024): Buffer[] {
  const chunks: Buffer[] = [];
  let parts: string[] = [];
  let size = 0;
  for (const line of lines) {
    parts.push(line);
    size += line.length;
    if (size >= chunkBytes) {
      chunks.push(Buffer.from(parts.join('')));
      parts = [];
      size = 0;
    }
  }
  if (parts.length) chunks.push(Buffer.from(parts.join('')));
  return chunks;
}

/**
 * Which implementation `copyFrom` uses (for the report).
 */
export async function copyImplementation(): Promise<string> {
  return 'pg-copy-streams';
}

/**
 * Run `COPY <table> (<columns>) FROM STDIN` with the given text-format chunks on `client`, through
 * `pg-copy-streams` (the well-kept library for COPY on node-postgres).
 * @param sql the whole COPY statement (text format)
 * @returns the row count PostgreSQL reports
 * @throws the driver's error when PostgreSQL rejects the statement or a row
 */
export async function copyFrom(client: pg.Client, sql: string, chunks: readonly Buffer[]): Promise<number> {
  const stream = client.query(copyStreams.from(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', () => resolve());
    void (async () => {
      for (const chunk of chunks) if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
      stream.end();
    })();
  });
  return stream.rowCount ?? 0;
}
