// The `audit-files` source: tails IBM CADF audit files through rotation, truncation and restarts.
import { fstatSync, watch, type FSWatcher } from 'node:fs';
import { glob, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, matchesGlob, resolve } from 'node:path';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { sourceCheckResult, type Position, type Source, type SourceCheckResult, type SourceProgress, type SourceReadOptions, type SourceRecord, type TimeRange } from '../../src/contracts/source.ts';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import type { DecodeContext } from '../../src/model/decode.ts';
import { decodeLine, decodeLineBytes } from '../../src/model/decode.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { sleepUnlessAborted } from '../../src/util/sleep.ts';
import type { AuditFilesSourceConfig } from './config.ts';
import {
  fingerprint,
  gunzipStream,
  gzipPrefix,
  isAuditFilesPosition,
  matchFiles,
  parseGeneration,
  plainPrefix,
  positionFiles,
  sameContent,
  serviceFromPath,
  type AuditFilesPosition,
  type FileCandidate,
  type FileState,
} from './identity.ts';
import { isBlankLine, LineSplitter, type LineEvent } from '../../src/util/lines.ts';
import { checkFilePatterns, matchFiles as matchPatterns, patternDir, warnUnmatchedOnce } from '../../src/util/match-files.ts';

export type { AuditFilesPosition, FileState } from './identity.ts';

/** Bytes read from one file per turn: files with data take turns, so a big file does not starve the others. */
const READ_SIZE = 256 * 1024;

/** The counters `stats()` returns. */
export type AuditFilesStats = Record<
  'files_opened_total' | 'rotations_total' | 'truncations_total' | 'rotated_generations_read_total' | 'lines_too_long_total',
  number
>;

/** Reads a file's bytes in order from a start offset. */
interface Reader {
  /** The next bytes (a view of a shared buffer: use before the next call), or undefined at the current end. */
  next(): Promise<Buffer | undefined>;
  /** True when the end is final (a compressed generation cannot grow). */
  readonly final: boolean;
  close(): Promise<void>;
}

/** A file being read. */
interface Tracked {
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
  eof: boolean;
  /** Since when a file that is no longer live has been at its end. */
  idleSince: number | undefined;
  readonly context: DecodeContext | undefined;
  /** Size when a replay opened it: a replay reads no further. */
  readonly size: number;
  /**
   * Set while a live file's first bytes hold no complete line (see `provisional`): the generations of its
   * log (`dev:ino`) that existed then. One that appears later and starts with the same bytes is the copy of
   * a copytruncate that happened before the content could be told apart.
   */
  provisionalSince?: Set<string>;
}

/** A rotated copy of a tracked file, opened. */
interface FoundCopy {
  readonly fh: FileHandle;
  readonly candidate: FileCandidate;
}

function ioError(name: string, what: string, e: unknown): ForwarderError {
  const message = e instanceof Error ? e.message : String(e);
  return new ForwarderError('FWD_SOURCE_IO', `source ${name}: ${what}: ${message}`, { stage: 'source', disposition: 'retryable', cause: e });
}

function invalid(path: string, reason: string): DecodeResult {
  return { ok: false, error: { path, reason } };
}

/**
 * Creates the source. Live `read` (no range) tails until its signal aborts; a replay (`range`) reads the
 * current and rotated files once, yields the records whose `eventTime` is in the range, and ends.
 * See README.md for identity, rotation and guarantees.
 */
export function createAuditFilesSource(
  name: string,
  config: AuditFilesSourceConfig,
  context: ConnectorContext,
): Source & { stats(): Record<string, number> } {
  const patterns = config.paths.map((p) => (isAbsolute(p) ? p : resolve(context.baseDir, p)));
  const logger = context.logger.child({ source: name });
  /** The files the current read follows, for `unread`. */
  let following: ReadonlySet<Tracked> | undefined;
  const counters: AuditFilesStats = {
    files_opened_total: 0,
    rotations_total: 0,
    truncations_total: 0,
    rotated_generations_read_total: 0,
    lines_too_long_total: 0,
  };
  const maxDepth = config.maxNestingDepth;
  const configured: DecodeContext = config.service === undefined ? { maxDepth } : { service: config.service, maxDepth };
  /** Everything open by any read, for `close()`. */
  const openReaders = new Set<Reader>();
  const openWatchers = new Set<FSWatcher>();
  let replayFiles: Tracked[] | undefined;
  const warnedPaths = new Set<string>();

  function decodeContextFor(path: string): DecodeContext {
    if (config.service !== undefined) return configured;
    const service = serviceFromPath(path);
    return service === undefined ? configured : { service, maxDepth };
  }

  async function openQuietly(path: string): Promise<FileHandle | undefined> {
    try {
      const fh = await open(path, 'r');
      warnedPaths.delete(path);
      return fh;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Gone between listing and opening: a rotation; it is found again (or not) at the next scan.
      if (code !== 'ENOENT' && !warnedPaths.has(path)) {
        warnedPaths.add(path);
        logger.warn({ path, err: (e as Error).message }, 'cannot open an audit file; retrying at each scan');
      }
      return undefined;
    }
  }

  /** Live files: what the patterns match now. */
  async function listLive(): Promise<string[]> {
    return matchPatterns(patterns);
  }


  /** Rotated generations beside the live files (or beside where a pattern's live file would be), oldest first. */
  async function listGenerations(bases: readonly string[], live: ReadonlySet<string>): Promise<string[]> {
    const found = new Map<string, string>();
    for (const base of bases) {
      for (const suffix of ['.*', '-*']) {
        for await (const f of glob(`${base}${suffix}`)) {
          const path = resolve(f);
          if (live.has(path) || found.has(path)) continue;
          const g = parseGeneration(path);
          if (g === undefined || !(g.base === base || matchesGlob(g.base, base))) continue;
          const s = await stat(path).catch(() => undefined);
          if (s?.isFile()) found.set(path, `${g.base}\u0000${g.age}`);
        }
      }
    }
    return [...found.entries()].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([p]) => p);
  }

  function plainReader(fh: FileHandle, start: number, buf: Buffer, limit?: number): Reader {
    let pos = start;
    const reader: Reader = {
      final: false,
      async next() {
        const max = limit === undefined ? buf.length : Math.min(buf.length, limit - pos);
        if (max <= 0) return undefined;
        const { bytesRead } = await fh.read(buf, 0, max, pos);
        if (bytesRead === 0) return undefined;
        pos += bytesRead;
        return buf.subarray(0, bytesRead);
      },
      async close() {
        openReaders.delete(reader);
        await fh.close().catch(() => undefined);
      },
    };
    openReaders.add(reader);
    return reader;
  }

  /** Decompressed bytes of a `.gz` generation from `skip` (offsets of a gz file are in decompressed bytes). */
  function gzipReader(fh: FileHandle, path: string, skip: number): Reader {
    const gunzip = gunzipStream(fh);
    const it = (gunzip as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    let toSkip = skip;
    let ended = false;
    const reader: Reader = {
      final: true,
      async next() {
        while (!ended) {
          let r: IteratorResult<Buffer>;
          try {
            r = await it.next();
          } catch (e) {
            // A corrupt or half-written archive: what was decompressed is kept, the rest cannot be read.
            ended = true;
            logger.warn({ path, err: (e as Error).message }, 'compressed generation is corrupt or incomplete; read up to the damage');
            return undefined;
          }
          if (r.done === true) {
            ended = true;
            return undefined;
          }
          let chunk = r.value;
          if (toSkip > 0) {
            if (chunk.length <= toSkip) {
              toSkip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(toSkip);
            toSkip = 0;
          }
          return chunk;
        }
        return undefined;
      },
      async close() {
        openReaders.delete(reader);
        gunzip.destroy();
        await fh.close().catch(() => undefined);
      },
    };
    openReaders.add(reader);
    return reader;
  }

  return {
    type: 'audit-files',
    identity: (): JsonValue => ({ type: 'audit-files', paths: patterns }),
    decodeRaw: (text: string) => decodeLine(text, 'cadf', configured),
    stats: () => ({ ...counters }),
    unread() {
      const out: Array<{ file: string; bytes: number }> = [];
      // A compressed generation's offsets are in decompressed bytes: not comparable with its size on disk.
      for (const t of following ?? []) {
        if (t.gz) continue;
        try {
          out.push({ file: t.path, bytes: Math.max(0, fstatSync(t.fh.fd).size - t.splitter.offset) });
        } catch {
          // closed between the read and this call
        }
      }
      return out;
    },
    // Live files only: generations are read when a position says they are unfinished, and need no pattern of their own.
    check: async (): Promise<SourceCheckResult> => sourceCheckResult(await checkFilePatterns(patterns, { live: true })),
    progress(): SourceProgress | undefined {
      if (replayFiles === undefined) return undefined;
      let done = 0;
      let total = 0;
      for (const t of replayFiles) {
        total += t.size;
        done += t.gz ? (t.eof ? t.size : 0) : Math.min(t.splitter.offset, t.size);
      }
      return { done, total, unit: 'bytes' };
    },

    async *read(from: Position | undefined, options: SourceReadOptions): AsyncGenerator<readonly SourceRecord[]> {
      if (from !== undefined && !isAuditFilesPosition(from)) {
        throw new ForwarderError('FWD_SOURCE_POSITION_INVALID', `source ${name}: checkpoint position ${JSON.stringify(from)} is not an audit-files position`, {
          stage: 'source',
          disposition: 'permanent',
        });
      }
      const { signal, range } = options;
      const replay = range !== undefined;
      await warnUnmatchedOnce(config, patterns, { live: !replay }, context.logger, name);
      const buf = Buffer.allocUnsafe(READ_SIZE);
      const tracked = new Set<Tracked>();
      following = tracked;
      const watchers = new Map<string, { watcher: FSWatcher; ino: number }>();
      let scanSoon = false;
      let changed = false;
      let wake: (() => void) | undefined;
      const notify = (rescan: boolean) => {
        if (rescan) scanSoon = true;
        changed = true;
        wake?.();
      };

      const stateOf = (t: Tracked, offset: number, line: number): FileState => ({
        path: t.path,
        dev: t.dev,
        ino: t.ino,
        fp: t.fp,
        fpLength: t.fpLength,
        offset,
        line,
        ...(t.gz ? { gz: true as const } : {}),
      });

      async function track(
        fh: FileHandle,
        c: FileCandidate,
        start: { offset: number; line: number; fp?: string; fpLength?: number },
        service: DecodeContext | undefined,
      ): Promise<Tracked> {
        const s = await fh.stat();
        let fp = start.fp;
        let fpLength = start.fpLength;
        let prefix: Buffer | undefined;
        if (fp === undefined || fpLength === undefined) {
          prefix = c.gz ? await gzipPrefix(fh, config.fingerprintBytes) : await plainPrefix(fh, config.fingerprintBytes);
          fp = fingerprint(prefix);
          fpLength = prefix.length;
        }
        const reader = c.gz ? gzipReader(fh, c.path, start.offset) : plainReader(fh, start.offset, buf, replay ? s.size : undefined);
        const t: Tracked = {
          path: c.path,
          dev: c.dev,
          ino: c.ino,
          gz: c.gz,
          fp,
          fpLength,
          fh,
          reader,
          splitter: new LineSplitter(config.maxLineBytes, start.offset),
          line: start.line,
          state: undefined as unknown as FileState,
          live: c.live,
          eof: false,
          idleSince: undefined,
          context: service,
          size: s.size,
        };
        t.state = stateOf(t, start.offset, start.line);
        if (prefix !== undefined) await settleIdentity(t, prefix);
        tracked.add(t);
        counters.files_opened_total++;
        return t;
      }

      /**
       * Extends a fingerprint that covers less than `fingerprintBytes` once the file has grown (first bytes
       * unchanged). With `chunk` (bytes just read, not yet given to the splitter), also checks that the part of
       * them inside the file's first bytes is what the file holds there. False when the file no longer starts
       * as fingerprinted, or the chunk disagrees: it was rewritten under the reader.
       */
      async function growFingerprint(t: Tracked, chunk?: Buffer): Promise<boolean> {
        if (t.gz || t.fpLength >= config.fingerprintBytes) return true;
        const prefix = await plainPrefix(t.fh, config.fingerprintBytes);
        if (prefix.length < t.fpLength || fingerprint(prefix.subarray(0, t.fpLength)) !== t.fp) return false;
        if (chunk !== undefined) {
          const start = t.splitter.offset;
          const end = Math.min(prefix.length, start + chunk.length);
          if (start < end && !prefix.subarray(start, end).equals(chunk.subarray(0, end - start))) return false;
        }
        if (prefix.length === t.fpLength) return true;
        t.fp = fingerprint(prefix);
        t.fpLength = prefix.length;
        t.state = { ...t.state, fp: t.fp, fpLength: t.fpLength };
        if (t.provisionalSince !== undefined && !provisional(prefix)) t.provisionalSince = undefined;
        return true;
      }

      /**
       * True while a live file's first bytes are not yet an identity: no complete line and fewer than
       * `fingerprintBytes` (every CADF line starts alike, `{"id":"…`, so part of a first line matches the next
       * content too).
       */
      const provisional = (prefix: Buffer): boolean => prefix.length < config.fingerprintBytes && !prefix.includes(0x0a);

      async function generationIds(t: Tracked): Promise<Set<string>> {
        const ids = new Set<string>();
        for (const path of await listGenerations([t.path], new Set())) {
          const g = await stat(path).catch(() => undefined);
          if (g !== undefined) ids.add(`${g.dev}:${g.ino}`);
        }
        return ids;
      }

      /** Marks `t` provisional (or not) from its first bytes: the generations of its log that exist now. */
      async function settleIdentity(t: Tracked, prefix: Buffer): Promise<void> {
        t.provisionalSince = replay || !t.live || t.gz || !provisional(prefix) ? undefined : await generationIds(t);
      }

      function recordOf(t: Tracked, ev: LineEvent, line: number, others: FileState[]): SourceRecord | undefined {
        const where = `${t.path} line ${line}, byte offset ${ev.start}`;
        const bytes = ev.end - ev.start;
        if (ev.kind === 'too-long') {
          counters.lines_too_long_total++;
          if (replay) return undefined;
          const position: AuditFilesPosition = { v: 1, file: stateOf(t, ev.end, line), others };
          const reason = `line of ${bytes} bytes is longer than maxLineBytes (${config.maxLineBytes}) (${where})`;
          return { position, locator: `${t.path}:${line}`, bytes, decoded: invalid('', reason) };
        }
        if (isBlankLine(ev.body)) return undefined;
        let decoded = decodeLineBytes(ev.body, 'cadf', t.context);
        if (!decoded.ok) decoded = { ok: false, error: { ...decoded.error, reason: `${decoded.error.reason} (${where})` } };
        if (replay && (!decoded.ok || !inRange(decoded.event.time, range))) return undefined;
        const position: AuditFilesPosition = { v: 1, file: stateOf(t, ev.end, line), others };
        return decoded.ok
          ? { position, locator: `${t.path}:${line}`, bytes, decoded }
          : { position, locator: `${t.path}:${line}`, bytes, decoded, rawText: ev.body.toString('utf8') };
      }

      const othersOf = (t: Tracked): FileState[] => {
        const out: FileState[] = [];
        for (const x of tracked) if (x !== t) out.push(x.state);
        return out;
      };

      /** One chunk of a file as records; undefined when it is at its end. */
      async function readChunk(t: Tracked): Promise<SourceRecord[] | undefined> {
        let bytes: Buffer | undefined;
        try {
          bytes = await t.reader.next();
        } catch (e) {
          throw ioError(name, `cannot read ${t.path}`, e);
        }
        if (bytes === undefined) return undefined;
        t.idleSince = undefined;
        if (!t.gz) {
          // Checked before the bytes become records; a live file rewritten under the reader (copytruncate) is
          // restarted from its start and these bytes, new content rather than the continuation, are dropped.
          const watched = !replay && t.live;
          if (await restartIfCopied(t)) return [];
          // No position may pass bytes its fingerprint does not cover: a fingerprint of the few bytes a file
          // held when first seen (`{"id":"` is how every line starts) would also match the content written
          // after a copytruncate, and a restart would skip that many bytes of it. So a short fingerprint grows
          // first (and this chunk's bytes inside it must be the file's); a full one is compared.
          const same =
            t.fpLength < config.fingerprintBytes ? await growFingerprint(t, bytes) : !watched || (await sameContent(t, (n) => plainPrefix(t.fh, n)));
          if (watched && !same) {
            await restartTruncated(t);
            return [];
          }
        }
        const others = othersOf(t);
        const records: SourceRecord[] = [];
        let line = t.line;
        t.splitter.push(bytes, (ev) => {
          line++;
          const r = recordOf(t, ev, line, others);
          if (r !== undefined) records.push(r);
        });
        t.line = line;
        t.state = stateOf(t, t.splitter.lineOffset, line);
        return records;
      }

      /** The unterminated last line of a file that will not grow any more. */
      function finishFile(t: Tracked): SourceRecord[] {
        const ev = t.splitter.finish();
        if (ev === undefined) return [];
        t.line++;
        const r = recordOf(t, ev, t.line, othersOf(t));
        t.state = stateOf(t, ev.end, t.line);
        return r === undefined ? [] : [r];
      }

      async function retire(t: Tracked): Promise<void> {
        tracked.delete(t);
        await t.reader.close();
      }

      const findTracked = (dev: number, ino: number): Tracked | undefined => {
        for (const t of tracked) if (t.dev === dev && t.ino === ino) return t;
        return undefined;
      };

      /** Opens candidates (live files, then generations) and pairs them with the files of a position. */
      async function restore(position: AuditFilesPosition | undefined): Promise<void> {
        const livePaths = await listLive();
        const states = position === undefined ? [] : positionFiles(position);
        // Generations are only ever read when a position says they are unfinished, or by a replay.
        const gens = config.readRotated && (replay || states.length > 0) ? await listGenerations(patterns, new Set(livePaths)) : [];
        const candidates: FileCandidate[] = [];
        const handles: FileHandle[] = [];
        for (const [path, live] of [...gens.map((p) => [p, false] as const), ...livePaths.map((p) => [p, true] as const)]) {
          const fh = await openQuietly(path);
          if (fh === undefined) continue;
          const s = await fh.stat();
          candidates.push({ path, dev: s.dev, ino: s.ino, gz: path.endsWith('.gz'), live });
          handles.push(fh);
        }
        const prefixes = new Map<string, Buffer>();
        const prefix = async (i: number, length: number): Promise<Buffer> => {
          const key = `${i}:${length}`;
          let p = prefixes.get(key);
          if (p === undefined) {
            p = candidates[i]!.gz ? await gzipPrefix(handles[i]!, length) : await plainPrefix(handles[i]!, length);
            prefixes.set(key, p);
          }
          return p;
        };
        const matched = await matchFiles(states, candidates, prefix);
        const found = new Set(matched.values());
        // A generation newer than one the position knows was written after it (the live file rotated again
        // while the forwarder was stopped): it is read whole.
        const oldestKnown = new Map<string, string>();
        for (const i of matched.keys()) {
          const g = candidates[i]!.live ? undefined : parseGeneration(candidates[i]!.path);
          if (g === undefined) continue;
          const known = oldestKnown.get(g.base);
          if (known === undefined || g.age < known) oldestKnown.set(g.base, g.age);
        }
        // A log whose files the position knew are all gone rotated (at least twice) while the forwarder was
        // stopped: its generations the position does not know were written after what was read, so they are
        // read whole. (Anything already read would have matched by identity: this adds history, never repeats.)
        const lostLogs = new Set(
          states.filter((st) => !found.has(st)).map((st) => parseGeneration(st.path)?.base ?? st.path),
        );
        for (const base of oldestKnown.keys()) lostLogs.delete(base);
        const newerThanKnown = (c: FileCandidate): boolean => {
          const g = c.live ? undefined : parseGeneration(c.path);
          if (g === undefined) return false;
          const oldest = oldestKnown.get(g.base);
          return oldest !== undefined ? g.age > oldest : lostLogs.has(g.base);
        };
        const resumed: Array<{ path: string; from: number; as: string }> = [];
        for (let i = 0; i < candidates.length; i++) {
          const c = candidates[i]!;
          const fh = handles[i]!;
          const s = matched.get(i);
          const service = decodeContextFor(c.path);
          if (s !== undefined) {
            let start: { offset: number; line: number; fp?: string; fpLength?: number } = s;
            if (!c.gz && (await fh.stat()).size < s.offset) {
              // Shorter than what was read, yet the same first bytes: truncated and rewritten alike.
              counters.truncations_total++;
              start = { offset: 0, line: 0 };
            }
            if (c.path !== s.path) counters.rotations_total++;
            if (!c.live) counters.rotated_generations_read_total++;
            resumed.push({ path: c.path, from: start.offset, as: s.path });
            await track(fh, c, start, service);
          } else if (c.live || replay || newerThanKnown(c)) {
            if (!c.live) counters.rotated_generations_read_total++;
            resumed.push({ path: c.path, from: 0, as: c.live ? 'new file' : 'generation written since' });
            await track(fh, c, { offset: 0, line: 0 }, service);
          } else {
            // An older generation the position does not know: it predates what was read (see README).
            await fh.close().catch(() => undefined);
          }
        }
        if (states.length > 0) logger.info({ files: resumed }, 'audit files resumed from the checkpoint');
        const lost = states.filter((s) => !found.has(s));
        if (lost.length > 0) {
          logger.info({ files: lost.map((s) => ({ path: s.path, offset: s.offset })) }, 'files of the checkpoint are no longer on disk; any part of them not yet read cannot be read');
        }
      }

      /**
       * The rotated copy of what `t` held as `old` (copytruncate), opened: an untracked generation of its log
       * starting with `old`'s fingerprinted bytes. A provisional file's first bytes (maybe none) match older
       * generations too: only one that appeared since it was first seen can be its copy.
       */
      async function findCopyOf(t: Tracked, old: FileState): Promise<FoundCopy | undefined> {
        const before = t.provisionalSince;
        if (!config.readRotated || (old.fpLength === 0 && before === undefined)) return undefined;
        for (const path of await listGenerations([t.path], new Set())) {
          const fh = await openQuietly(path);
          if (fh === undefined) continue;
          const s = await fh.stat();
          const gz = path.endsWith('.gz');
          const fresh = before === undefined || !before.has(`${s.dev}:${s.ino}`);
          if (fresh && findTracked(s.dev, s.ino) === undefined && (await sameContent(old, (n) => (gz ? gzipPrefix(fh, n) : plainPrefix(fh, n))))) {
            return { fh, candidate: { path, dev: s.dev, ino: s.ino, gz, live: false } };
          }
          await fh.close().catch(() => undefined);
        }
        return undefined;
      }

      /** A provisional file copied and truncated before its first line was complete here: restarted, and true. */
      async function restartIfCopied(t: Tracked): Promise<boolean> {
        if (t.provisionalSince === undefined) return false;
        const copy = await findCopyOf(t, t.state);
        if (copy !== undefined) await restartTruncated(t, copy);
        return copy !== undefined;
      }

      async function checkTruncation(t: Tracked): Promise<void> {
        if (await restartIfCopied(t)) return;
        const s = await t.fh.stat();
        const truncated = s.size < t.splitter.offset || !(await sameContent(t, (n) => plainPrefix(t.fh, n)));
        if (truncated) await restartTruncated(t);
        else await growFingerprint(t);
      }

      /**
       * Copytruncate noticed: the rest of what was read comes from the copy (`copy` when already found), then
       * the file restarts at 0.
       */
      async function restartTruncated(t: Tracked, copy?: FoundCopy): Promise<void> {
        counters.truncations_total++;
        const old = t.state;
        const found = copy ?? (await findCopyOf(t, old));
        if (found !== undefined) {
          counters.rotated_generations_read_total++;
          await track(found.fh, found.candidate, old, t.context);
        } else {
          logger.warn({ path: t.path, offset: old.offset }, 'audit file truncated in place and no rotated copy of it found: lines written after the last one read may be lost');
        }
        // The same file with new content: read again from its start, on the same descriptor.
        openReaders.delete(t.reader);
        t.reader = plainReader(t.fh, 0, buf);
        t.splitter = new LineSplitter(config.maxLineBytes, 0);
        t.line = 0;
        const prefix = await plainPrefix(t.fh, config.fingerprintBytes);
        t.fp = fingerprint(prefix);
        t.fpLength = prefix.length;
        t.state = stateOf(t, 0, 0);
        t.eof = false;
        await settleIdentity(t, prefix);
      }

      async function updateWatchers(): Promise<void> {
        const dirs = new Set(patterns.map(patternDir));
        for (const t of tracked) if (t.live) dirs.add(dirname(t.path));
        for (const dir of dirs) {
          const s = await stat(dir).catch(() => undefined);
          const w = watchers.get(dir);
          if (w !== undefined && (s === undefined || s.ino !== w.ino)) {
            // The directory was removed or replaced: its watch sees nothing any more.
            w.watcher.close();
            openWatchers.delete(w.watcher);
            watchers.delete(dir);
          }
          if (s === undefined || !s.isDirectory() || watchers.has(dir)) continue;
          try {
            const watcher = watch(dir, { persistent: false }, (event) => notify(event === 'rename'));
            watcher.on('error', () => {
              watcher.close();
              openWatchers.delete(watcher);
              watchers.delete(dir);
            });
            watchers.set(dir, { watcher, ino: s.ino });
            openWatchers.add(watcher);
          } catch {
            // No watch (limits, unsupported file system): polling alone is correct, only slower.
          }
        }
      }

      /** Names a file renamed away by the generation it became, for locators (identity does not depend on it). */
      async function findNewName(t: Tracked): Promise<void> {
        for (const path of await listGenerations([t.path], new Set())) {
          const s = await stat(path).catch(() => undefined);
          if (s !== undefined && s.dev === t.dev && s.ino === t.ino) {
            t.path = path;
            t.state = { ...t.state, path };
            return;
          }
        }
      }

      /** Finds new, renamed, deleted and truncated files. */
      async function scan(): Promise<void> {
        const seen = new Set<Tracked>();
        for (const path of await listLive()) {
          const s = await stat(path).catch(() => undefined);
          if (s === undefined) continue;
          let t = findTracked(s.dev, s.ino);
          if (t === undefined) {
            const fh = await openQuietly(path);
            if (fh === undefined) continue;
            const fs = await fh.stat();
            t = findTracked(fs.dev, fs.ino);
            if (t !== undefined) await fh.close();
            else t = await track(fh, { path, dev: fs.dev, ino: fs.ino, gz: false, live: true }, { offset: 0, line: 0 }, decodeContextFor(path));
          }
          t.path = path;
          t.live = true;
          seen.add(t);
        }
        for (const t of tracked) {
          if (t.live && !seen.has(t)) {
            // Renamed away or deleted: the open descriptor is read to its end before the file is left.
            t.live = false;
            t.idleSince = undefined;
            counters.rotations_total++;
            await findNewName(t);
          }
        }
        for (const t of [...tracked]) if (t.live && !t.gz) await checkTruncation(t);
        await updateWatchers();
      }

      try {
        await restore(from);
        if (replay) {
          const files = [...tracked];
          replayFiles = files;
          for (const t of files) {
            while (!signal.aborted) {
              const records = await readChunk(t);
              if (records === undefined) break;
              if (records.length > 0) yield records;
            }
            if (signal.aborted) return;
            t.eof = true;
            // A generation's last line without a newline is complete; the live file's may still be written.
            if (!t.live) {
              const last = finishFile(t);
              if (last.length > 0) yield last;
            }
            await t.reader.close();
          }
          return;
        }

        await scan();
        let lastScan = Date.now();
        const grace = 2 * config.pollInterval;
        while (!signal.aborted) {
          if (scanSoon || Date.now() - lastScan >= config.pollInterval) {
            scanSoon = false;
            await scan();
            lastScan = Date.now();
            for (const t of tracked) t.eof = false;
          }
          if (changed) {
            // A change notification: files at their end may have grown.
            changed = false;
            for (const t of tracked) t.eof = false;
          }
          let progressed = false;
          for (const t of [...tracked]) {
            if (t.eof || !tracked.has(t)) continue;
            if (signal.aborted) return;
            const records = await readChunk(t);
            if (records === undefined) {
              t.eof = true;
              if (!t.live) t.idleSince ??= Date.now();
              continue;
            }
            progressed = true;
            if (records.length > 0) yield records;
          }
          // A file that left the patterns and stayed at its end is finished (a writer may still append to
          // a renamed file until it reopens, hence the grace period).
          for (const t of [...tracked]) {
            if (t.live || !t.eof || t.idleSince === undefined) continue;
            if (!t.reader.final && Date.now() - t.idleSince < grace) continue;
            const last = finishFile(t);
            await retire(t);
            if (last.length > 0) yield last;
          }
          if (!progressed && !signal.aborted) {
            if (!changed) {
              const woken = new AbortController();
              wake = () => woken.abort();
              const wait = Math.max(1, lastScan + config.pollInterval - Date.now());
              await sleepUnlessAborted(wait, AbortSignal.any([signal, woken.signal]));
              wake = undefined;
            }
            changed = false;
            for (const t of tracked) t.eof = false;
          }
        }
      } finally {
        for (const { watcher } of watchers.values()) {
          watcher.close();
          openWatchers.delete(watcher);
        }
        for (const t of tracked) await t.reader.close();
        tracked.clear();
      }
    },

    async close(): Promise<void> {
      for (const w of openWatchers) w.close();
      openWatchers.clear();
      for (const r of [...openReaders]) await r.close();
    },
  };
}

function inRange(time: string, range: TimeRange): boolean {
  return time >= range.from && time < range.to;
}
