// Child process of the file sink's torn-write test: sends batches of the given sizes and prints each outcome.
// Usage: node test/support/file-sink-writer.ts <path> <bytes per batch>... — run under a file size limit
// (RLIMIT_FSIZE) so that a batch is cut short by the kernel. Prints one JSON outcome per line.
import { silentLogger } from '../../src/logging.ts';
import { createFileSink } from '../../connectors/file/sink.ts';
import { sinkRecord } from './sink-records.ts';

const [path, ...sizes] = process.argv.slice(2);
if (path === undefined || sizes.length === 0) throw new TypeError('usage: file-sink-writer.ts <path> <bytes per batch>...');

const sink = createFileSink('torn', { type: 'file', path, mapping: 'canonical', fsync: true }, { logger: silentLogger(), baseDir: '/' });
for (const [b, size] of sizes.entries()) {
  // One record of `size` bytes with its newline: the letter tells the batches apart in the file.
  const payload = String.fromCharCode(97 + b).repeat(Number(size) - 1);
  const outcome = await sink.send({ records: [sinkRecord(`b${b}`, payload)], bytes: payload.length }, new AbortController().signal);
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
}
await sink.close();
