/**
 * The ingestion benchmark's part of the markdown report (`report.ts`): one table of every measured load —
 * path | clients | rows/s | × COPY | server CPU/row | PG CPU/row — then the notes on the data and set-up.
 */
import type { IngestResult } from './ingest.js';

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const us = (x: number | null): string => (x === null ? 'n/a' : fmt(x, 1));

/** Markdown lines of the ingestion section (empty when nothing was measured). */
export function formatIngestSection(r: IngestResult | undefined): string[] {
  if (!r || r.measurements.length === 0) return [];
  return [
    '## Ingestion',
    '',
    'The same rows loaded by each path into an emptied table; every acknowledged row counted in the table afterwards. ' +
      'COPY ran before and after the HTTP loads; × COPY is rows/s ÷ the mean of the two. ' +
      'CPU per row in microseconds: the Lattice process, and the PostgreSQL backends serving the path (COPY: its one connection).',
    '',
    '| Path | Clients | Rows/s | × COPY | Server CPU/row (µs) | PG CPU/row (µs) |',
    '|---|---:|---:|---:|---:|---:|',
    ...r.measurements.map(
      (m) =>
        `| ${m.kind}: ${m.path.startsWith('COPY') ? m.path.replace('COPY', 'COPY FROM STDIN (1 connection)') : m.path} | ${m.clients} | ` +
        `${fmt(m.rowsPerSecond, 0)} | ${m.path.startsWith('COPY') ? `${fmt(m.ratioToCopy, 2)}×` : `**${fmt(m.ratioToCopy, 2)}×**`} | ` +
        `${us(m.serverCpuUsPerRow)} | ${us(m.postgresCpuUsPerRow)} |`,
    ),
    '',
    ...r.notes.map((n) => `- ${n}`),
    '- Batches POSTed by concurrent keep-alive clients in the benchmark\'s process, each taking the next unsent batch; ' +
      'any rejected event, non-success answer or missing row fails the run',
    '',
  ];
}
