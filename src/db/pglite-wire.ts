/**
 * Backend messages of one PGlite protocol exchange read straight from the bytes PGlite hands over
 * (`execProtocolRawStream`), for `pglite-session.ts`.
 *
 * Why not PGlite's own parsing (`execProtocolStream`): its protocol parser copies every chunk PGlite writes, merges
 * the chunks of a large DataRow by reallocating, then copies each field once more before decoding it; on the list
 * case's ~50 KB JSON row that was the largest single JavaScript cost of a request in the CPU profile. Here the
 * chunks are joined once and each text field is decoded from a view, without copies.
 *
 * DataRow and CommandComplete are read here (the same shapes as PGlite's `DataRowMessage` / `CommandCompleteMessage`,
 * which is all `parseResults` reads); every other message (errors and notices, descriptions, …) is handed to
 * PGlite's own protocol `Parser`, so errors are the very `DatabaseError` objects PGlite throws.
 */
import { protocol } from '@electric-sql/pglite';

/** A backend message: `name` as PGlite's parser names it, plus its fields. */
export interface WireMessage {
  readonly name: string;
  readonly length: number;
  readonly [field: string]: unknown;
}

const DATA_ROW = 0x44; // 'D'
const COMMAND_COMPLETE = 0x43; // 'C'
const BIND_COMPLETE = 0x32; // '2'
const CLOSE_COMPLETE = 0x33; // '3'

const decoder = new TextDecoder();

/** Collects the chunks of one exchange. */
export class WireReader {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  /** `onRawData` of `execProtocolRawStream`: keep a copy of the chunk (PGlite reuses its memory). */
  readonly push = (chunk: Uint8Array): void => {
    this.chunks.push(chunk.slice());
    this.size += chunk.length;
  };

  /**
   * The messages received, in order (BindComplete and CloseComplete left out).
   * @throws Error when the bytes end inside a message (PGlite returned an incomplete exchange)
   */
  messages(): WireMessage[] {
    const bytes = this.joined();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: WireMessage[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      if (offset + 5 > bytes.length) throw new Error('PGlite returned an incomplete protocol message');
      const code = bytes[offset];
      const length = view.getUint32(offset + 1);
      const end = offset + 1 + length;
      if (end > bytes.length) throw new Error('PGlite returned an incomplete protocol message');
      if (code === DATA_ROW) {
        const count = view.getUint16(offset + 5);
        const fields: (string | null)[] = new Array(count);
        let p = offset + 7;
        for (let i = 0; i < count; i++) {
          const n = view.getInt32(p);
          p += 4;
          if (n === -1) fields[i] = null;
          else {
            fields[i] = decoder.decode(bytes.subarray(p, p + n));
            p += n;
          }
        }
        out.push({ name: 'dataRow', length, fields, fieldCount: count });
      } else if (code === COMMAND_COMPLETE) {
        out.push({ name: 'commandComplete', length, text: decoder.decode(bytes.subarray(offset + 5, end - 1)) });
      } else if (code !== BIND_COMPLETE && code !== CLOSE_COMPLETE) {
        new protocol.Parser().parse(bytes.subarray(offset, end), (m) => out.push(m as unknown as WireMessage));
      }
      offset = end;
    }
    return out;
  }

  private joined(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0];
    const all = new Uint8Array(this.size);
    let offset = 0;
    for (const c of this.chunks) {
      all.set(c, offset);
      offset += c.length;
    }
    return all;
  }
}
