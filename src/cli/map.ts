// `audit-forwarder map`: JSON lines on stdin → mapped records on stdout, bad lines reported on stderr.
import { nowCanonical } from '../model/now.ts';
import { toJsonLine } from '../model/json.ts';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { mappingNames, mappings } from '../../mappings/index.ts';
import { ForwarderError } from '../contracts/errors.ts';
import { decodeLine, type InputFormat } from '../model/decode.ts';
import { EXIT } from './exit-codes.ts';

export async function mapStream(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: { to: string; input: InputFormat },
): Promise<{ lines: number; bad: number }> {
  const mapping = mappings.get(options.to)!;
  let lineNo = 0;
  let bad = 0;
  const lines = createInterface({ input, crlfDelay: Infinity });
  // The reader went away (`map … | head`): stop reading; a closed pipe is not a crash. Other errors are thrown.
  let outputError: NodeJS.ErrnoException | undefined;
  const onOutputError = (e: NodeJS.ErrnoException) => {
    outputError ??= e;
    lines.close();
  };
  output.on('error', onOutputError);
  for await (const line of lines) {
    if (outputError !== undefined) break;
    lineNo++;
    if (line.trim() === '') continue;
    const decoded = decodeLine(line, options.input);
    if (!decoded.ok) {
      bad++;
      errors.write(`line ${lineNo}: ${decoded.error.path === '' ? '' : `${decoded.error.path}: `}${decoded.error.reason}\n`);
      continue;
    }
    const mapped = mapping.map(decoded.event, { observedTime: nowCanonical() });
    if (mapped.kind === 'invalid') {
      bad++;
      errors.write(`line ${lineNo}: ${mapped.path === '' ? '' : `${mapped.path}: `}${mapped.reason}\n`);
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
  output.off('error', onOutputError);
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
