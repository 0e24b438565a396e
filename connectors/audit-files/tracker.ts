// The file tracker of the audit-files source: the files one read follows, each with its identity, reader, line splitter and state.
import type { FileHandle } from 'node:fs/promises';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { SourceRecord, TimeRange } from '../../src/contracts/source.ts';
import type { Logger } from '../../src/logging.ts';
import type { DecodeContext } from '../../src/model/decode.ts';
import { LineSplitter, type LineEvent } from '../../src/util/lines.ts';
import type { AuditFilesSourceConfig } from './config.ts';
import type { Discovery } from './discovery.ts';
import { fingerprint, type FileCandidate, type FileState } from './identity.ts';
import { gzipReader, plainReader, prefixOf, type Reader } from './readers.ts';
import { RecordBuilder, type DecodeContexts, type RecordFile } from './records.ts';
import { checkBeforeRead, settleIdentity } from './rotation.ts';

/** Bytes read from one file per turn: files with data take turns, so a big file does not starve the others. */
const READ_SIZE = 256 * 1024;

/** The counters `stats()` returns. */
export type AuditFilesStats = Record<
  'files_opened_total' | 'rotations_total' | 'truncations_total' | 'rotated_generations_read_total' | 'lines_too_long_total',
  number
>;

/**
 * Where reading a file starts: `offset` bytes in, after `line` lines; with the fingerprint of a position's
 * state when it continues one (otherwise the file is fingerprinted when it is opened).
 */
export interface Start {
  readonly offset: number;
  readonly line: number;
  readonly fp?: string;
  readonly fpLength?: number;
}

/** A file being read. */
export class TrackedFile implements RecordFile {
  path: string;
  readonly dev: number;
  readonly ino: number;
  readonly gz: boolean;
  fp: string;
  fpLength: number;
  readonly fh: FileHandle;
  reader: Reader;
  splitter: LineSplitter;
  /** Lines before `splitter.lineOffset`. */
  line: number;
  /** The file's state after the last chunk handed out: what positions of other files' records carry. */
  state: FileState;
  /** Matched by a pattern now; a file that is not (renamed or deleted) is read to its end and left. */
  live: boolean;
  /** At its end at the last attempt; cleared when something may have changed. */
  eof = false;
  /** Since when a file that is no longer live has been at its end. */
  idleSince: number | undefined = undefined;
  readonly context: DecodeContext | undefined;
  /** Size when it was opened: a replay reads no further. */
  readonly size: number;
  /**
   * Set while a live file's first bytes hold no complete line (see `isProvisional` in rotation.ts): the
   * generations of its log (`dev:ino`) that existed then.
   */
  provisionalSince: Set<string> | undefined = undefined;

  constructor(
    c: FileCandidate,
    fh: FileHandle,
    reader: Reader,
    start: Start,
    identity: { readonly fp: string; readonly fpLength: number },
    opened: { readonly context: DecodeContext | undefined; readonly size: number; readonly maxLineBytes: number },
  ) {
    this.path = c.path;
    this.dev = c.dev;
    this.ino = c.ino;
    this.gz = c.gz;
    this.fp = identity.fp;
    this.fpLength = identity.fpLength;
    this.fh = fh;
    this.reader = reader;
    this.splitter = new LineSplitter(opened.maxLineBytes, start.offset);
    this.line = start.line;
    this.live = c.live;
    this.context = opened.context;
    this.size = opened.size;
    this.state = this.stateAt(start.offset, start.line);
  }

  /** The file's state with `offset` and `line` as read: one object per record, so no spread. */
  stateAt(offset: number, line: number): FileState {
    const { path, dev, ino, fp, fpLength } = this;
    return this.gz ? { path, dev, ino, fp, fpLength, offset, line, gz: true } : { path, dev, ino, fp, fpLength, offset, line };
  }
}

export interface FileTrackerOptions {
  /** The source's name, for errors. */
  readonly name: string;
  readonly config: AuditFilesSourceConfig;
  /** The range of a replay (files are read once, up to their size when opened); undefined when tailing. */
  readonly range: TimeRange | undefined;
  readonly counters: AuditFilesStats;
  readonly logger: Logger;
  readonly discovery: Discovery;
  readonly contexts: DecodeContexts;
  /** Every reader open by the source, for its `close()`. */
  readonly readers: Set<Reader>;
}

function ioError(name: string, what: string, e: unknown): ForwarderError {
  const message = e instanceof Error ? e.message : String(e);
  return new ForwarderError('FWD_SOURCE_IO', `source ${name}: ${what}: ${message}`, { stage: 'source', disposition: 'retryable', cause: e });
}

/** The files one read follows, in the order they were opened (a replay reads them in that order). */
export class FileTracker {
  readonly files = new Set<TrackedFile>();
  readonly config: AuditFilesSourceConfig;
  readonly replay: boolean;
  readonly counters: AuditFilesStats;
  readonly logger: Logger;
  readonly discovery: Discovery;
  readonly contexts: DecodeContexts;
  readonly #name: string;
  readonly #readers: Set<Reader>;
  readonly #records: RecordBuilder;
  /** The read buffer of every plain file: a chunk is made records before the next read. */
  readonly #buf = Buffer.allocUnsafe(READ_SIZE);

  constructor(o: FileTrackerOptions) {
    this.config = o.config;
    this.replay = o.range !== undefined;
    this.counters = o.counters;
    this.logger = o.logger;
    this.discovery = o.discovery;
    this.contexts = o.contexts;
    this.#name = o.name;
    this.#readers = o.readers;
    this.#records = new RecordBuilder(o.config.maxLineBytes, o.range, o.counters);
  }

  /** Starts following an open file from `start`. */
  async track(fh: FileHandle, c: FileCandidate, start: Start, context: DecodeContext | undefined): Promise<TrackedFile> {
    const s = await fh.stat();
    let identity: { fp: string; fpLength: number };
    let prefix: Buffer | undefined;
    if (start.fp === undefined || start.fpLength === undefined) {
      prefix = await prefixOf(fh, c.gz, this.config.fingerprintBytes);
      identity = { fp: fingerprint(prefix), fpLength: prefix.length };
    } else {
      identity = { fp: start.fp, fpLength: start.fpLength };
    }
    const reader = c.gz
      ? gzipReader(fh, start.offset, this.#readers, (e) =>
          this.logger.warn({ path: c.path, err: e.message }, 'compressed generation is corrupt or incomplete; read up to the damage'),
        )
      : plainReader(fh, start.offset, this.#buf, this.#readers, this.replay ? s.size : undefined);
    const t = new TrackedFile(c, fh, reader, start, identity, { context, size: s.size, maxLineBytes: this.config.maxLineBytes });
    if (prefix !== undefined) await settleIdentity(this, t, prefix);
    this.files.add(t);
    this.counters.files_opened_total++;
    return t;
  }

  find(dev: number, ino: number): TrackedFile | undefined {
    for (const t of this.files) if (t.dev === dev && t.ino === ino) return t;
    return undefined;
  }

  /** The states of every file but `t`: what the positions of `t`'s records carry besides their own. */
  others(t: TrackedFile): FileState[] {
    const out: FileState[] = [];
    for (const x of this.files) if (x !== t) out.push(x.state);
    return out;
  }

  /** A plain file truncated in place: read again from its start, on the same descriptor. */
  rewind(t: TrackedFile): void {
    this.#readers.delete(t.reader);
    t.reader = plainReader(t.fh, 0, this.#buf, this.#readers);
    t.splitter = new LineSplitter(this.config.maxLineBytes, 0);
    t.line = 0;
  }

  /** One chunk of a file as records; undefined when it is at its end. */
  async readChunk(t: TrackedFile): Promise<SourceRecord[] | undefined> {
    let bytes: Buffer | undefined;
    try {
      bytes = await t.reader.next();
    } catch (e) {
      throw ioError(this.#name, `cannot read ${t.path}`, e);
    }
    if (bytes === undefined) return undefined;
    t.idleSince = undefined;
    if (!t.gz && !(await checkBeforeRead(this, t, bytes))) return [];
    const others = this.others(t);
    const records: SourceRecord[] = [];
    const builder = this.#records;
    let line = t.line;
    t.splitter.push(bytes, (ev: LineEvent) => {
      line++;
      const r = builder.of(t, ev, line, others);
      if (r !== undefined) records.push(r);
    });
    t.line = line;
    t.state = t.stateAt(t.splitter.lineOffset, line);
    return records;
  }

  /** The unterminated last line of a file that will not grow any more. */
  finish(t: TrackedFile): SourceRecord[] {
    const ev = t.splitter.finish();
    if (ev === undefined) return [];
    t.line++;
    const r = this.#records.of(t, ev, t.line, this.others(t));
    t.state = t.stateAt(ev.end, t.line);
    return r === undefined ? [] : [r];
  }

  /** Stops following a file. */
  async retire(t: TrackedFile): Promise<void> {
    this.files.delete(t);
    await t.reader.close();
  }

  async closeAll(): Promise<void> {
    for (const t of this.files) await t.reader.close();
    this.files.clear();
  }
}
