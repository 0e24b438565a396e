// Splits a byte stream into lines with their byte offsets, holding at most `maxLineBytes` of an unfinished line.

/**
 * Longest line the line-reading sources decode by default (their `maxLineBytes`), and the limit of
 * `audit-forwarder map`: audit records are a few KiB, so a longer line is a broken file, not a record.
 */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** A complete line (`body` without its `\n` and a trailing `\r`), or one that was longer than allowed. */
export type LineEvent =
  | { readonly kind: 'line'; readonly body: Buffer; readonly start: number; readonly end: number }
  | { readonly kind: 'too-long'; readonly start: number; readonly end: number };

/** True when the line holds only spaces, tabs and carriage returns (or nothing). */
export function isBlankLine(body: Buffer): boolean {
  for (const b of body) if (b !== 32 && b !== 9 && b !== 13) return false;
  return true;
}

/**
 * Feeds chunks in file order and emits each line as its newline arrives. `start` is the byte offset of the
 * line's first byte, `end` the offset just after its newline (where reading resumes).
 * Memory: an unfinished line is kept as a list of chunks (copied, so the caller may reuse its buffer);
 * once it exceeds `maxLineBytes` its bytes are dropped and only its start is remembered, so a line of any
 * length costs at most `maxLineBytes`. A `line` body may be a view of the pushed chunk: use it before the
 * next push.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private parts: Buffer[] = [];
  private partsLength = 0;
  private lineStart: number;
  private skipping = false;
  private fed: number;

  constructor(maxLineBytes: number, startOffset = 0) {
    this.maxLineBytes = maxLineBytes;
    this.lineStart = startOffset;
    this.fed = startOffset;
  }

  /** Offset just after the last byte pushed. */
  get offset(): number {
    return this.fed;
  }

  /** Offset where the unfinished line (if any) starts: everything before it was emitted. */
  get lineOffset(): number {
    return this.lineStart;
  }

  /** Bytes of an unfinished line seen so far (including dropped ones of a too-long line). */
  get pendingBytes(): number {
    return this.fed - this.lineStart;
  }

  push(chunk: Buffer, emit: (line: LineEvent) => void): void {
    let i = 0;
    for (let nl = chunk.indexOf(10, i); nl !== -1; nl = chunk.indexOf(10, i)) {
      const end = this.fed + nl + 1;
      if (this.skipping) {
        emit({ kind: 'too-long', start: this.lineStart, end });
        this.skipping = false;
      } else {
        const piece = chunk.subarray(i, nl);
        let body = this.partsLength === 0 ? piece : Buffer.concat([...this.parts, piece], this.partsLength + piece.length);
        if (body.length > 0 && body[body.length - 1] === 13) body = body.subarray(0, -1);
        emit(body.length > this.maxLineBytes ? { kind: 'too-long', start: this.lineStart, end } : { kind: 'line', body, start: this.lineStart, end });
        this.parts = [];
        this.partsLength = 0;
      }
      this.lineStart = end;
      i = nl + 1;
    }
    if (!this.skipping && i < chunk.length) {
      const rest = chunk.subarray(i);
      // One byte more than the limit is allowed for the `\r` of a CRLF line end.
      if (this.partsLength + rest.length > this.maxLineBytes + 1) {
        this.skipping = true;
        this.parts = [];
        this.partsLength = 0;
      } else {
        this.parts.push(Buffer.from(rest));
        this.partsLength += rest.length;
      }
    }
    this.fed += chunk.length;
  }

  /**
   * The unterminated last line of a file that will not grow any more (a rotated generation), or undefined.
   * After it, the splitter is empty.
   */
  finish(): LineEvent | undefined {
    const start = this.lineStart;
    const end = this.fed;
    if (end === start) return undefined;
    const skipping = this.skipping;
    let body = Buffer.concat(this.parts, this.partsLength);
    this.parts = [];
    this.partsLength = 0;
    this.skipping = false;
    this.lineStart = end;
    if (skipping) return { kind: 'too-long', start, end };
    if (body.length > 0 && body[body.length - 1] === 13) body = body.subarray(0, -1);
    return body.length > this.maxLineBytes ? { kind: 'too-long', start, end } : { kind: 'line', body, start, end };
  }
}
