// The fake Splunk HEC of the tests, in a process of its own for the HEC benchmark: prints its URL, answers `count` on stdin.
import { createInterface } from 'node:readline';
import { startFakeHec } from '../test/support/fake-hec.ts';

const fake = await startFakeHec({ store: 'ids', tokens: { 'bench-ack': { ack: true }, 'bench-no-ack': {} } });
process.stdout.write(`${fake.url}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'count') process.stdout.write(`${fake.indexedCount()}\n`);
}
await fake.close();
