// The shared encoding of records: a mapped value as one record's text, and texts as the UTF-8 bytes of a request
// body or a file write (JSON lines, `_bulk`, syslog frames).
import type { Mapping } from '../contracts/mapping.ts';
import type { SinkRecord } from '../contracts/sink.ts';
import { toJsonLine } from '../model/json.ts';

/**
 * A mapped value as one record's text: the JSON text on one line for a `json` mapping (no raw line break, any
 * depth), the string itself for a `text` one. Throws what JSON.stringify throws on what is not JSON (a bigint).
 */
export function encodeValue(mapping: Pick<Mapping, 'encoding'>, value: unknown): string {
  return mapping.encoding === 'json' ? toJsonLine(value) : String(value);
}

/** The scratch space of bodies whose size is not known in advance; kept between bodies (it only grows). */
let scratch = Buffer.allocUnsafe(1 << 16);

/**
 * The UTF-8 bytes of many strings one after the other, built without joining them into one string first.
 * `Buffer.from` of a long concatenated string costs about 4 µs per 1 KB envelope in Node 24 (flattening the
 * rope, then transcoding it); writing each string into a buffer costs about a tenth of that (docs/performance.md).
 * With `capacity` (the exact byte count, when the records already know theirs) the strings are written straight
 * into the body; without, into a scratch buffer shared by the process, copied out once by `bytes()` — so
 * synchronous from the first `add` to `bytes()`.
 */
export class Utf8Body {
  #buf: Buffer;
  #length = 0;
  readonly #own: boolean;

  constructor(capacity?: number) {
    this.#own = capacity !== undefined;
    this.#buf = capacity !== undefined ? Buffer.allocUnsafe(capacity) : scratch;
  }

  add(text: string): this {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units); the exact count
    // only when that bound does not fit.
    if (this.#length + text.length * 3 > this.#buf.length) {
      const needed = this.#length + Buffer.byteLength(text, 'utf8');
      if (needed > this.#buf.length) this.#grow(needed);
    }
    this.#length += this.#buf.write(text, this.#length, 'utf8');
    return this;
  }

  /** The bytes added: the body itself when it was sized in advance, else a copy (the scratch space is reused). */
  bytes(): Buffer {
    if (this.#own) return this.#length === this.#buf.length ? this.#buf : this.#buf.subarray(0, this.#length);
    const out = Buffer.allocUnsafe(this.#length);
    this.#buf.copy(out, 0, 0, this.#length);
    return out;
  }

  #grow(needed: number): void {
    const next = Buffer.allocUnsafe(Math.max(needed, this.#buf.length * 2));
    this.#buf.copy(next, 0, 0, this.#length);
    this.#buf = next;
    if (!this.#own) scratch = next;
  }
}

/** The payloads of `records`, each followed by a newline: the JSON-lines body of a file, HEC, a pipe. */
export function jsonLines(records: readonly SinkRecord[]): Buffer {
  let bytes = 0;
  for (const r of records) bytes += r.bytes + 1;
  const body = new Utf8Body(bytes);
  for (const r of records) body.add(r.payload).add('\n');
  return body.bytes();
}
