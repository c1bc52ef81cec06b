/**
 * `lattice ingest <file.jsonl | file.csv> --entity <name>` (SPEC C; issue 7 item 6): stream a file into a
 * running Lattice through its REST API, as any client would.
 *
 * - Generic format: each JSONL line (an object of field values) or CSV record (header row = field names, cells
 *   typed by the entity's field types read from the served `GET /api/openapi.json`, empty cell omitted)
 *   becomes a `<entity>.create` event of `POST /api/v1/ingest` (SPEC R-2), whose id — and so the row id when
 *   the line has no `id` — is derived from the file's identity and the line number (`ingest-checkpoint.ts`).
 *   A resent batch therefore never duplicates a row: a create of an existing row with the same fields is a 200.
 * - `--format langfuse`: each JSONL line is a Langfuse ingestion event `{ id, type, timestamp, body }`, sent
 *   unchanged to `POST /api/public/ingestion` (deduplicated by envelope id on the server).
 * - Batches of at most `--batch-size` events (≤ 1,000, the server's MAX_BATCH) and 4 MiB (the server accepts
 *   10 MB; a longer line goes alone, and a 413 for it rejects that line), `--concurrency` of them in flight.
 *   Network errors, 429 and 5xx are retried with exponential back-off; any other whole-request refusal stops
 *   the run (exit 1) with the checkpoint kept. With concurrency > 1 batches may commit out of order: a file
 *   whose rows reference rows of the same file should use `--concurrency 1`.
 * - After each answered batch the checkpoint `<file>.lattice-progress.json` advances to the last line up to
 *   which every batch was answered; a rerun resumes there (JSONL: seeks to the byte offset; CSV: re-parses and
 *   skips). A file whose size or head changed is refused until `--restart`.
 * - Rejected lines (unreadable locally, or in the 207's `errors`) go to `<file>.rejected.jsonl` as
 *   `{ line, status, reason }` and are summarised. Exit code 0: all accepted; 2: some rejected; 1: failure.
 */
import cliProgress from 'cli-progress';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAX_BATCH } from '../rest/rows.js';
import {
  fileIdentity,
  lineEventId,
  readCheckpoint,
  removeCheckpoint,
  writeCheckpoint,
  type Checkpoint,
  type FileIdentity,
} from './ingest-checkpoint.js';
import { entityFieldKinds, readCsv, readJsonl, type SourceRecord } from './ingest-source.js';
import { CliError, type CliIo } from './io.js';

/** Largest request body sent (bytes). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export interface IngestOptions {
  readonly file: string;
  /** Target entity (generic format). */
  readonly entity?: string;
  readonly format: 'auto' | 'jsonl' | 'csv' | 'langfuse';
  /** Server origin. */
  readonly url: string;
  /** Authorization header value. */
  readonly auth: string;
  /** Project id written into each row (generic format; needed for admin keys). */
  readonly projectId?: string;
  readonly batchSize?: number;
  readonly concurrency?: number;
  readonly delimiter?: string;
  /** Ignore (and replace) an existing checkpoint. */
  readonly restart?: boolean;
  /** Attempts per batch for retryable failures (default 8). */
  readonly retries?: number;
  /** First back-off delay in ms (default 500; doubled per attempt, at most 30 s). */
  readonly backoffMs?: number;
  /** Stops reading when aborted; batches in flight finish and are checkpointed (SIGINT in the CLI). */
  readonly signal?: AbortSignal;
  /** Called after each answered batch with the number answered so far (tests interrupt through it). */
  readonly onBatch?: (answered: number) => void;
  /** Progress display: `bar` (cli-progress on stderr), `lines` (periodic lines), `none`. */
  readonly progress?: 'bar' | 'lines' | 'none';
  /** Interval of progress lines in ms (default 5,000). */
  readonly progressIntervalMs?: number;
}

/** The outcome of a run. */
export interface IngestSummary {
  readonly accepted: number;
  readonly rejected: number;
  /** Lines skipped because an earlier run had them answered. */
  readonly resumedFromLine: number;
  readonly batches: number;
  readonly seconds: number;
  /** True when the run was interrupted (signal) before the end of the file. */
  readonly interrupted: boolean;
  readonly rejectedFile: string;
}

/** One rejected line in `<file>.rejected.jsonl`. */
export interface RejectedLine {
  readonly line: number;
  /** HTTP status of the event's result; 0 when the line could not be read locally. */
  readonly status: number;
  readonly reason: string;
}

interface Batch {
  readonly seq: number;
  readonly events: Array<{ id: string; type: string; body: unknown; timestamp?: unknown }>;
  readonly lines: number[];
  readonly rejected: RejectedLine[];
  bytes: number;
  lastLine: number;
  endOffset: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * POST a batch, retrying network errors, 429 and 5xx with exponential back-off.
 * @returns the 207 answer's error entries
 * @throws CliError on a whole-request refusal (4xx) or when the retries are exhausted
 */
async function postBatch(options: IngestOptions, route: string, batch: Batch): Promise<Array<{ id: string; status: number; message: string }>> {
  const url = new URL(route, options.url).href;
  const body = JSON.stringify({ batch: batch.events });
  const retries = options.retries ?? 8;
  for (let attempt = 1; ; attempt++) {
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: options.auth }, body, signal: AbortSignal.timeout(120_000) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (attempt >= retries) throw new CliError(`No answer from ${url} after ${attempt} attempts (${(err as Error).message}); rerun to resume from the checkpoint.`);
      await sleep(Math.min(30_000, (options.backoffMs ?? 500) * 2 ** (attempt - 1)));
      continue;
    }
    if (status === 429 || status >= 500) {
      if (attempt >= retries) throw new CliError(`The server answered ${status} ${attempt} times: ${text.slice(0, 300)}; rerun to resume from the checkpoint.`);
      await sleep(Math.min(30_000, (options.backoffMs ?? 500) * 2 ** (attempt - 1)));
      continue;
    }
    let json: { successes?: unknown; errors?: Array<{ id: string; status: number; message: string }>; error?: { code?: string; message?: string } } | undefined;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status !== 207 && !(status >= 200 && status < 300)) {
      const e = json?.error;
      // One event too large for the server's body limit: that line is rejected, the run goes on.
      if (status === 413 && batch.events.length === 1) return [{ id: batch.events[0].id, status, message: e?.message ?? 'request body too large' }];
      throw new CliError(`The server refused a batch (${status}${e?.code ? ` ${e.code}` : ''}): ${e?.message ?? text.slice(0, 300)}`);
    }
    if (!json || !Array.isArray(json.successes) || !Array.isArray(json.errors)) throw new CliError(`The server's answer is not an ingestion result: ${text.slice(0, 200)}`);
    return json.errors;
  }
}

/** `auto` → `csv` for a `.csv` file, else `jsonl`. */
function resolveFormat(options: IngestOptions): 'jsonl' | 'csv' | 'langfuse' {
  if (options.format !== 'auto') return options.format;
  return path.extname(options.file).toLowerCase() === '.csv' ? 'csv' : 'jsonl';
}

/** Carry over rejections of lines ≤ `line` from an earlier run; drop the rest (they are resent). */
async function trimRejected(file: string, line: number): Promise<number> {
  let kept: string[] = [];
  try {
    kept = (await readFile(file, 'utf8')).split('\n').filter((l) => l && (JSON.parse(l) as RejectedLine).line <= line);
  } catch {
    kept = [];
  }
  await writeFile(file, kept.map((l) => l + '\n').join(''));
  return kept.length;
}

/**
 * Run an ingestion (see the module comment).
 * @throws CliError for unusable options, an unknown entity, a changed file with a checkpoint, a refused batch,
 *         or exhausted retries (the checkpoint then allows resuming)
 */
export async function runIngest(options: IngestOptions, io: CliIo): Promise<IngestSummary> {
  const format = resolveFormat(options);
  const batchSize = options.batchSize ?? 500;
  const concurrency = options.concurrency ?? 3;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) throw new CliError(`--batch-size must be 1–${MAX_BATCH} (the server's limit per batch).`);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw new CliError('--concurrency must be 1–32.');
  if (format !== 'langfuse' && !options.entity) throw new CliError('--entity <name> is required (the entity the rows belong to), unless --format langfuse.');
  if (format === 'langfuse' && options.projectId) throw new CliError('--project does not apply to --format langfuse: the key decides the project.');
  let identity: FileIdentity;
  try {
    if (!(await stat(options.file)).isFile()) throw new Error('not a file');
    identity = await fileIdentity(options.file);
  } catch (err) {
    throw new CliError(`Cannot read ${options.file}: ${(err as Error).message}`);
  }
  const entity = format === 'langfuse' ? null : options.entity!;

  // The entity's fields from the served model (also checks the entity exists before anything is sent).
  let kinds = new Map();
  if (entity) {
    let doc: unknown;
    try {
      const res = await fetch(new URL('/api/openapi.json', options.url), { headers: { authorization: options.auth }, signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = await res.json();
    } catch (err) {
      throw new CliError(`Cannot read the served model from ${options.url}/api/openapi.json: ${(err as Error).message}. Is the server running?`);
    }
    kinds = entityFieldKinds(doc, entity) as Map<string, never>;
  }

  const rejectedFile = `${options.file}.rejected.jsonl`;
  let start = { line: 0, offset: 0, accepted: 0, rejected: 0 };
  const previous = options.restart ? undefined : await readCheckpoint(options.file);
  if (previous) {
    if (previous.size !== identity.size || previous.headSha256 !== identity.headSha256) {
      throw new CliError(
        `${options.file} changed since the interrupted run recorded in ${path.basename(options.file)}.lattice-progress.json ` +
          `(size ${previous.size} → ${identity.size} bytes${previous.headSha256 !== identity.headSha256 ? ', different content' : ''}); ` +
          'it cannot be resumed. Pass --restart to ingest it from the beginning.',
      );
    }
    if (previous.format !== format || previous.entity !== entity) {
      throw new CliError(`The checkpoint of ${options.file} is of --format ${previous.format}${previous.entity ? ` --entity ${previous.entity}` : ''}; rerun with those, or pass --restart.`);
    }
    start = { line: previous.line, offset: previous.offset, accepted: previous.accepted, rejected: await trimRejected(rejectedFile, previous.line) };
    io.err(`Resuming ${options.file} after line ${previous.line} (${previous.accepted} rows accepted before).`);
  } else {
    await writeFile(rejectedFile, '');
  }

  const route = format === 'langfuse' ? '/api/public/ingestion' : '/api/v1/ingest';
  const records: AsyncGenerator<SourceRecord> =
    format === 'csv' ? readCsv(options.file, kinds, options.delimiter ?? ',', start.line) : readJsonl(options.file, start.offset, start.line + 1);

  // State: batches answered out of order; the checkpoint advances over the contiguous answered prefix.
  let accepted = start.accepted;
  let rejected = start.rejected;
  let sentRows = 0;
  let nextSeq = 0;
  let ackedSeq = -1;
  let ackedLine = start.line;
  let ackedOffset = start.offset;
  let batches = 0;
  const done = new Map<number, Batch>();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const began = performance.now();

  const mode = options.progress ?? 'none';
  const bar = mode === 'bar' ? new cliProgress.SingleBar({ format: 'ingest {bar} {percentage}% | {rows} rows | {rate} rows/s | {rejected} rejected | ETA {eta_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  const rate = () => Math.round(sentRows / Math.max(0.001, (performance.now() - began) / 1000));
  const report = () => {
    if (bar) bar.update(ackedOffset, { rows: accepted + rejected, rate: rate(), rejected });
    else if (mode === 'lines') io.err(`ingest: ${accepted + rejected} rows answered (${accepted} accepted, ${rejected} rejected), ${rate()} rows/s, ${Math.round((100 * ackedOffset) / Math.max(1, identity.size))}% of the file`);
  };
  bar?.start(identity.size, start.offset, { rows: start.accepted + start.rejected, rate: 0, rejected: start.rejected });
  const timer = mode === 'lines' ? setInterval(report, options.progressIntervalMs ?? 5_000) : undefined;

  const advance = async () => {
    let moved = false;
    while (done.has(ackedSeq + 1)) {
      const b = done.get(ackedSeq + 1)!;
      done.delete(++ackedSeq);
      ackedLine = b.lastLine;
      ackedOffset = b.endOffset;
      moved = true;
    }
    if (moved) {
      const c: Checkpoint = { version: 1, ...identity, format, entity, line: ackedLine, offset: ackedOffset, accepted, rejected, updated_at: new Date().toISOString() };
      await writeCheckpoint(options.file, c);
    }
  };

  // Bookkeeping after an answer runs one batch at a time (the checkpoint and report files are shared).
  let serial: Promise<void> = Promise.resolve();
  const send = async (b: Batch) => {
    const errors = b.events.length ? await postBatch(options, route, b) : [];
    const p = serial.then(() => record(b, errors));
    serial = p.catch(() => undefined);
    await p;
  };
  const record = async (b: Batch, errors: Array<{ id: string; status: number; message: string }>) => {
    const lineOf = new Map(b.events.map((e, i) => [e.id, b.lines[i]]));
    const out = [...b.rejected];
    for (const e of errors) out.push({ line: lineOf.get(e.id) ?? 0, status: e.status, reason: e.message });
    const failedIds = new Set(errors.map((e) => e.id));
    accepted += b.events.filter((e) => !failedIds.has(e.id)).length;
    rejected += out.length;
    sentRows += b.events.length;
    if (out.length) await appendFile(rejectedFile, out.map((r) => JSON.stringify(r) + '\n').join(''));
    done.set(b.seq, b);
    batches++;
    await advance();
    options.onBatch?.(batches);
    if (bar) report();
  };

  const dispatch = async (b: Batch) => {
    const p: Promise<void> = send(b).then(
      () => void inFlight.delete(p),
      (err: unknown) => {
        inFlight.delete(p);
        failure ??= err;
      },
    );
    inFlight.add(p);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
  };

  const fresh = (): Batch => ({ seq: nextSeq++, events: [], lines: [], rejected: [], bytes: 0, lastLine: ackedLine, endOffset: ackedOffset });
  let current = fresh();
  let interrupted = false;
  try {
    for await (const rec of records) {
      if (failure) break;
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      let event: Batch['events'][number] | undefined;
      if ('error' in rec) current.rejected.push({ line: rec.line, status: 0, reason: rec.error });
      else if (format === 'langfuse') {
        const v = rec.value as { id?: unknown; type?: unknown; body?: unknown; timestamp?: unknown };
        if (typeof v.id !== 'string' || typeof v.type !== 'string') current.rejected.push({ line: rec.line, status: 0, reason: 'not a Langfuse ingestion event: "id" and "type" strings are required' });
        else event = v as Batch['events'][number];
      } else {
        const body = options.projectId ? { ...rec.value, project_id: options.projectId } : rec.value;
        event = { id: lineEventId(identity, rec.line), type: `${entity}.create`, body };
      }
      if (event) {
        const size = Buffer.byteLength(JSON.stringify(event)) + 1;
        if (current.events.length && (current.events.length >= batchSize || current.bytes + size > MAX_BATCH_BYTES)) {
          await dispatch(current);
          current = fresh();
        }
        current.events.push(event);
        current.lines.push(rec.line);
        current.bytes += size;
      }
      current.lastLine = rec.line;
      current.endOffset = rec.endOffset;
    }
    if (!failure && !interrupted && (current.events.length || current.rejected.length)) await dispatch(current);
    await Promise.all(inFlight);
  } finally {
    if (timer) clearInterval(timer);
    await Promise.allSettled(inFlight);
    report();
    bar?.stop();
  }
  if (failure) throw failure;
  const seconds = (performance.now() - began) / 1000;
  if (!interrupted) await removeCheckpoint(options.file);
  return { accepted, rejected, resumedFromLine: start.line, batches, seconds, interrupted, rejectedFile };
}
