// The `jsonl` source: reads JSON-lines files of Connect events or CADF records, resuming at a byte offset.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { isAbsolute, resolve } from 'node:path';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { Position, Source, SourceProgress, SourceReadOptions, SourceRecord } from '../../src/contracts/source.ts';
import { decodeLine } from '../../src/model/decode.ts';
import type { JsonValue } from '../../src/model/json.ts';
import type { JsonlSourceConfig } from './config.ts';
import { sleepUnlessAborted } from '../../src/util/sleep.ts';
import { matchFiles as matchPatterns } from '../../src/util/match-files.ts';

/** Position after a line: the file, the byte offset just after the line's newline, and its line number. */
export type JsonlPosition = {
  readonly file: string;
  readonly offset: number;
  readonly line: number;
};

const READ_SIZE = 1 << 20;
const EMPTY = Buffer.alloc(0);

function isJsonlPosition(p: unknown): p is JsonlPosition {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return typeof o.file === 'string' && Number.isSafeInteger(o.offset) && (o.offset as number) >= 0 && Number.isSafeInteger(o.line) && (o.line as number) >= 0;
}


export function createJsonlSource(name: string, config: JsonlSourceConfig, context: ConnectorContext): Source {
  const patterns = config.paths.map((p) => (isAbsolute(p) ? p : resolve(context.baseDir, p)));
  let progress: { done: number; total: number } | undefined;
  const handles = new Set<FileHandle>();

  async function listFiles(): Promise<string[]> {
    return matchPatterns(patterns);
  }


  const decodeContext = config.service === undefined ? undefined : { service: config.service };
  const decodeText = (text: string) => decodeLine(text, config.format, decodeContext);

  function decodeRecord(line: Buffer, file: string, lineNo: number, lineStart: number, position: JsonlPosition): SourceRecord {
    const locator = `${file}:${lineNo}`;
    if (!isUtf8(line)) {
      return {
        position,
        locator,
        bytes: line.length,
        rawText: line.toString('utf8'),
        decoded: { ok: false, error: { path: '', reason: `line is not valid UTF-8 (byte offset ${lineStart})` } },
      };
    }
    const text = line.toString('utf8');
    const decoded = decodeText(text);
    return decoded.ok ? { position, locator, bytes: line.length, decoded } : { position, locator, bytes: line.length, decoded, rawText: text };
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
      let pos = startOffset;
      let lineNo = startLine;
      let pending: Buffer = EMPTY;
      let pendingStart = startOffset;
      let tooLongStart: number | undefined;
      let draining = false;
      while (!signal.aborted) {
        const { bytesRead } = await fh.read(buf, 0, READ_SIZE, pos);
        if (bytesRead === 0) {
          if (config.follow && !draining) {
            if (await isLast()) {
              await sleepUnlessAborted(config.pollInterval, signal);
              continue;
            }
            // A later file appeared after the read above: what was written here before it is read first.
            draining = true;
            continue;
          }
          // A final line without a newline is a whole record once the file is finished.
          if (pending.length > 0 && tooLongStart === undefined) {
            lineNo++;
            const position = { file, offset: pos, line: lineNo };
            const body = pending.at(-1) === 13 ? pending.subarray(0, -1) : pending;
            if (body.length > 0) yield [decodeRecord(body, file, lineNo, pendingStart, position)];
          } else if (tooLongStart !== undefined) {
            lineNo++;
            yield [tooLong(file, lineNo, tooLongStart, pos)];
          }
          return;
        }
        const chunk = buf.subarray(0, bytesRead);
        const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
        const dataStart = pending.length > 0 ? pendingStart : pos;
        pos += bytesRead;
        const records: SourceRecord[] = [];
        let i = 0;
        for (let nl = data.indexOf(10, i); nl !== -1; nl = data.indexOf(10, i)) {
          lineNo++;
          const position: JsonlPosition = { file, offset: dataStart + nl + 1, line: lineNo };
          if (tooLongStart !== undefined) {
            records.push(tooLong(file, lineNo, tooLongStart, position.offset, position));
            tooLongStart = undefined;
          } else {
            const end = nl > i && data[nl - 1] === 13 ? nl - 1 : nl;
            if (end - i > config.maxLineBytes) records.push(tooLong(file, lineNo, dataStart + i, position.offset, position));
            else if (end > i) records.push(decodeRecord(data.subarray(i, end), file, lineNo, dataStart + i, position));
          }
          i = nl + 1;
        }
        const rest = data.subarray(i);
        if (tooLongStart !== undefined) pending = EMPTY;
        else if (rest.length > config.maxLineBytes) {
          tooLongStart = dataStart + i;
          pending = EMPTY;
        } else {
          pending = Buffer.from(rest);
          pendingStart = dataStart + i;
        }
        if (progress !== undefined) progress.done += bytesRead;
        if (records.length > 0) yield records;
      }
    } finally {
      handles.delete(fh);
      await fh.close().catch(() => undefined);
    }
  }

  function tooLong(file: string, lineNo: number, start: number, end: number, position?: JsonlPosition): SourceRecord {
    return {
      position: position ?? { file, offset: end, line: lineNo },
      locator: `${file}:${lineNo}`,
      bytes: end - start,
      decoded: {
        ok: false,
        error: { path: '', reason: `line of ${end - start} bytes at byte offset ${start} is longer than maxLineBytes (${config.maxLineBytes})` },
      },
    };
  }

  return {
    type: 'jsonl',
    identity: (): JsonValue => ({ type: 'jsonl', paths: patterns, format: config.format }),
    decodeRaw: decodeText,

    async *read(from: Position | undefined, options: SourceReadOptions): AsyncGenerator<readonly SourceRecord[]> {
      if (from !== undefined && !isJsonlPosition(from)) {
        throw new ForwarderError('FWD_SOURCE_POSITION_INVALID', `source ${name}: checkpoint position ${JSON.stringify(from)} is not a jsonl position`, {
          stage: 'source',
          disposition: 'permanent',
        });
      }
      const { signal } = options;
      let files = await listFiles();
      if (files.length === 0 && !config.follow) context.logger.warn({ source: name, paths: patterns }, 'no file matches the source paths');
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
