// The `jsonl` source: reads JSON-lines files of Connect events or CADF records, resuming at a byte offset.
import { fstatSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { sourceCheckResult, type Position, type Source, type SourceCheckResult, type SourceProgress, type SourceReadOptions, type SourceRecord } from '../../src/contracts/source.ts';
import { decodeLine, decodeLineBytesText, type DecodeContext } from '../../src/model/decode.ts';
import type { JsonValue } from '../../src/model/json.ts';
import type { JsonlSourceConfig } from './config.ts';
import { sleepUnlessAborted } from '../../src/util/sleep.ts';
import { checkFilePatterns, matchFiles as matchPatterns, warnUnmatchedOnce } from '../../src/util/match-files.ts';
import { isBlankLine, LineSplitter, type LineEvent } from '../../src/util/lines.ts';

/** Position after a line: the file, the byte offset just after the line's newline, and its line number. */
export type JsonlPosition = {
  readonly file: string;
  readonly offset: number;
  readonly line: number;
};

const READ_SIZE = 1 << 20;

function isJsonlPosition(p: unknown): p is JsonlPosition {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return typeof o.file === 'string' && Number.isSafeInteger(o.offset) && (o.offset as number) >= 0 && Number.isSafeInteger(o.line) && (o.line as number) >= 0;
}


export function createJsonlSource(name: string, config: JsonlSourceConfig, context: ConnectorContext): Source {
  const patterns = config.paths.map((p) => (isAbsolute(p) ? p : resolve(context.baseDir, p)));
  let progress: { done: number; total: number } | undefined;
  const handles = new Set<FileHandle>();
  /** The file being read, for `unread`. */
  let current: { readonly file: string; readonly fh: FileHandle; readonly splitter: LineSplitter } | undefined;

  async function listFiles(): Promise<string[]> {
    return matchPatterns(patterns);
  }


  const decodeContext: DecodeContext = { maxDepth: config.maxNestingDepth, ...(config.service !== undefined && { service: config.service }) };
  const decodeText = (text: string) => decodeLine(text, config.format, decodeContext);

  /** One line as a record; undefined for a blank line (counted in line numbers, never a record). */
  function recordOf(ev: LineEvent, file: string, lineNo: number): SourceRecord | undefined {
    const position: JsonlPosition = { file, offset: ev.end, line: lineNo };
    const locator = `${file}:${lineNo}`;
    if (ev.kind === 'too-long') {
      const bytes = ev.end - ev.start;
      const reason = `line of ${bytes} bytes at byte offset ${ev.start} is longer than maxLineBytes (${config.maxLineBytes})`;
      return { position, locator, bytes, decoded: { ok: false, error: { path: '', reason } } };
    }
    if (isBlankLine(ev.body)) return undefined;
    const { decoded, text } = decodeLineBytesText(ev.body, config.format, decodeContext);
    // The text is handed on with a decoded record too: the engine keeps it, not the event, while it is in flight.
    if (decoded.ok) return { position, locator, bytes: ev.body.length, decoded, ...(text !== undefined ? { rawText: text } : {}) };
    const error = { ...decoded.error, reason: `${decoded.error.reason} (byte offset ${ev.start})` };
    return { position, locator, bytes: ev.body.length, decoded: { ok: false, error }, rawText: text ?? ev.body.toString('utf8') };
  }

  async function* readFile(
    file: string,
    startOffset: number,
    startLine: number,
    isLast: () => Promise<boolean>,
    signal: AbortSignal,
  ): AsyncGenerator<SourceRecord[]> {
    const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw new ForwarderError('FWD_SOURCE_IO', `source ${name}: cannot open ${file}: ${e.message}`, { stage: 'source', disposition: 'retryable', cause: e });
    });
    if (fh === undefined) return;
    handles.add(fh);
    try {
      const size = (await fh.stat()).size;
      if (size < startOffset) {
        throw new ForwarderError(
          'FWD_SOURCE_POSITION_INVALID',
          `source ${name}: ${file} has ${size} bytes but the checkpoint says ${startOffset} were already read; the file was replaced or truncated. ` +
            'Reset the route checkpoint to read it again from the start.',
          { stage: 'source', disposition: 'permanent' },
        );
      }
      const buf = Buffer.allocUnsafe(READ_SIZE);
      const splitter = new LineSplitter(config.maxLineBytes, startOffset);
      current = { file, fh, splitter };
      let lineNo = startLine;
      let draining = false;
      while (!signal.aborted) {
        const { bytesRead } = await fh.read(buf, 0, READ_SIZE, splitter.offset);
        if (bytesRead === 0) {
          if (config.follow && !draining) {
            // An unfinished last line stays in the splitter until its newline is written.
            if (await isLast()) {
              await sleepUnlessAborted(config.pollInterval, signal);
              continue;
            }
            // A later file appeared after the read above: what was written here before it is read first.
            draining = true;
            continue;
          }
          // A final line without a newline is a whole record once the file is finished.
          const last = splitter.finish();
          if (last !== undefined) {
            const r = recordOf(last, file, ++lineNo);
            if (r !== undefined) yield [r];
          }
          return;
        }
        const records: SourceRecord[] = [];
        // Bodies may be views of `buf`: each becomes a record (decoded, copied) before the next read.
        splitter.push(buf.subarray(0, bytesRead), (ev) => {
          const r = recordOf(ev, file, ++lineNo);
          if (r !== undefined) records.push(r);
        });
        if (progress !== undefined) progress.done += bytesRead;
        if (records.length > 0) yield records;
      }
    } finally {
      if (current?.fh === fh) current = undefined;
      handles.delete(fh);
      await fh.close().catch(() => undefined);
    }
  }

  return {
    type: 'jsonl',
    identity: (): JsonValue => ({ type: 'jsonl', paths: patterns, format: config.format }),
    decodeRaw: decodeText,
    unread() {
      const c = current;
      if (c === undefined) return [];
      try {
        return [{ file: c.file, bytes: Math.max(0, fstatSync(c.fh.fd).size - c.splitter.offset) }];
      } catch {
        return []; // closed between the read and this call
      }
    },
    check: async (): Promise<SourceCheckResult> => sourceCheckResult(await checkFilePatterns(patterns, { live: config.follow })),

    async *read(from: Position | undefined, options: SourceReadOptions): AsyncGenerator<readonly SourceRecord[]> {
      if (from !== undefined && !isJsonlPosition(from)) {
        throw new ForwarderError('FWD_SOURCE_POSITION_INVALID', `source ${name}: checkpoint position ${JSON.stringify(from)} is not a jsonl position`, {
          stage: 'source',
          disposition: 'permanent',
        });
      }
      const { signal } = options;
      await warnUnmatchedOnce(config, patterns, { live: config.follow }, context.logger, name);
      let files = await listFiles();
      const sizes = await Promise.all(files.map((f) => stat(f).then((s) => s.size, () => 0)));
      progress = { done: 0, total: sizes.reduce((a, b) => a + b, 0) };
      if (from !== undefined) {
        files.forEach((f, i) => {
          if (f < from.file) progress!.done += sizes[i]!;
        });
        if (!files.includes(from.file)) {
          context.logger.warn({ source: name, file: from.file }, 'the file of the checkpoint position is gone; continuing with the files after it');
        }
      }
      // Files are read in path order; every file up to `after` is finished.
      let after: string | undefined;
      let resume: JsonlPosition | undefined = from;
      while (!signal.aborted) {
        let file: string | undefined;
        let offset = 0;
        let line = 0;
        if (resume !== undefined && files.includes(resume.file)) {
          ({ file, offset, line } = resume);
        } else {
          const bound = resume?.file ?? after;
          file = bound === undefined ? files[0] : files.find((f) => f > bound);
          if (resume !== undefined) after = resume.file;
        }
        resume = undefined;
        if (file === undefined) {
          if (!config.follow) return;
          await sleepUnlessAborted(config.pollInterval, signal);
          files = await listFiles();
          continue;
        }
        progress.done += offset;
        const reading = file;
        yield* readFile(reading, offset, line, async () => {
          files = await listFiles();
          return files.every((f) => f <= reading);
        }, signal);
        after = reading;
      }
    },

    progress: (): SourceProgress | undefined => (progress === undefined ? undefined : { done: progress.done, total: progress.total, unit: 'bytes' }),

    async close(): Promise<void> {
      for (const fh of handles) await fh.close().catch(() => undefined);
      handles.clear();
    },
  };
}
