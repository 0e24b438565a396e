// The `audit-files` source: tails IBM CADF audit files through rotation, truncation and restarts (the live and replay loops).
//
// The parts, cut as Fluent Bit cuts in_tail: tracker.ts (the files followed and their state, tail_file),
// discovery.ts (patterns, generations, watches and the scan, tail_scan / tail_fs), rotation.ts (fingerprints,
// provisional files, copytruncate), resume.ts (a checkpoint's files on disk, tail_db), readers.ts (plain and
// gzip bytes), records.ts (line → record).
import { fstatSync, type FSWatcher } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { sourceCheckResult, type Position, type Source, type SourceCheckResult, type SourceProgress, type SourceReadOptions, type SourceRecord } from '../../src/contracts/source.ts';
import { decodeLine, type DecodeContext } from '../../src/model/decode.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { checkFilePatterns, warnUnmatchedOnce } from '../../src/util/match-files.ts';
import { sleepUnlessAborted } from '../../src/util/sleep.ts';
import type { AuditFilesSourceConfig } from './config.ts';
import { DirectoryWatches, Discovery, scan } from './discovery.ts';
import { isAuditFilesPosition } from './identity.ts';
import type { Reader } from './readers.ts';
import { decodeContexts } from './records.ts';
import { restore } from './resume.ts';
import { FileTracker, type AuditFilesStats, type TrackedFile } from './tracker.ts';

export type { AuditFilesPosition, FileState } from './identity.ts';
export type { AuditFilesStats } from './tracker.ts';

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
  const discovery = new Discovery(patterns, logger);
  const contexts = decodeContexts(config);
  /** The files the current read follows, for `unread`. */
  let following: ReadonlySet<TrackedFile> | undefined;
  const counters: AuditFilesStats = {
    files_opened_total: 0,
    rotations_total: 0,
    truncations_total: 0,
    rotated_generations_read_total: 0,
    lines_too_long_total: 0,
  };
  /** Everything open by any read, for `close()`. */
  const openReaders = new Set<Reader>();
  const openWatchers = new Set<FSWatcher>();
  let replayFiles: TrackedFile[] | undefined;

  return {
    type: 'audit-files',
    identity: (): JsonValue => ({ type: 'audit-files', paths: patterns }),
    decodeRaw: (text: string, context?: DecodeContext) => decodeLine(text, 'cadf', context ?? contexts.configured),
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
      const tracker = new FileTracker({ name, config, range, counters, logger, discovery, contexts, readers: openReaders });
      const tracked = tracker.files;
      following = tracked;
      let scanSoon = false;
      let changed = false;
      let wake: (() => void) | undefined;
      const watches = new DirectoryWatches((rescan) => {
        if (rescan) scanSoon = true;
        changed = true;
        wake?.();
      }, openWatchers);

      try {
        await restore(tracker, from);
        if (replay) {
          const files = [...tracked];
          replayFiles = files;
          for (const t of files) {
            while (!signal.aborted) {
              const records = await tracker.readChunk(t);
              if (records === undefined) break;
              if (records.length > 0) yield records;
            }
            if (signal.aborted) return;
            t.eof = true;
            // A generation's last line without a newline is complete; the live file's may still be written.
            if (!t.live) {
              const last = tracker.finish(t);
              if (last.length > 0) yield last;
            }
            await t.reader.close();
          }
          return;
        }

        await scan(tracker, watches);
        let lastScan = Date.now();
        const grace = 2 * config.pollInterval;
        while (!signal.aborted) {
          if (scanSoon || Date.now() - lastScan >= config.pollInterval) {
            scanSoon = false;
            await scan(tracker, watches);
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
            const records = await tracker.readChunk(t);
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
            const last = tracker.finish(t);
            await tracker.retire(t);
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
        watches.close();
        await tracker.closeAll();
      }
    },

    async close(): Promise<void> {
      for (const w of openWatchers) w.close();
      openWatchers.clear();
      for (const r of [...openReaders]) await r.close();
    },
  };
}
