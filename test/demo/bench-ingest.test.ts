/**
 * Guards the ingestion benchmark (`bench/ingest*.ts`, `BENCH_CASES=ingest,ingest-langfuse,ingest-otlp`): end to
 * end on PostgreSQL with a few thousand rows — COPY and every HTTP path (`/api/v1/ingest`, the Langfuse and OTLP
 * routes) load the same rows, with one and two clients, and every acknowledged row is counted in the table; the
 * report table; and, without a database, the checks that make a lost or rejected row fail the run.
 * The end-to-end part needs PostgreSQL (COPY, Lattice in its own process) and is skipped without TEST_DATABASE_URL.
 */
import { describe, expect, it } from 'vitest';
import { copyChunks, copyRow, copyText } from '../../bench/copy.js';
import { metricData, observationData, OBSERVATIONS_PER_TRACE } from '../../bench/ingest-data.js';
import { acknowledged } from '../../bench/ingest-load.js';
import { formatIngestSection } from '../../bench/ingest-report.js';
import { formatReport } from '../../bench/report.js';
import { runIngestBench, verifyRows } from '../../bench/ingest.js';
import { dropDatabase } from '../../bench/seed.js';
import type { Db } from '../../src/db/types.js';

const url = process.env.TEST_DATABASE_URL;
const PROJECT = '0190a0a0-0000-7000-8000-00000000a001';

describe('ingestion benchmark checks', () => {
  it('fails a load whose acknowledged rows are not all in the table', async () => {
    const db = { query: async () => ({ rows: [{ n: '998' }] }) } as unknown as Db;
    await expect(verifyRows(db, 'app.metric', PROJECT, 1000, 1000, 'POST /api/v1/ingest with 4 client(s)')).rejects.toThrow(
      /1,000 rows acknowledged but 998 in app\.metric — 2 rows LOST/,
    );
    const all = { query: async () => ({ rows: [{ n: '1000' }] }) } as unknown as Db;
    await expect(verifyRows(all, 'app.metric', PROJECT, 1000, 1000, 'x')).resolves.toBe(1000);
    // Fewer acknowledged than sent is a failure too (the benchmark's data is valid).
    await expect(verifyRows(all, 'app.metric', PROJECT, 1000, 1200, 'x')).rejects.toThrow(/expected 1,200 rows/);
  });

  it('fails a batch with a rejected event or span', () => {
    const ok = Buffer.from(JSON.stringify({ successes: [{ id: 'a', status: 201 }, { id: 'b', status: 200 }], errors: [] }));
    expect(acknowledged('batch207', 207, ok, 2)).toBe(2);
    const bad = Buffer.from(JSON.stringify({ successes: [{ id: 'a', status: 201 }], errors: [{ id: 'b', status: 400, message: 'bad body' }] }));
    expect(() => acknowledged('batch207', 207, bad, 2)).toThrow(/rejected 1 of 2 events, first: 400 bad body/);
    expect(() => acknowledged('batch207', 207, ok, 3)).toThrow(/acknowledged 2 of 3/);
    expect(() => acknowledged('batch207', 503, Buffer.from('{"error":"down"}'), 2)).toThrow(/answered 503/);
    expect(() => acknowledged('otlp', 400, Buffer.from(''), 2)).toThrow(/OTLP answered 400/);
  });

  it('puts the ingestion table into the markdown report, also when no query case ran', () => {
    const m = (path: string, clients: number, rate: number, ratio: number, server: number | null) => ({
      kind: 'metric', path, clients, rows: 1000, seconds: 1000 / rate, rowsPerSecond: rate, ratioToCopy: ratio, serverCpuUsPerRow: server, postgresCpuUsPerRow: 40,
    });
    const md = formatReport({
      date: '2026-01-01T00:00:00Z', node: 'v20', postgres: 'PostgreSQL 15', cpus: '2 × CPU', cpuCount: 2, cpuBusyAtStart: 0.1, data: [],
      connections: 10, duration: 5, warmup: 3, rounds: 3, peers: [], cases: [],
      ingest: {
        measurements: [m('COPY', 1, 20000, 1, null), m('POST /api/v1/ingest', 4, 16000, 0.8, 25.5), m('COPY (again)', 1, 20000, 1, null)],
        notes: ['metric rows: 1,000'],
      },
    });
    expect(md).toContain('## Ingestion');
    expect(md).toContain('| metric: COPY FROM STDIN (1 connection) | 1 | 20,000 | 1.00× | n/a | 40.0 |');
    expect(md).toContain('| metric: POST /api/v1/ingest | 4 | 16,000 | **0.80×** | 25.5 | 40.0 |');
    expect(md).toContain('| metric: COPY FROM STDIN (1 connection) (again) | 1 | 20,000 | 1.00× | n/a | 40.0 |');
    expect(md).toContain('- metric rows: 1,000');
    expect(md).not.toContain('## Servers'); // no query case, no query servers
    expect(md).not.toContain('Requests per second');
  });

  it('writes COPY text with escapes and the same rows for every path', () => {
    expect(copyText(null)).toBe('\\N');
    expect(copyText('a\tb\\c\nd')).toBe('a\\tb\\\\c\\nd');
    expect(copyRow([1, 'x', { a: 'b' }, null])).toBe('1\tx\t{"a":"b"}\t\\N\n');
    expect(copyChunks(['ab\n', 'cd\n', 'ef\n'], 5).map(String)).toEqual(['ab\ncd\n', 'ef\n']);
    const m = metricData(2500, PROJECT, [{ runId: PROJECT, trialId: PROJECT }], 1000);
    expect(m.restCounts).toEqual([1000, 1000, 500]);
    expect(m.copyChunks.map(String).join('').split('\n').length - 1).toBe(2500);
    expect(metricData(2500, PROJECT, [{ runId: PROJECT, trialId: PROJECT }], 1000).restBodies).toEqual(m.restBodies); // deterministic
    const o = observationData(25, PROJECT, 10);
    expect(o.counts).toEqual([10, 10, 5]);
    expect(o.traces).toBe(Math.ceil(25 / OBSERVATIONS_PER_TRACE));
    const events = o.langfuseBodies.flatMap((b) => (JSON.parse(b) as { batch: { type: string }[] }).batch);
    expect(events.map((e) => e.type).filter((t) => t === 'span-create')).toHaveLength(3);
  });
});

describe.skipIf(!url)('ingestion benchmark end to end (postgres)', () => {
  it('loads the same rows by COPY and by each HTTP path, every acknowledged row found in the table', { timeout: 600_000 }, async () => {
    const database = 'lattice_test_bench_ingest';
    const rows = 2500;
    const lines: string[] = [];
    try {
      const r = await runIngestBench(url!, ['ingest', 'ingest-langfuse', 'ingest-otlp'], { rows, batchSize: 500, clients: [1, 2], database }, (l) => lines.push(l));
      expect(r.measurements.map((m) => `${m.kind}: ${m.path} ×${m.clients}`)).toEqual([
        'metric: COPY ×1',
        'metric: POST /api/v1/ingest ×1',
        'metric: POST /api/v1/ingest ×2',
        'metric: COPY (again) ×1',
        'observation: COPY ×1',
        'observation: POST /api/public/ingestion (Langfuse) ×1',
        'observation: POST /api/public/ingestion (Langfuse) ×2',
        'observation: POST /api/public/otel/v1/traces (OTLP protobuf) ×1',
        'observation: POST /api/public/otel/v1/traces (OTLP protobuf) ×2',
        'observation: COPY (again) ×1',
      ]);
      // Every load was verified by a count in the table (a shortfall throws); here every path loaded all rows.
      for (const m of r.measurements) {
        expect(m.rows).toBe(rows);
        expect(m.rowsPerSecond).toBeGreaterThan(0);
        expect(m.ratioToCopy).toBeGreaterThan(0);
        if (!m.path.startsWith('COPY')) expect(m.serverCpuUsPerRow).not.toBeNull();
      }
      expect(lines.filter((l) => l.includes('all in the table'))).toHaveLength(6);
      const md = formatIngestSection(r).join('\n');
      expect(md).toContain('| Path | Clients | Rows/s | × COPY | Server CPU/row (µs) | PG CPU/row (µs) |');
      expect(md).toMatch(/\| metric: COPY FROM STDIN \(1 connection\) \| 1 \| [\d,]+ \| [\d.]+× \| n\/a \|/);
      expect(md).toMatch(/\| metric: COPY FROM STDIN \(1 connection\) \(again\) \| 1 \| [\d,]+ \| [\d.]+× \| n\/a \|/);
      expect(md).toMatch(/\| observation: POST \/api\/public\/otel\/v1\/traces \(OTLP protobuf\) \| 2 \| [\d,]+ \| \*\*[\d.]+×\*\* \|/);
    } finally {
      await dropDatabase(url!, database);
      await dropDatabase(url!, `${database}_traces`);
    }
  });
});
