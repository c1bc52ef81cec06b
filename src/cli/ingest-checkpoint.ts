/**
 * Resumability of `lattice ingest`: the file's identity and the checkpoint file `<file>.lattice-progress.json`.
 *
 * The checkpoint records the last line (and the byte offset after it) up to which every batch was answered
 * by the server, so a rerun after an interruption starts there. Event ids are derived from the file's
 * identity and the line number, and the rows they create take those ids (`eventRowId` in src/rest/rows.ts),
 * so a batch resent after an interruption is idempotent on the server.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';

/** Bytes of the file head that go into its identity. */
export const HEAD_BYTES = 1024 * 1024;

/** What identifies a file's content cheaply: its size and the sha256 of its first `HEAD_BYTES` bytes. */
export interface FileIdentity {
  readonly size: number;
  readonly headSha256: string;
}

/** The checkpoint file's content. */
export interface Checkpoint extends FileIdentity {
  readonly version: 1;
  readonly format: string;
  readonly entity: string | null;
  /** Every line ≤ this one was answered by the server (accepted or rejected). */
  readonly line: number;
  /** Byte offset just after `line`. */
  readonly offset: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly updated_at: string;
}

/** Size and head hash of `file`. */
export async function fileIdentity(file: string): Promise<FileIdentity> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await handle.read(head, 0, head.length, 0);
    return { size, headSha256: createHash('sha256').update(head).digest('hex') };
  } finally {
    await handle.close();
  }
}

/** The checkpoint path of an input file. */
export const checkpointPath = (file: string): string => `${file}.lattice-progress.json`;

/** The checkpoint of `file`, or undefined when there is none (or it is unreadable). */
export async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  try {
    const c = JSON.parse(await readFile(checkpointPath(file), 'utf8')) as Checkpoint;
    return c.version === 1 ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Write the checkpoint atomically (temporary file, then rename). */
export async function writeCheckpoint(file: string, c: Checkpoint): Promise<void> {
  const tmp = `${checkpointPath(file)}.tmp`;
  await writeFile(tmp, JSON.stringify(c));
  await rename(tmp, checkpointPath(file));
}

/** Remove the checkpoint (after a complete run). */
export async function removeCheckpoint(file: string): Promise<void> {
  await rm(checkpointPath(file), { force: true });
}

/**
 * The event id of line `line`: a name-based UUID (RFC 9562 version 8 layout) of sha256(file identity, line),
 * so the same line of the same file always gets the same id (and row id), and another file other ids.
 */
export function lineEventId(identity: FileIdentity, line: number): string {
  const b = createHash('sha256').update(`${identity.headSha256}\u0000${identity.size}\u0000${line}`).digest();
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
