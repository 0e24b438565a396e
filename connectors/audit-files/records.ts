// Records of the audit-files source: one line of a tracked file → a SourceRecord (decoded CADF event, position, locator).
import type { SourceRecord, TimeRange } from '../../src/contracts/source.ts';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { decodeLineBytesText, type DecodeContext } from '../../src/model/decode.ts';
import { isBlankLine, type LineEvent } from '../../src/util/lines.ts';
import type { AuditFilesSourceConfig } from './config.ts';
import { serviceFromPath, type AuditFilesPosition, type FileState } from './identity.ts';

/** What a record needs of the file it was read from. */
export interface RecordFile {
  /** Where the file is now: named in the locator and in the reason of a line that cannot be decoded. */
  readonly path: string;
  readonly context: DecodeContext | undefined;
  /** The file's state just after a line ending at `offset`, the `line`-th of the file. */
  stateAt(offset: number, line: number): FileState;
}

/** The decode contexts of a source: the configured one (`decodeRaw`), and the one of each file (its service). */
export interface DecodeContexts {
  readonly configured: DecodeContext;
  forPath(path: string): DecodeContext;
}

export function decodeContexts(config: Pick<AuditFilesSourceConfig, 'service' | 'maxNestingDepth'>): DecodeContexts {
  const maxDepth = config.maxNestingDepth;
  const configured: DecodeContext = config.service === undefined ? { maxDepth } : { service: config.service, maxDepth };
  return {
    configured,
    forPath(path) {
      if (config.service !== undefined) return configured;
      const service = serviceFromPath(path);
      return service === undefined ? configured : { service, maxDepth };
    },
  };
}

/**
 * A record read from an audit file. Its `locator` (`file:line`) is read only for a dead letter, so it is
 * built then, from the path the file had when the line was read, rather than for every line.
 */
class AuditFileRecord implements SourceRecord {
  readonly position: AuditFilesPosition;
  readonly decoded: DecodeResult;
  readonly bytes: number;
  readonly rawText: string | undefined;
  readonly rawContext: DecodeContext | undefined;
  readonly #path: string;
  readonly #line: number;

  constructor(path: string, line: number, position: AuditFilesPosition, decoded: DecodeResult, bytes: number, rawText: string | undefined, rawContext?: DecodeContext) {
    this.position = position;
    this.decoded = decoded;
    this.bytes = bytes;
    this.rawText = rawText;
    this.rawContext = rawContext;
    this.#path = path;
    this.#line = line;
  }

  get locator(): string {
    return `${this.#path}:${this.#line}`;
  }
}

const where = (file: RecordFile, line: number, ev: LineEvent): string => `${file.path} line ${line}, byte offset ${ev.start}`;

/** Turns the lines of tracked files into records; counts the lines that are too long. */
export class RecordBuilder {
  readonly #maxLineBytes: number;
  readonly #range: TimeRange | undefined;
  readonly #counters: { lines_too_long_total: number };

  /** With `range` (a replay), only the records whose event time is in it are built. */
  constructor(maxLineBytes: number, range: TimeRange | undefined, counters: { lines_too_long_total: number }) {
    this.#maxLineBytes = maxLineBytes;
    this.#range = range;
    this.#counters = counters;
  }

  /**
   * The record of `ev`, line `line` of `file`; undefined for a blank line, and in a replay for a line that
   * is not an event of the range. `others` is the state of every other tracked file (shared by a chunk).
   */
  of(file: RecordFile, ev: LineEvent, line: number, others: FileState[]): SourceRecord | undefined {
    const bytes = ev.end - ev.start;
    const range = this.#range;
    if (ev.kind === 'too-long') {
      this.#counters.lines_too_long_total++;
      if (range !== undefined) return undefined;
      const reason = `line of ${bytes} bytes is longer than maxLineBytes (${this.#maxLineBytes}) (${where(file, line, ev)})`;
      const decoded: DecodeResult = { ok: false, error: { path: '', reason } };
      return new AuditFileRecord(file.path, line, { v: 1, file: file.stateAt(ev.end, line), others }, decoded, bytes, undefined);
    }
    if (isBlankLine(ev.body)) return undefined;
    const { decoded, text } = decodeLineBytesText(ev.body, 'cadf', file.context);
    if (decoded.ok) {
      if (range !== undefined && !(decoded.event.time >= range.from && decoded.event.time < range.to)) return undefined;
      // The line is handed over with the event: what the engine keeps while the batch is in flight (far less than
      // the event and its parsed record), decoded again with the file's context only if a sink refuses it.
      return new AuditFileRecord(file.path, line, { v: 1, file: file.stateAt(ev.end, line), others }, decoded, bytes, text, file.context);
    }
    if (range !== undefined) return undefined;
    const failed: DecodeResult = { ok: false, error: { ...decoded.error, reason: `${decoded.error.reason} (${where(file, line, ev)})` } };
    // The line as read, for the dead letter (bytes that are not UTF-8 with replacement characters).
    const raw = text ?? ev.body.toString('utf8');
    return new AuditFileRecord(file.path, line, { v: 1, file: file.stateAt(ev.end, line), others }, failed, bytes, raw);
  }
}
