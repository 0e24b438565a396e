// `audit-forwarder map`: JSON lines on stdin → mapped records on stdout, bad lines reported on stderr.
import { nowCanonical } from '../model/now.ts';
import { toJsonLine } from '../model/json.ts';
import type { Command } from 'commander';
import { mappingNames, mappings } from '../../mappings/index.ts';
import { ForwarderError } from '../contracts/errors.ts';
import { decodeLineBytes, type InputFormat } from '../model/decode.ts';
import { DEFAULT_MAX_LINE_BYTES, isBlankLine, LineSplitter, type LineEvent } from '../util/lines.ts';
import { EXIT } from './exit-codes.ts';

/**
 * Maps JSON lines from `input` to `output`, reporting bad lines on `errors` as `line N: …`. Lines are read
 * exactly as the daemon's file sources read them: bytes split at `\n` only (a CRLF's CR dropped; a lone CR,
 * U+2028 and U+2029 are not line ends), at most the sources' default `maxLineBytes`, bytes that are not
 * UTF-8 refused, each decoded by `decodeLineBytes`. Every line counts in N, blank ones included, and a
 * last line without a newline is a line.
 */
export async function mapStream(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: { to: string; input: InputFormat },
): Promise<{ lines: number; bad: number }> {
  const mapping = mappings.get(options.to)!;
  let lineNo = 0;
  let bad = 0;
  const report = (path: string, reason: string) => {
    bad++;
    errors.write(`line ${lineNo}: ${path === '' ? '' : `${path}: `}${reason}\n`);
  };
  // The reader went away (`map … | head`): stop reading at once, even while waiting for input that may never
  // come (`tail -f … | map … | head`); a closed pipe is not a crash. Other errors are thrown.
  let outputError: NodeJS.ErrnoException | undefined;
  let outputFailed!: () => void;
  const stopped = new Promise<'stopped'>((resolve) => (outputFailed = () => resolve('stopped')));
  const onOutputError = (e: NodeJS.ErrnoException) => {
    outputError ??= e;
    outputFailed();
  };
  output.on('error', onOutputError);

  async function mapLine(ev: LineEvent): Promise<void> {
    lineNo++;
    if (ev.kind === 'too-long') {
      report('', `line of ${ev.end - ev.start} bytes is longer than maxLineBytes (${DEFAULT_MAX_LINE_BYTES})`);
      return;
    }
    if (isBlankLine(ev.body)) return;
    const decoded = decodeLineBytes(ev.body, options.input);
    if (!decoded.ok) {
      report(decoded.error.path, decoded.error.reason);
      return;
    }
    const mapped = mapping.map(decoded.event, { observedTime: nowCanonical() });
    if (mapped.kind === 'invalid') {
      report(mapped.path, mapped.reason);
    } else if (mapped.kind === 'skipped') {
      errors.write(`line ${lineNo}: skipped: ${mapped.reason}\n`);
    } else {
      const text = mapping.encoding === 'json' ? toJsonLine(mapped.value) : String(mapped.value);
      if (!output.write(`${text}\n`)) {
        await new Promise<void>((r) => {
          const done = () => {
            output.off('drain', done);
            output.off('error', done);
            r();
          };
          output.once('drain', done);
          output.once('error', done);
        });
      }
    }
  }

  const splitter = new LineSplitter(DEFAULT_MAX_LINE_BYTES);
  const ready: LineEvent[] = [];
  const chunks = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const pending = chunks.next();
      const next = await Promise.race([pending, stopped]);
      if (next === 'stopped') {
        // Stopping ends the input early; the read still pending then fails, which is expected.
        pending.catch(() => undefined);
        break;
      }
      if (next.done === true) break;
      const chunk = next.value;
      // A body may be a view of this chunk: every line of it is mapped before the next chunk is pushed.
      splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, (ev) => ready.push(ev));
      for (const ev of ready.splice(0)) {
        if (outputError !== undefined) break;
        await mapLine(ev);
      }
      if (outputError !== undefined) break;
    }
    const last = outputError === undefined ? splitter.finish() : undefined;
    if (last !== undefined) await mapLine(last);
  } finally {
    output.off('error', onOutputError);
    if (outputError !== undefined) await chunks.return?.().catch(() => undefined);
  }
  if (outputError !== undefined && outputError.code !== 'EPIPE') throw outputError;
  return { lines: lineNo, bad };
}

export function registerMap(program: Command): void {
  program
    .command('map')
    .description('map JSON lines (Connect events or CADF records) from stdin to a SIEM format on stdout')
    .requiredOption('--to <format>', `output format: ${mappingNames.join(', ')}`)
    .option('--input <kind>', 'input records: connect, cadf or auto', 'auto')
    .addHelpText(
      'after',
      `
Bad lines are reported on stderr as "line N: <field>: <reason>"; the others are still mapped.
Exit code 2 if any line was bad.

Example:
  $ audit-forwarder map --to canonical --input connect < events.jsonl > mapped.jsonl`,
    )
    .action(async (opts: { to: string; input: string }) => {
      if (!mappings.has(opts.to)) {
        throw new ForwarderError('FWD_CLI_USAGE', `--to ${opts.to}: expected one of ${mappingNames.join(', ')}`, { stage: 'cli', disposition: 'fatal' });
      }
      if (!['connect', 'cadf', 'auto'].includes(opts.input)) {
        throw new ForwarderError('FWD_CLI_USAGE', `--input ${opts.input}: expected connect, cadf or auto`, { stage: 'cli', disposition: 'fatal' });
      }
      const { bad } = await mapStream(process.stdin, process.stdout, process.stderr, { to: opts.to, input: opts.input as InputFormat });
      process.exitCode = bad > 0 ? EXIT.usage : EXIT.ok;
    });
}
