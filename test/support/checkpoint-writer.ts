// Child process of the checkpoint crash test: saves checkpoints with increasing counters until it is killed.
// Usage: node test/support/checkpoint-writer.ts <directory> <key>. Prints `start <n>` after loading, then
// `saved <n>` after each save has resolved.
import { createFileCheckpointStore, fingerprintOf } from '../../src/checkpoint/file-store.ts';

const CRASH_TEST_FINGERPRINT = fingerprintOf({ test: 'checkpoint-crash' });

const [directory, key] = process.argv.slice(2);
if (directory === undefined || key === undefined) throw new TypeError('usage: checkpoint-writer.ts <directory> <key>');

const store = createFileCheckpointStore(directory);
const loaded = await store.load(key, CRASH_TEST_FINGERPRINT);
let counter = loaded?.sinks['main']?.records ?? 0;
process.stdout.write(`start ${counter}\n`);

for (;;) {
  counter++;
  await store.save({
    version: 1,
    key,
    fingerprint: CRASH_TEST_FINGERPRINT,
    sinks: {
      main: { position: { counter }, records: counter, savedAt: new Date().toISOString() },
      other: { position: { counter: counter * 2 }, records: counter * 2, savedAt: new Date().toISOString() },
    },
    // A size that changes from save to save, up to tens of kilobytes, so that a kill can land mid-write.
    meta: { padding: 'x'.repeat((counter * 7919) % 40_000) },
  });
  // Pipes are synchronous on Linux: once written, the parent sees the line even if we are killed next.
  process.stdout.write(`saved ${counter}\n`);
}
