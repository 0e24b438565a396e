// Dead-letter store: one JSON Lines file per route with the records that could not be delivered, written durably.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ForwarderError, isForwarderError, type DeadLetterCode } from '../contracts/errors.ts';
import type { JsonValue } from '../model/json.ts';
import { isJsonObject, jsonText } from '../model/json.ts';
import { ensureDirectory, errno, fsyncPath, serialised } from '../util/durable-fs.ts';

export type DeadLetterStage = 'decode' | 'map' | 'sink';

/** One line of the dead-letter file. */
export interface DeadLetterEntry {
  /** RFC 3339 UTC time the entry was appended. */
  readonly time: string;
  readonly route: string;
  readonly sink: string;
  /** Where the record failed: it could not be decoded, the mapping found it invalid, the sink refused it. */
  readonly stage: DeadLetterStage;
  /** Why, as a stable code (see `DeadLetterCode`); absent in files written before codes existed. */
  readonly code?: DeadLetterCode;
  readonly reason: string;
  /** Path of the offending field (`actor.id`), when known. */
  readonly path?: string;
  /** Where the record came from (`file.jsonl:12`). */
  readonly locator?: string;
  readonly eventId?: string;
  /** The canonical event, when the record could be decoded. */
  readonly event?: JsonValue;
  /** The record as read, when it could not be decoded. */
  readonly raw?: string;
  /** What was sent to the sink (the mapped, encoded record), for stage `sink`. */
  readonly payload?: string;
  /** Source position just after the record. */
  readonly position?: JsonValue;
}

/** What `append` takes: `time` defaults to now, `route` to the store's route; `event` is any JSON-able object. */
export type DeadLetterInput = Omit<DeadLetterEntry, 'time' | 'route' | 'event'> & {
  readonly time?: string;
  readonly route?: string;
  readonly event?: unknown;
};

/** An entry as read back, with its 1-based line number in the file. */
export type ListedDeadLetterEntry = DeadLetterEntry & { readonly line: number };

/** A line of the file that is not an entry: the torn tail of a crashed write, or damage. */
export interface InvalidDeadLetterLine {
  readonly file: string;
  readonly line: number;
  /** The start of the line's text. */
  readonly text: string;
  readonly problem: string;
  /** Whether it is the file's last line and has no newline: a write cut short by a crash. */
  readonly torn: boolean;
}

export interface DeadLetterListOptions {
  /** Told about each line that is not an entry; by default a process warning is emitted. */
  readonly onInvalidLine?: (invalid: InvalidDeadLetterLine) => void;
  /** Also list the entries already resolved (redriven); by default only those still to deliver. */
  readonly includeResolved?: boolean;
}

/** A line of `<route>.dlq.resolved.jsonl`: this entry of the dead-letter file was dealt with. */
export interface DeadLetterResolution {
  /** Line of the entry in the dead-letter file, and its `time`: together they name it. */
  readonly line: number;
  readonly time: string;
  readonly sink: string;
  readonly eventId?: string;
  /** RFC 3339 UTC time of the resolution. */
  readonly resolvedAt: string;
  readonly how: 'redriven';
}

export interface DeadLetterStore {
  /** `<directory>/<route>.dlq.jsonl`. */
  readonly file: string;
  /**
   * Buffers one entry, in call order; nothing is on disk before `flush()` resolves. Synchronous so that
   * an entry is queued before the position passing it can be committed.
   * Throws `TypeError` for an entry that is not serialisable or lacks sink, stage or reason (a bug).
   */
  append(entry: DeadLetterInput): void;
  /**
   * Writes every entry appended before the call, as whole lines, and fsyncs the file (and the directory
   * when the file is new). Flushes and `replaceAll` of every store on the same file in this process run
   * one at a time. On failure the entries stay buffered for the next flush; throws `FWD_DEADLETTER_IO`.
   */
  flush(): Promise<void>;
  /**
   * The entries on disk (not those still buffered), in file order. Lines that are not entries — the torn
   * last line a crash can leave — are reported through `onInvalidLine` and skipped, never thrown.
   * Throws `FWD_DEADLETTER_IO` if the file cannot be read.
   */
  list(options?: DeadLetterListOptions): AsyncIterable<ListedDeadLetterEntry>;
  /**
   * Records, durably (appended and fsynced to `<route>.dlq.resolved.jsonl` before it resolves), that these
   * listed entries were dealt with. The dead-letter file itself is never rewritten: it stays the record of
   * what failed and why, and a `run` appending to it at the same time loses nothing.
   */
  markResolved(entries: readonly ListedDeadLetterEntry[], how: DeadLetterResolution['how']): Promise<void>;
  /** Unresolved entries on disk plus entries still buffered. */
  count(): Promise<number>;
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;
const STAGES: ReadonlySet<string> = new Set<DeadLetterStage>(['decode', 'map', 'sink']);
const NEWLINE = 0x0a;

export function createDeadLetterStore(directory: string, route: string, options: { now?: () => Date } = {}): DeadLetterStore {
  if (!SEGMENT.test(route) || route === '.' || route.includes('..')) {
    throw new ForwarderError(
      'FWD_CONFIG_INVALID',
      `Invalid route name ${JSON.stringify(route)} for a dead-letter file: only letters, digits, '.', '_' and '-', no '..'.`,
      { stage: 'config', disposition: 'fatal' },
    );
  }
  const dir = path.resolve(directory);
  const file = path.join(dir, `${route}.dlq.jsonl`);
  const resolvedFile = path.join(dir, `${route}.dlq.resolved.jsonl`);
  const now = options.now ?? (() => new Date());
  let pending: string[] = [];

  const flushNow = async (): Promise<void> => {
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    try {
      await appendLines(dir, file, lines);
    } catch (e) {
      // Whole lines again next time; a torn fragment of this attempt is fenced off by appendLines.
      pending = lines.concat(pending);
      throw ioError('append to', file, e);
    }
  };

  return {
    file,
    append(entry) {
      pending.push(`${serialise({ ...entry, time: entry.time ?? now().toISOString(), route: entry.route ?? route })}\n`);
    },
    flush: () => serialised(file, flushNow),
    async *list(listOptions = {}) {
      const resolved = listOptions.includeResolved ? undefined : await resolvedKeys(resolvedFile);
      for await (const entry of listEntries(file, listOptions.onInvalidLine ?? warnInvalid)) {
        if (resolved === undefined || !resolved.has(resolutionKey(entry))) yield entry;
      }
    },
    async markResolved(entries, how) {
      if (entries.length === 0) return;
      const at = now().toISOString();
      const lines = entries.map((e) => {
        const mark: DeadLetterResolution = { line: e.line, time: e.time, sink: e.sink, ...(e.eventId !== undefined ? { eventId: e.eventId } : {}), resolvedAt: at, how };
        return `${JSON.stringify(mark)}\n`;
      });
      await serialised(resolvedFile, () => appendLines(dir, resolvedFile, lines)).catch((e: unknown) => {
        throw ioError('append to', resolvedFile, e);
      });
    },
    async count() {
      let n = 0;
      const resolved = await resolvedKeys(resolvedFile);
      for await (const e of listEntries(file, () => undefined)) if (!resolved.has(resolutionKey(e))) n++;
      return n + pending.length;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------

/** One JSON line, members in a fixed order so that files diff and read well. */
function serialise(entry: DeadLetterInput & { readonly time?: string; readonly route?: string }): string {
  if (typeof entry.sink !== 'string' || typeof entry.reason !== 'string' || !STAGES.has(entry.stage)) {
    throw new TypeError('a dead-letter entry needs a sink, a reason and a stage (decode, map or sink)');
  }
  if (typeof entry.time !== 'string' || typeof entry.route !== 'string') {
    throw new TypeError('a dead-letter entry needs a time and a route');
  }
  // jsonText: an event nested too deep for JSON.stringify's stack is still written whole.
  return jsonText({
    time: entry.time,
    route: entry.route,
    sink: entry.sink,
    stage: entry.stage,
    code: entry.code,
    reason: entry.reason,
    path: entry.path,
    locator: entry.locator,
    eventId: entry.eventId,
    event: entry.event,
    raw: entry.raw,
    payload: entry.payload,
    position: entry.position,
  });
}

/** Parses one line; a string says why it is not an entry. */
function parseEntry(text: string): DeadLetterEntry | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (!isJsonObject(value)) return 'not a JSON object';
  for (const k of ['time', 'route', 'sink', 'reason'] as const) {
    if (typeof value[k] !== 'string') return `"${k}" is missing or not a string`;
  }
  if (typeof value['stage'] !== 'string' || !STAGES.has(value['stage'])) return '"stage" is not decode, map or sink';
  for (const k of ['code', 'path', 'locator', 'eventId', 'raw', 'payload'] as const) {
    if (value[k] !== undefined && typeof value[k] !== 'string') return `"${k}" is not a string`;
  }
  return value as unknown as DeadLetterEntry;
}

function warnInvalid(invalid: InvalidDeadLetterLine): void {
  const what = invalid.torn ? 'is the torn end of a write cut short (crash?)' : `is not an entry: ${invalid.problem}`;
  process.emitWarning(`dead-letter file ${invalid.file} line ${invalid.line} ${what}; skipped`, { code: 'FWD_DEADLETTER_INVALID_LINE' });
}

function ioError(action: string, file: string, cause: unknown): ForwarderError {
  if (isForwarderError(cause)) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ForwarderError('FWD_DEADLETTER_IO', `Cannot ${action} dead-letter file ${file}: ${detail}`, {
    stage: 'deadletter',
    disposition: 'permanent',
    cause,
  });
}

async function writeAll(handle: FileHandle, data: Buffer, position?: number): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, position === undefined ? null : position + offset);
    offset += bytesWritten;
  }
}

async function appendLines(dir: string, file: string, lines: readonly string[]): Promise<void> {
  await ensureDirectory(dir);
  let created = false;
  let handle: FileHandle;
  try {
    handle = await open(file, 'ax+', 0o600);
    created = true;
  } catch (e) {
    if (errno(e) !== 'EEXIST') throw e;
    handle = await open(file, 'a+', 0o600);
  }
  try {
    // A crash may have left a last line without its newline: start ours on a fresh line, so that only
    // the torn fragment is unreadable and no entry of ours is glued to it.
    const { size } = await handle.stat();
    let fence = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== NEWLINE) fence = '\n';
    }
    // One buffer, one append: concurrent writers (other processes) cannot split our lines.
    await writeAll(handle, Buffer.from(fence + lines.join(''), 'utf8'));
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (created) await fsyncPath(dir);
}


const utf8 = new TextDecoder('utf-8', { fatal: true });

function resolutionKey(e: { readonly line: number; readonly time: string }): string {
  return `${e.line}@${e.time}`;
}

/** The entries marked resolved; a torn last line (a crash while marking) is ignored: that entry is simply redriven again. */
async function resolvedKeys(resolvedFile: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(resolvedFile, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return new Set();
    throw ioError('read', resolvedFile, e);
  }
  const keys = new Set<string>();
  for (const line of text.split('\n')) {
    try {
      const mark = JSON.parse(line) as Partial<DeadLetterResolution>;
      if (typeof mark.line === 'number' && typeof mark.time === 'string') keys.add(resolutionKey({ line: mark.line, time: mark.time }));
    } catch {
      // torn or empty line
    }
  }
  return keys;
}

async function* listEntries(
  file: string,
  onInvalid: (invalid: InvalidDeadLetterLine) => void,
): AsyncGenerator<ListedDeadLetterEntry> {
  // Opened, and its length taken, between flushes: what we read ends with a flush's last whole line,
  // and a later replaceAll (a new file) does not disturb this reading.
  const opened = await serialised(file, async () => {
    try {
      const handle = await open(file, 'r');
      try {
        return { handle, size: (await handle.stat()).size };
      } catch (e) {
        await handle.close();
        throw e;
      }
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw ioError('read', file, e);
    }
  });
  if (opened === undefined) return;
  const { handle, size } = opened;
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let carry: Buffer[] = [];
    let lineNo = 0;
    let offset = 0;
    const handleLine = (bytes: Buffer, torn: boolean): ListedDeadLetterEntry | undefined => {
      lineNo++;
      if (bytes.length === 0) return undefined;
      let problem: string;
      let text = '';
      try {
        text = utf8.decode(bytes);
        const parsed = parseEntry(text);
        if (typeof parsed !== 'string') return { ...parsed, line: lineNo };
        problem = parsed;
      } catch {
        problem = 'not valid UTF-8';
        text = bytes.toString('utf8');
      }
      onInvalid({ file, line: lineNo, text: text.slice(0, 200), problem, torn });
      return undefined;
    };
    while (offset < size) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, size - offset), offset));
      } catch (e) {
        throw ioError('read', file, e);
      }
      if (bytesRead === 0) break;
      offset += bytesRead;
      const data = chunk.subarray(0, bytesRead);
      let start = 0;
      for (let nl = data.indexOf(NEWLINE, start); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
        const piece = data.subarray(start, nl);
        const bytes = carry.length === 0 ? Buffer.from(piece) : Buffer.concat([...carry, piece]);
        carry = [];
        start = nl + 1;
        const entry = handleLine(bytes, false);
        if (entry !== undefined) yield entry;
      }
      if (start < data.length) carry.push(Buffer.from(data.subarray(start)));
    }
    if (carry.length > 0) {
      // No newline at the end: a write that a crash cut short (a complete entry is still an entry).
      const entry = handleLine(Buffer.concat(carry), true);
      if (entry !== undefined) yield entry;
    }
  } finally {
    await handle.close();
  }
}
