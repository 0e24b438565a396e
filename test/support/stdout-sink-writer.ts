// Child process of the stdout sink's EPIPE test: once told on stdin, sends a batch to its real standard
// output and prints the outcome on stderr. Usage: node test/support/stdout-sink-writer.ts
import { createStdoutSink } from '../../connectors/stdout/sink.ts';
import { sinkRecord } from './sink-records.ts';

const sink = createStdoutSink('stdout', { type: 'stdout', mapping: 'canonical' });
process.stdin.once('data', async () => {
  process.stdin.destroy();
  const payload = JSON.stringify({ id: 'e1' });
  for (let i = 0; i < 2; i++) {
    const outcome = await sink.send({ records: [sinkRecord('e1', payload)], bytes: payload.length }, new AbortController().signal);
    process.stderr.write(`${JSON.stringify(outcome)}\n`);
  }
  process.stderr.write(`${JSON.stringify(await sink.check())}\n`);
  await sink.close();
});
